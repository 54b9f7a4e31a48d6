"""manifests/ validated offline: every document parses; core kinds validate against the Kubernetes schemas of
the kind node's version (kubernetes-validate, strict: an unknown field fails); the Istio, MetalLB and Gateway
API resources against the fields their CRDs define, for the subset the project uses, written out here."""

from __future__ import annotations

from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from meshcheck import layers
from meshcheck.deploy import pins
from tests.harness import ROOT

MANIFESTS = ROOT / "manifests"
KUBERNETES = pins.load_lock(MANIFESTS / "lock.yaml").tools["kind"]["node_image"].split(":v")[1].split("@")[0]
FRAGMENTS = {"addons/kiali-tracing.yaml"}  # merged into another document, not applied on its own
APPLIED_BY_HAND = {"grader"}  # what a grader applies (docs/grader.md), not a layer the deploy step builds


def _closed(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "additionalProperties": False, "required": list(required)}


STRINGS = {"type": "array", "items": {"type": "string"}}
PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
METADATA = {"type": "object", "required": ["name"]}
INTEGER = {"type": "integer"}
LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
MTLS_MODE = {"enum": ["UNSET", "DISABLE", "PERMISSIVE", "STRICT"]}

# The fields of each CRD the project's manifests use, read from the CRDs of the pinned releases: a field
# outside them (a typo, a field of another version) fails here instead of at apply time on a real cluster.
CRD_SUBSETS: dict[tuple[str, str], dict[str, Any]] = {
    # metallb v0.14.9 config/manifests/metallb-native.yaml: ipaddresspools.metallb.io, l2advertisements.metallb.io
    ("metallb.io/v1beta1", "IPAddressPool"): _closed({"addresses": STRINGS, "autoAssign": {"type": "boolean"},
                                                      "avoidBuggyIPs": {"type": "boolean"}}, ("addresses",)),
    ("metallb.io/v1beta1", "L2Advertisement"): _closed({"ipAddressPools": STRINGS, "interfaces": STRINGS}),
    # istio 1.28.3 manifests/charts/base/files/crd-all.gen.yaml: gateways / virtualservices.networking.istio.io v1
    ("networking.istio.io/v1", "Gateway"): _closed({
        "selector": {"type": "object", "additionalProperties": {"type": "string"}},
        "servers": {"type": "array", "items": _closed({
            "port": _closed({"number": PORT, "name": {"type": "string"}, "protocol": {"type": "string"}},
                            ("number", "protocol")),
            "hosts": STRINGS}, ("port", "hosts"))}}, ("servers",)),
    ("networking.istio.io/v1", "VirtualService"): _closed({
        "hosts": STRINGS, "gateways": STRINGS,
        "http": {"type": "array", "items": _closed({"route": {"type": "array", "items": _closed({
            "destination": _closed({"host": {"type": "string"}, "port": _closed({"number": PORT})}, ("host",)),
            "weight": {"type": "integer"}}, ("destination",))}})}}),
    # gateway-api v1.4.0 config/crd/standard: gateways / httproutes.gateway.networking.k8s.io v1
    ("gateway.networking.k8s.io/v1", "Gateway"): _closed({
        "gatewayClassName": {"type": "string"},
        "listeners": {"type": "array", "items": _closed({
            "name": {"type": "string"}, "port": PORT, "protocol": {"type": "string"},
            "allowedRoutes": _closed({"namespaces": _closed({"from": {"enum": ["All", "Same", "Selector"]}})})},
            ("name", "port", "protocol"))}}, ("gatewayClassName", "listeners")),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): _closed({
        "parentRefs": {"type": "array", "items": _closed({"name": {"type": "string"}}, ("name",))},
        "rules": {"type": "array", "items": _closed({
            "matches": {"type": "array", "items": _closed({"path": _closed({
                "type": {"enum": ["Exact", "PathPrefix", "RegularExpression"]}, "value": {"type": "string"}})})},
            "backendRefs": {"type": "array", "items": _closed({"name": {"type": "string"}, "port": PORT},
                                                              ("name",))}})}}),
    # istio 1.28.3 manifests/charts/base/files/crd-all.gen.yaml: peerauthentications / authorizationpolicies
    # .security.istio.io v1, destinationrules.networking.istio.io v1 (the fields the policy layer sets)
    ("security.istio.io/v1", "PeerAuthentication"): _closed({
        "selector": _closed({"matchLabels": LABELS}),
        "mtls": _closed({"mode": MTLS_MODE}),
        "portLevelMtls": {"type": "object", "additionalProperties": _closed({"mode": MTLS_MODE})}}),
    ("security.istio.io/v1", "AuthorizationPolicy"): _closed({
        "selector": _closed({"matchLabels": LABELS}),
        "action": {"enum": ["ALLOW", "DENY", "AUDIT", "CUSTOM"]},
        "rules": {"type": "array", "items": _closed({
            "from": {"type": "array", "items": _closed({"source": _closed({
                "principals": STRINGS, "notPrincipals": STRINGS, "namespaces": STRINGS, "notNamespaces": STRINGS})})},
            "to": {"type": "array", "items": _closed({"operation": _closed({
                "ports": STRINGS, "methods": STRINGS, "paths": STRINGS})})}})}}),
    ("networking.istio.io/v1", "DestinationRule"): _closed({
        "host": {"type": "string"},
        "trafficPolicy": _closed({
            "connectionPool": _closed({
                "tcp": _closed({"maxConnections": {"type": "integer"}, "connectTimeout": {"type": "string"}}),
                "http": _closed({"http1MaxPendingRequests": INTEGER, "http2MaxRequests": INTEGER,
                                 "maxRequestsPerConnection": INTEGER, "maxRetries": INTEGER})}),
            "outlierDetection": _closed({
                "consecutive5xxErrors": {"type": "integer"}, "consecutiveGatewayErrors": {"type": "integer"},
                "interval": {"type": "string"}, "baseEjectionTime": {"type": "string"},
                "maxEjectionPercent": {"type": "integer"}})})}, ("host",)),
    # istio 1.28.3 operator/pkg/apis/types.go: the IstioOperator that istioctl install -f reads
    ("install.istio.io/v1alpha1", "IstioOperator"): _closed({"profile": {"enum": [
        "default", "demo", "minimal", "remote", "empty", "preview", "ambient"]}}, ("profile",)),
}


