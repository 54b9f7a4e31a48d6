"""Kiali's validation of the Istio configuration of a namespace: each object, its checks, their KIA codes.

Formats read from Kiali's source (kiali/kiali):
- ``GET <web_root>/api/namespaces/{namespace}/istio?validate=true`` (routing/routes.go "IstioConfigList",
  served by v1.63, v1.76 and every 2.x release) answers the namespace's Istio configuration with a
  ``validations`` map (handlers/istio_config.go ``IstioConfigList``). ``validate=true`` rather than a
  bare ``validate``: v1.x only looks for the key, later 2.x releases parse it as a boolean.
  ``/api/namespaces/{ns}/validations`` and ``/api/istio/validations`` only count errors and warnings
  (models ``IstioValidationSummary``: ``{errors, objectCount, warnings}``), so they cannot say which
  object and which check.
- 1.x (models/istio_validation.go at v1.63.0 and v1.76.0, ``IstioValidations.MarshalJSON``):
  ``{"<objectType>": {"<name>.<namespace>": {"name", "objectType", "valid", "checks": [{"code",
  "message", "severity", "path"}], "references"}}}`` with objectType singular and lower case
  ("virtualservice", "destinationrule", "authorizationpolicy", "k8shttproute"...).
- 2.x (same file at v2.4.0 and v2.17.0): keyed by the object's GroupVersionKind as Go prints it
  (``"networking.istio.io/v1, Kind=VirtualService"``, the bare kind for workloads, apps and services),
  each entry ``{"name", "namespace", "cluster", "objectGVK": {"Group", "Version", "Kind"}, "valid",
  "checks", "references"}``; the list itself moved under ``resources`` (models/istio_config.go
  ``IstioConfigList.MarshalJSON``). Before v2.30 a namespace's list carries every namespace's
  validations (handlers/istio_config.go: ``GetValidations`` for the cluster), so entries are filtered
  by namespace here.
- severity is "error", "warning" or "unknown"; a check's full message is its code and message
  (``IstioCheck.GetFullMessage``), documented at https://kiali.io/docs/features/validations/.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from meshcheck.endpoints import Endpoint, describe_shape
from meshcheck.errors import AddonError

ISTIO_CONFIG_PATH = "/api/namespaces/{namespace}/istio"
DOCS = "https://kiali.io/docs/features/validations/"

# Kiali 1.x's singular object types (models/istio_validation.go ObjectTypeSingular), as the API names the kinds.
OBJECT_TYPES = {
    "gateway": "Gateway", "virtualservice": "VirtualService", "destinationrule": "DestinationRule",
    "serviceentry": "ServiceEntry", "sidecar": "Sidecar", "authorizationpolicy": "AuthorizationPolicy",
    "peerauthentication": "PeerAuthentication", "requestauthentication": "RequestAuthentication",
    "workloadentry": "WorkloadEntry", "workloadgroup": "WorkloadGroup", "envoyfilter": "EnvoyFilter",
    "wasmplugin": "WasmPlugin", "telemetry": "Telemetry", "k8shttproute": "HTTPRoute", "k8sgateway": "Gateway",
    "k8sgrpcroute": "GRPCRoute", "k8sreferencegrant": "ReferenceGrant", "workload": "workload",
}

VALIDATED_LISTS = {"virtualServices": "VirtualService", "destinationRules": "DestinationRule",
                   "authorizationPolicies": "AuthorizationPolicy", "peerAuthentications": "PeerAuthentication"}
ALWAYS_VALIDATED = frozenset(VALIDATED_LISTS.values())


@dataclass(frozen=True)
class ValidationCheck:
    code: str
    message: str
    severity: str                   # error, warning, unknown
    path: str = ""

    def describe(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"{self.code or '(no code)'} {self.message}{where}"


@dataclass(frozen=True)
class ObjectValidation:
    kind: str                       # VirtualService, DestinationRule, ... as the API names it
    name: str
    namespace: str
    valid: bool
    checks: tuple[ValidationCheck, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    def of_severity(self, severity: str) -> tuple[ValidationCheck, ...]:
        return tuple(c for c in self.checks if c.severity == severity)


def fetch_validations(endpoint: Endpoint, namespace: str, web_root: str = "/kiali") -> tuple[ObjectValidation, ...]:
    """Kiali's validations of the Istio objects in ``namespace`` (one request, every Kiali release)."""
    path = web_root + ISTIO_CONFIG_PATH.format(namespace=namespace)
    doc = endpoint.get_json(path, {"validate": "true"})
    return parse_validations(doc, namespace, where=f"{endpoint.name} GET {path}?validate=true")


