"""The simulated Kiali's validation of Istio objects, served in the Istio config list of each release.

What Kiali checks here, with the codes, messages and severities of its check descriptors
(kiali/kiali models/istio_validation.go at v1.63.0, v1.76.0 and v2.17.0, unchanged between them) and
the paths its checkers report (business/checkers/...):
- VirtualService: each ``http[].route[].destination.host`` names a Service (KIA1101, error,
  ``spec/http[i]/route[j]/destination/host``: virtualservices/no_host_checker.go); each gateway other
  than ``mesh`` exists, as ``name`` in the VirtualService's namespace or ``namespace/name`` (KIA1102,
  error, ``spec/gateways[i]``), and a ``name.namespace`` reference is the old nomenclature (KIA1108,
  warning: no_gateway_checker.go);
- DestinationRule: its host names a Service (KIA0202, error, ``spec/host``: destinationrules/no_dest_checker.go);
- AuthorizationPolicy: each ``rules[].from[].source.principals`` entry matches the identity of a
  workload's ServiceAccount, ``cluster.local/ns/NS/sa/SA`` (KIA0106, error: authorization/principals_checker.go,
  with its prefix and suffix wildcards), and its selector selects a workload (KIA0004, warning,
  ``spec/selector/matchLabels``: common/workload_selector_checker.go); PeerAuthentication's selector too;
- HTTPRoute (Gateway API): each Service backendRef names a Service (KIA1402, error,
  ``spec/rules[i]/backendRefs[j]/name``: k8shttproutes/no_host_checker.go).
Every object gets an entry, ``valid`` false only for errors (a warning leaves it valid).

The document is ``GET /api/namespaces/{ns}/istio?validate=true`` (handlers/istio_config.go
``IstioConfigList``): in 1.x the lists by kind ("virtualServices", "destinationRules", ...) plus
``validations`` keyed by singular object type and ``name.namespace``; in 2.x ``resources`` keyed by
GroupVersionKind plus ``validations`` keyed the same way, each entry with ``namespace``, ``cluster`` and
``objectGVK`` (models/istio_config.go, models/istio_validation.go at v2.17.0), and before v2.30 with
the validations of every namespace (``GetValidations`` for the cluster).
"""

from __future__ import annotations

import re
from typing import Any

from meshcheck.sim.addons import kiali_config
from meshcheck.sim.protocol import SimRequest, SimResponse
from meshcheck.sim.scenario import release
from meshcheck.sim.world import World

Obj = dict[str, Any]

# kind -> (objects' key in the world, 1.x list name, 1.x object type, 2.x group, 2.x version)
KINDS = {
    "Gateway": ("gateways.networking.istio.io", "gateways", "gateway", "networking.istio.io", "v1"),
    "VirtualService": ("virtualservices.networking.istio.io", "virtualServices", "virtualservice",
                       "networking.istio.io", "v1"),
    "DestinationRule": ("destinationrules.networking.istio.io", "destinationRules", "destinationrule",
                        "networking.istio.io", "v1"),
    "EnvoyFilter": ("envoyfilters.networking.istio.io", "envoyFilters", "envoyfilter", "networking.istio.io",
                    "v1alpha3"),
    "AuthorizationPolicy": ("authorizationpolicies.security.istio.io", "authorizationPolicies",
                            "authorizationpolicy", "security.istio.io", "v1"),
    "PeerAuthentication": ("peerauthentications.security.istio.io", "peerAuthentications", "peerauthentication",
                           "security.istio.io", "v1"),
    "HTTPRoute": ("httproutes.gateway.networking.k8s.io", "k8sHTTPRoutes", "k8shttproute",
                  "gateway.networking.k8s.io", "v1"),
    "K8sGateway": ("gateways.gateway.networking.k8s.io", "k8sGateways", "k8sgateway", "gateway.networking.k8s.io",
                   "v1"),
}
VALIDATED = ("Gateway", "VirtualService", "DestinationRule", "AuthorizationPolicy", "PeerAuthentication", "HTTPRoute")
EMPTY_V1_LISTS = ("serviceEntries", "sidecars", "workloadEntries", "workloadGroups", "wasmPlugins", "telemetries",
                  "requestAuthentications")
CHECKS = {
    "KIA0004": ("No matching workload found for the selector in this namespace", "warning"),
    "KIA0106": ("Service Account not found for this principal", "error"),
    "KIA0202": ("This host has no matching entry in the service registry (service, workload or service entries)",
                "error"),
    "KIA1101": ("DestinationWeight on route doesn't have a valid service (host not found)", "error"),
    "KIA1102": ("VirtualService is pointing to a non-existent gateway", "error"),
    "KIA1108": ("Preferred nomenclature: <gateway namespace>/<gateway name>", "warning"),
    "KIA1402": ("BackendRef on rule doesn't have a valid service (host not found)", "error"),
}
PATH = re.compile(r"^/kiali/api/namespaces/([^/]+)/istio$")


def handle(world: World, request: SimRequest, namespace: str) -> SimResponse:
    """``GET /api/namespaces/{namespace}/istio``, with validations when ``validate`` is asked for."""
    version = kiali_config.kiali_version(world.knobs("kiali"))
    v2 = release(version) >= (2,)
    validate = request.arg("validate")
    wanted = validate is not None and (not v2 or validate.lower() in ("1", "t", "true"))
    scope = namespace if not v2 or release(version) >= (2, 30) else None
    validations = _render(validate_all(world, scope), v2) if wanted else {}   # a nil map marshals as {}
    objects = {kind: [o for o in world.of_kind(KINDS[kind][0], namespace)] for kind in KINDS}
    if v2:
        resources = {f"{KINDS[k][3]}/{KINDS[k][4]}, Kind={'Gateway' if k == 'K8sGateway' else k}": v
                     for k, v in objects.items()}
        return SimResponse.json({"resources": resources, "validations": validations})
    document: Obj = {"namespace": {"name": namespace}}
    document.update({KINDS[k][1]: v for k, v in objects.items()})
    document.update({name: [] for name in EMPTY_V1_LISTS})
    document["validations"] = validations
    return SimResponse.json(document)