def documents() -> list[tuple[str, int, dict[str, Any]]]:
    found = []
    for path in sorted(MANIFESTS.rglob("*.yaml")):
        relative = str(path.relative_to(MANIFESTS))
        if relative == "lock.yaml" or relative in FRAGMENTS:
            continue
        for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
            found.append((relative, index, doc))
    return found


DOCS = documents()


def test_one_folder_per_deployable_layer() -> None:
    folders = {p.name for p in MANIFESTS.iterdir() if p.is_dir()}
    assert folders == {d.name for d in layers.DEPLOYABLES} | APPLIED_BY_HAND


@pytest.mark.parametrize(("path", "index", "doc"), DOCS, ids=[f"{p}#{i}" for p, i, _ in DOCS])
def test_document_is_valid(path: str, index: int, doc: dict[str, Any]) -> None:
    assert isinstance(doc, dict) and doc.get("apiVersion") and doc.get("kind"), f"{path}#{index}"
    jsonschema.validate(doc.get("metadata"), METADATA)
    key = (doc["apiVersion"], doc["kind"])
    if key in CRD_SUBSETS:
        jsonschema.validate(doc.get("spec"), CRD_SUBSETS[key])
    else:
        assert "/" not in doc["apiVersion"] or doc["apiVersion"].split("/")[0].endswith("k8s.io"), (
            f"{path}#{index}: {key} is neither a core kind nor a CRD kind with a subset here")
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_a_typo_fails_validation() -> None:
    """The subsets and the strict core schemas can fail: a misspelt field does."""
    pool = next(doc for _, _, doc in DOCS if doc["kind"] == "IPAddressPool")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**pool["spec"], "adresses": []}, CRD_SUBSETS[("metallb.io/v1beta1", "IPAddressPool")])
    account = next(doc for _, _, doc in DOCS if doc["kind"] == "ServiceAccount")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate({**account, "metdata": {}}, KUBERNETES, strict=True)


def test_kiali_tracing_fragment_uses_kiali_2_keys() -> None:
    """Merged into the kiali ConfigMap of Istio 1.28.3's add-on (Kiali v2.17): 2.x names the URLs
    external_url and internal_url (kiali/kiali config/config.go since v2.0.0)."""
    fragment = yaml.safe_load((MANIFESTS / "addons" / "kiali-tracing.yaml").read_text())
    jsonschema.validate(fragment, _closed({
        "enabled": {"type": "boolean"}, "provider": {"enum": ["jaeger", "tempo"]}, "use_grpc": {"type": "boolean"},
        "internal_url": {"type": "string"}, "external_url": {"type": "string"}}, ("enabled", "internal_url")))


def test_own_manifests_name_no_image_and_no_secret() -> None:
    """What the project writes itself is wiring; images come only from the pinned upstream releases."""
    text = "".join(path.read_text() for path in MANIFESTS.rglob("*.yaml") if path.name != "lock.yaml")
    assert "image:" not in text and "kind: Secret" not in text


def test_every_yaml_is_reachable_from_a_layer() -> None:
    used = {p.parent.name for p in MANIFESTS.rglob("*.yaml") if p.parent != MANIFESTS}
    assert used <= {d.name for d in layers.DEPLOYABLES} | APPLIED_BY_HAND


def test_authorization_policies_allow_exactly_the_call_graph() -> None:
    """manifests/policy/authorization.yaml lists, per callee, the principals of exactly its callers in the
    default profile's call graph (and each ingress-<flavour>.yaml lets that flavour's gateway call frontend)."""
    from meshcheck.profile import load_profile

    profile = load_profile()
    allowed: dict[str, set[str]] = {}
    for path in sorted((MANIFESTS / "policy").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc["kind"] != "AuthorizationPolicy" or not doc["spec"]:
                continue
            callee = doc["spec"]["selector"]["matchLabels"]["app"]
            for rule in doc["spec"]["rules"]:
                for source in rule["from"]:
                    principals = source["source"]["principals"]
                    allowed.setdefault(callee, set()).update(p.rsplit("/", 1)[1] for p in principals)
    expected: dict[str, set[str]] = {}
    for caller, callee in profile.edges:
        expected.setdefault(callee, set()).add(caller)
    expected["frontend"] |= {"istio-ingressgateway-service-account", "istio-gateway-istio"}
    assert allowed == expected