def parse_validations(doc: Any, namespace: str, where: str = "kiali istio config") -> tuple[ObjectValidation, ...]:
    """The validations of ``namespace``'s objects, from a 1.x or 2.x Istio config list."""
    validations = doc.get("validations", "absent") if isinstance(doc, dict) else "absent"
    if validations == "absent":
        raise AddonError(f"{where} has an unexpected shape: expected an Istio config list with \"validations\", "
                         f"saw {describe_shape(doc)}; check that the kiali Service runs Kiali 1.x or 2.x")
    if validations is None:
        raise AddonError(f"{where} answered without validations: Kiali's validations are disabled "
                         "(kiali_feature_flags.validations, or external_services.istio.istio_api_enabled: false); "
                         "enable them in Kiali's ConfigMap or CR and restart Kiali")
    if not isinstance(validations, dict):
        raise AddonError(f"{where} has an unexpected shape: expected \"validations\" to be a map by object type, "
                         f"saw {describe_shape(validations)}")
    found = [_entry(type_key, key, entry, where) for type_key, by_name in validations.items()
             for key, entry in (by_name or {}).items()]
    mine = tuple(sorted((v for v in found if v.namespace == namespace), key=lambda v: (v.kind, v.name)))
    listed = _validated_objects(doc)
    if listed and not mine:
        raise AddonError(f"{where} lists {listed} Istio objects in {namespace} but no validation of any: Kiali's "
                         "validations are disabled (kiali_feature_flags.validations, or "
                         "external_services.istio.istio_api_enabled: false); enable them and restart Kiali")
    return mine


def _validated_objects(doc: dict[str, Any]) -> int:
    """How many objects of kinds Kiali always validates the config list holds (1.x lists or 2.x resources).

    Kiali gives each such object an entry, valid or not, so none at all means it did not validate; a
    disabled validation answers an empty map (a nil map marshals as ``{}``), not an error.
    """
    lists = doc.get("resources") if isinstance(doc.get("resources"), dict) else doc
    count = 0
    for key, items in lists.items():
        kind = _kind_of_key(key) or VALIDATED_LISTS.get(key, "")
        if kind in ALWAYS_VALIDATED and isinstance(items, list):
            count += len(items)
    return count


def _entry(type_key: str, key: str, entry: Any, where: str) -> ObjectValidation:
    if not isinstance(entry, dict) or not isinstance(entry.get("checks", []), list | type(None)):
        raise AddonError(f"{where} has an unexpected shape: expected each validation as {{\"name\", \"valid\", "
                         f"\"checks\": [...]}}, saw {describe_shape(entry)}")
    name, _, namespace = key.rpartition(".")     # "<name>.<namespace>": a namespace has no dots, a name may
    gvk = entry.get("objectGVK") if isinstance(entry.get("objectGVK"), dict) else {}
    kind = gvk.get("Kind") or _kind_of_key(type_key) or OBJECT_TYPES.get(str(entry.get("objectType")), "")
    checks = tuple(
        ValidationCheck(str(c.get("code") or ""), str(c.get("message") or ""), str(c.get("severity") or "unknown"),
                        str(c.get("path") or ""))
        for c in entry.get("checks") or [] if isinstance(c, dict))
    return ObjectValidation(str(kind or type_key), str(entry.get("name") or name or key),
                            str(entry.get("namespace") or namespace), bool(entry.get("valid", True)), checks)


def _kind_of_key(type_key: str) -> str:
    """"networking.istio.io/v1, Kind=VirtualService" → VirtualService; a 1.x objectType → its kind."""
    if ", Kind=" in type_key:
        return type_key.rsplit("=", 1)[1]
    return OBJECT_TYPES.get(type_key, "")


def with_severity(validations: Iterable[ObjectValidation], severity: str) -> list[ObjectValidation]:
    return [v for v in validations if v.of_severity(severity)]
