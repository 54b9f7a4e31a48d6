"""Kiali's validations and health: the client's parsers on the shapes of Kiali 1.x and 2.x, the status
computed as Kiali's UI computes it, the checks both ways, and the simulated Kiali round-tripped per release.

Recorded shapes follow kiali/kiali: models/istio_validation.go ``IstioValidations.MarshalJSON`` (1.x keyed by
object type, 2.x by GroupVersionKind), models/istio_config.go (2.x ``resources``), models/health.go
(``NamespaceAppHealth``, ``ClustersNamespaceHealth``, v2.22's ``CalculatedHealthStatus``).
"""

from __future__ import annotations

import pytest

from meshcheck.addons import kiali_health as health_api
from meshcheck.addons import kiali_validations as validations_api
from meshcheck.checks import kiali_health as health_checks
from meshcheck.checks import kiali_validations as validation_checks
from meshcheck.errors import AddonError
from meshcheck.sim import scenario
from meshcheck.sim.addons import kiali as sim
from meshcheck.sim.build import build_world
from meshcheck.sim.world import World
from tests.unit.simhttp import sim_endpoint

NS = "online-boutique"
KIA1101 = {"code": "KIA1101", "message": "DestinationWeight on route doesn't have a valid service (host not found)",
           "severity": "error", "path": "spec/http[0]/route[0]/destination/host"}
KIA0004 = {"code": "KIA0004", "message": "No matching workload found for the selector in this namespace",
           "severity": "warning", "path": "spec/selector/matchLabels"}

CONFIG_V1 = {   # Kiali v1.76: lists by kind, validations by object type and "name.namespace"
    "namespace": {"name": NS}, "virtualServices": [{"metadata": {"name": "canary"}}], "destinationRules": [],
    "validations": {
        "virtualservice": {f"canary.{NS}": {"name": "canary", "objectType": "virtualservice", "valid": False,
                                             "checks": [KIA1101], "references": None},
                           "other.default": {"name": "other", "objectType": "virtualservice", "valid": False,
                                             "checks": [KIA1101], "references": None}},
        "authorizationpolicy": {f"pay.{NS}": {"name": "pay", "objectType": "authorizationpolicy", "valid": True,
                                               "checks": [KIA0004], "references": []}},
    },
}
CONFIG_V2 = {   # Kiali v2.17: resources and validations by GroupVersionKind, entries with namespace and objectGVK
    "resources": {"networking.istio.io/v1, Kind=VirtualService": [{"metadata": {"name": "canary"}}]},
    "validations": {"networking.istio.io/v1, Kind=VirtualService": {f"canary.{NS}": {
        "name": "canary", "namespace": NS, "cluster": "Kubernetes",
        "objectGVK": {"Group": "networking.istio.io", "Version": "v1", "Kind": "VirtualService"},
        "valid": False, "checks": [KIA1101], "references": []}}},
}


@pytest.mark.parametrize("doc", [CONFIG_V1, CONFIG_V2], ids=["v1", "v2"])
def test_validations_are_read_by_object_with_their_checks_in_the_namespace_only(doc):
    found = validations_api.parse_validations(doc, NS)
    canary = next(v for v in found if v.name == "canary")
    assert (canary.kind, canary.namespace, canary.valid) == ("VirtualService", NS, False)
    assert canary.checks[0].describe() == ("KIA1101 DestinationWeight on route doesn't have a valid service "
                                           "(host not found) at spec/http[0]/route[0]/destination/host")
    assert all(v.namespace == NS for v in found)


def test_objects_without_any_validation_mean_validations_are_disabled():
    doc = {"virtualServices": [{"metadata": {"name": "a"}}], "validations": {}}
    with pytest.raises(AddonError, match="validations are disabled"):
        validations_api.parse_validations(doc, NS)
    assert validations_api.parse_validations({"virtualServices": [], "validations": {}}, NS) == ()


@pytest.mark.parametrize("doc", [{"error": "x"}, [], {"validations": []}])
def test_other_shapes_are_refused(doc):
    with pytest.raises(AddonError, match="unexpected shape"):
        validations_api.parse_validations(doc, NS)