def validate_all(world: World, namespace: str | None) -> list[tuple[str, Obj, list[Obj]]]:
    """(kind, object, checks) for every validated object, of one namespace or all."""
    found = []
    for kind in VALIDATED:
        for obj in world.of_kind(KINDS[kind][0], namespace):
            found.append((kind, obj, _checks(world, kind, obj)))
    return found


def _check(code: str, path: str) -> Obj:
    message, severity = CHECKS[code]
    return {"code": code, "message": message, "severity": severity, "path": path}


def _checks(world: World, kind: str, obj: Obj) -> list[Obj]:
    ns = obj["metadata"]["namespace"]
    spec = obj.get("spec") or {}
    found: list[Obj] = []
    if kind == "VirtualService":
        for i, route in enumerate(spec.get("http") or []):
            for j, destination in enumerate((route or {}).get("route") or []):
                host = ((destination or {}).get("destination") or {}).get("host", "")
                if host and not _service_exists(world, host, ns):
                    found.append(_check("KIA1101", f"spec/http[{i}]/route[{j}]/destination/host"))
        for i, gateway in enumerate(spec.get("gateways") or []):
            if gateway == "mesh":
                continue
            if "." in gateway:
                found.append(_check("KIA1108", f"spec/gateways[{i}]"))
            gw_ns, _, gw_name = gateway.rpartition("/")
            if not any(g["metadata"]["name"] == gw_name for g in world.of_kind(KINDS["Gateway"][0], gw_ns or ns)):
                found.append(_check("KIA1102", f"spec/gateways[{i}]"))
    elif kind == "DestinationRule":
        if not _service_exists(world, str(spec.get("host") or ""), ns):
            found.append(_check("KIA0202", "spec/host"))
    elif kind in ("AuthorizationPolicy", "PeerAuthentication"):
        labels = ((spec.get("selector") or {}).get("matchLabels")) or {}
        if labels and not any(all((p["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items())
                              for p in world.of_kind("pods", ns)):
            found.append(_check("KIA0004", "spec/selector/matchLabels"))
        accounts = _service_accounts(world)
        for i, rule in enumerate(spec.get("rules") or [] if kind == "AuthorizationPolicy" else []):
            for j, source in enumerate((rule or {}).get("from") or []):
                for k, principal in enumerate(((source or {}).get("source") or {}).get("principals") or []):
                    if not _principal_found(str(principal), accounts):
                        found.append(_check("KIA0106", f"spec/rules[{i}]/from[{j}]/source/principals[{k}]"))
    elif kind == "HTTPRoute":
        for i, rule in enumerate(spec.get("rules") or []):
            for j, ref in enumerate((rule or {}).get("backendRefs") or []):
                if ref.get("kind") != "Service":
                    continue      # Kiali skips references without kind Service (k8shttproutes/no_host_checker.go)
                if not _service_exists(world, ref.get("name", ""), ref.get("namespace") or ns):
                    found.append(_check("KIA1402", f"spec/rules[{i}]/backendRefs[{j}]/name"))
    return found


def _service_exists(world: World, host: str, namespace: str) -> bool:
    """Kiali's reading of a host (kubernetes/host.go ``GetHost``): a short name in the rule's namespace,
    ``name.namespace`` or the full ``name.namespace.svc.cluster.local``; ``*`` names anything."""
    if host == "*" or host.startswith("*."):
        return True
    parts = host.split(".")
    name, ns = parts[0], parts[1] if len(parts) > 1 else namespace
    return any(s["metadata"]["name"] == name for s in world.of_kind("services", ns))


def _service_accounts(world: World) -> list[str]:
    """The identities Kiali knows: the ServiceAccounts the workloads' pods run as, in every namespace."""
    return sorted({f"cluster.local/ns/{p['metadata']['namespace']}/sa/"
                   f"{(p.get('spec') or {}).get('serviceAccountName') or 'default'}" for p in world.of_kind("pods")})


def _principal_found(principal: str, accounts: list[str]) -> bool:
    if principal == "*":
        return True
    if principal.startswith("*") or principal.endswith("*"):
        pattern = re.compile("^" + re.escape(principal).replace(r"\*", ".*") + "$")
        return any(pattern.match(a) for a in accounts)
    return principal in accounts


def _render(results: list[tuple[str, Obj, list[Obj]]], v2: bool) -> Obj:
    out: dict[str, dict[str, Obj]] = {}
    for kind, obj, checks in results:
        name, ns = obj["metadata"]["name"], obj["metadata"]["namespace"]
        valid = not any(c["severity"] == "error" for c in checks)
        _, _, object_type, group, version = KINDS[kind]
        if v2:
            key = f"{group}/{version}, Kind={kind}"
            entry = {"name": name, "namespace": ns, "cluster": kiali_config.CLUSTER,
                     "objectGVK": {"Group": group, "Version": version, "Kind": kind},
                     "valid": valid, "checks": checks, "references": []}
        else:
            key = object_type
            entry = {"name": name, "objectType": object_type, "valid": valid, "checks": checks, "references": []}
        out.setdefault(key, {})[f"{name}.{ns}"] = entry
    return out