def test_errors_fail_naming_object_code_message_and_path_warnings_are_listed():
    result = validation_checks.check_validations(validations_api.parse_validations(CONFIG_V1, NS), NS)
    assert not result.passed and result.settled
    assert ("Kiali reports 1 error in the Istio configuration of namespace online-boutique: VirtualService "
            "online-boutique/canary KIA1101 DestinationWeight on route doesn't have a valid service (host not found) "
            "at spec/http[0]/route[0]/destination/host; 1 warning: AuthorizationPolicy online-boutique/pay: KIA0004"
            ) in result.message
    assert "https://kiali.io/docs/features/validations/#kia1101" in result.remediation
    warnings_only = {"validations": {"authorizationpolicy": CONFIG_V1["validations"]["authorizationpolicy"]}}
    result = validation_checks.check_validations(validations_api.parse_validations(warnings_only, NS), NS)
    assert result.passed and "1 warning: AuthorizationPolicy online-boutique/pay: KIA0004" in result.message


# --- health -----------------------------------------------------------------------------------------------------


def app(available: int = 1, desired: int = 1, current: int = 1, synced: int = 1, inbound=None, outbound=None) -> dict:
    return {"workloadStatuses": [{"name": "w", "desiredReplicas": desired, "currentReplicas": current,
                                  "availableReplicas": available, "syncedProxies": synced}],
            "requests": {"inbound": inbound or {}, "outbound": outbound or {}, "healthAnnotations": {}}}


@pytest.mark.parametrize(("entry", "status", "reason"), [
    (app(inbound={"grpc": {"0": 9.0}}), "Healthy", ""),
    (app(available=0), "Failure", "workload w: 0/1 available (Failure)"),
    (app(available=1, desired=2, current=2), "Degraded", "1/2 available (Degraded)"),
    (app(synced=0), "Degraded", ""),
    (app(desired=0, available=0, current=0), "Not Ready", ""),
    (app(inbound={"grpc": {"0": 7.0, "14": 3.0}}), "Failure", "inbound grpc error rate 30.00%"),
    (app(inbound={"http": {"200": 95.0, "503": 5.0}}), "Degraded", "inbound http error rate 5.00%"),
    (app(outbound={"http": {"200": 85.0, "404": 15.0}}), "Degraded", "4XX codes; Kiali's degraded threshold 10%"),
    (app(outbound={"http": {"200": 75.0, "404": 25.0}}), "Failure", "Kiali's failure threshold 20%"),
    (app(inbound={"grpc": {"0": 8.0, "-": 2.0}}), "Failure", "^-$ codes"),
])
def test_status_is_computed_as_kialis_ui_does(entry, status, reason):
    found = health_api.app_health("a", entry)
    assert found.status == status and reason in "; ".join(found.reasons)


def test_a_status_from_kialis_server_wins():
    entry = {**app(inbound={"grpc": {"0": 9.0}}), "status": {"status": "Failure", "errorRatio": 12.5}}
    found = health_api.app_health("a", entry)
    assert (found.status, found.reasons, found.computed_by) == ("Failure", ("error rate 12.50%",), "Kiali's server")


def test_health_fails_for_failing_apps_and_lists_degraded_and_unlisted_ones():
    health = health_api.parse_app_health({"pay": app(inbound={"grpc": {"0": 7.0, "14": 3.0}}),
                                          "cart": app(available=1, desired=2, current=2), "ad": app()})
    result = health_checks.check_health(health, NS, ("pay", "cart", "ad", "email"))
    assert not result.passed and not result.settled
    assert "Kiali's health shows 1 app of namespace online-boutique failing: pay Failure (inbound grpc error rate " \
           "30.00%" in result.message
    assert "not failing but cart Degraded" in result.message and "Kiali lists no app email" in result.message
    assert health_checks.check_health({"ad": health["ad"]}, NS).passed
    assert not health_checks.check_health({}, NS).passed


# --- the simulated Kiali, per release ------------------------------------------------------------------------


def world(version: str, **kiali: object) -> World:
    return build_world(scenario.merge(scenario.load("healthy"), {"addons": {"kiali": {"version": version, **kiali}}}),
                       None, 0)


def endpoint(world: World):
    return sim_endpoint("kiali", lambda r: sim.handle(world, r))


@pytest.mark.parametrize(("version", "path"), [
    ("v1.63.1", f"/kiali/api/namespaces/{NS}/health"), ("v1.76.0", f"/kiali/api/namespaces/{NS}/health"),
    ("v1.82.0", "/kiali/api/clusters/health"), ("v2.17.0", "/kiali/api/clusters/health"),
    ("v2.22.0", "/kiali/api/clusters/health"),
])
def test_the_health_route_of_each_release_is_asked_and_a_healthy_mesh_passes(version, path):
    kiali, adapter = endpoint(world(version))
    health = health_api.fetch_app_health(kiali, NS, version)
    assert adapter.paths == [path]
    assert set(health) >= {"frontend", "paymentservice"} and all(h.status == "Healthy" for h in health.values())
    assert {h.computed_by for h in health.values()} == {"Kiali's server" if version == "v2.22.0" else
                                                        "kiali's UI rules"}
    other = "/kiali/api/clusters/health" if "namespaces" in path else f"/kiali/api/namespaces/{NS}/health"
    assert kiali.get(other).status_code == 404


@pytest.mark.parametrize("version", ["v1.76.0", "v2.22.0"])
def test_simulated_error_rates_fail_the_app_by_either_computation(version):
    kiali, _ = endpoint(world(version, error_rates={"paymentservice": 0.3}))
    result = health_checks.check_health(health_api.fetch_app_health(kiali, NS, version), NS)
    assert not result.passed and "paymentservice Failure" in result.message


def test_the_simulated_health_refuses_an_unknown_type_as_kiali_does():
    kiali, _ = endpoint(world("v1.76.0"))
    answer = kiali.get(f"/kiali/api/namespaces/{NS}/health", params={"type": "pods"})
    assert answer.status_code == 400 and "must be one of ['app','service','workload']" in answer.json()["error"]


CANARY = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "canary"},
          "spec": {"hosts": ["productcatalogservice"], "gateways": ["missing-gw"],
                   "http": [{"route": [{"destination": {"host": "productcatalogservice-v2"}}]}]}}
ELSEWHERE = {**CANARY, "metadata": {"name": "canary", "namespace": "default"}}


@pytest.mark.parametrize("version", ["v1.63.1", "v1.76.0", "v2.4.0", "v2.17.0", "v2.30.0"])
def test_simulated_validations_of_each_release_name_the_checks(version):
    w = build_world(scenario.merge(scenario.load("healthy"), {"addons": {"kiali": {"version": version}},
                                                              "mesh_policy": {"objects": [CANARY, ELSEWHERE]}}),
                    None, 0)
    kiali, adapter = endpoint(w)
    found = validations_api.fetch_validations(kiali, NS)
    assert adapter.paths == [f"/kiali/api/namespaces/{NS}/istio"]
    canary = next(v for v in found if v.name == "canary")
    assert [c.code for c in canary.checks] == ["KIA1101", "KIA1102"] and not canary.valid
    assert {v.ref for v in found} == {"VirtualService online-boutique/canary", "VirtualService online-boutique/"
                                      "frontend-ingress", "Gateway online-boutique/frontend-gateway"}
    raw = kiali.get_json(f"/kiali/api/namespaces/{NS}/istio", {"validate": "true"})
    namespaces = {key.rpartition(".")[2] for by_name in raw["validations"].values() for key in by_name}
    assert namespaces == ({NS, "default"} if version in ("v2.4.0", "v2.17.0") else {NS})
    assert ("resources" in raw) == version.startswith("v2")


def test_simulated_validations_of_the_policy_layer_know_the_workloads_identities():
    w = build_world(scenario.load("healthy-hardened"), None, 0)
    kiali, _ = endpoint(w)
    found = validations_api.fetch_validations(kiali, NS)
    assert {v.kind for v in found} >= {"AuthorizationPolicy", "DestinationRule"} and all(v.valid for v in found)
    typo = {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": {"name": "typo"},
            "spec": {"selector": {"matchLabels": {"app": "nothing"}},
                     "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/x/sa/ghost"]}}]}]}}
    w = build_world(scenario.merge(scenario.load("healthy-hardened"), {"mesh_policy": {"objects": [typo]}}), None, 0)
    found = validations_api.fetch_validations(endpoint(w)[0], NS)
    assert [c.code for c in next(v for v in found if v.name == "typo").checks] == ["KIA0004", "KIA0106"]
