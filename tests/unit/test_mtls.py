"""mTLS: the destinations' reports parsed, the checks both ways with each likely cause named, strict mode
composed from PeerAuthentications, and the simulated Prometheus deriving connection_security_policy from
the cluster's objects."""

from __future__ import annotations

from typing import Any

import pytest

from meshcheck.addons import prometheus as prom
from meshcheck.addons import tls_metrics
from meshcheck.checks import mtls
from meshcheck.sim import scenario
from meshcheck.sim.addons import prometheus as sim_prometheus
from meshcheck.sim.build import build_world
from meshcheck.sim.world import World
from tests.unit.istioobjects import obj, pa, pod, service
from tests.unit.simhttp import sim_endpoint

NS = "online-boutique"
EDGES = (("frontend", "cartservice"), ("checkoutservice", "paymentservice"))


def sample(source: str, destination: str, policy: str, value: float = 10.0) -> prom.Sample:
    return prom.Sample({"source_workload": source, "source_workload_namespace": NS, "destination_workload": destination,
                        "connection_security_policy": policy}, value)


PODS = [pod("frontend"), pod("cartservice"), pod("checkoutservice"), pod("paymentservice")]
SERVICES = [service("cartservice"), service("paymentservice")]


def test_edges_group_the_samples_by_caller_and_callee():
    found = tls_metrics.edges([sample("a", "b", "mutual_tls", 3), sample("a", "b", "none", 1)])
    record = found[("a", "b")]
    assert record.policies == {"mutual_tls": 3, "none": 1} and not record.mutual and record.plaintext == 1


def test_the_query_asks_only_the_destinations_and_is_evaluable():
    from meshcheck.sim.addons import promql

    expr = tls_metrics.security_expr(NS)
    assert 'reporter="destination"' in expr and "connection_security_policy" in expr
    promql.parse(expr)


def test_all_mutual_tls_passes_and_notes_plaintext_calls_from_outside_the_call_graph():
    samples = [sample(a, b, "mutual_tls") for a, b in EDGES] + [sample("unknown", "frontend", "none")]
    reported = tls_metrics.edges(samples)
    result = mtls.edges_use_mutual_tls(reported, EDGES, NS)
    assert result.passed and "all 2 call-graph edges" in result.message and "unknown→frontend" in result.message


def test_no_destination_report_cannot_be_judged_and_may_still_change():
    result = mtls.edges_use_mutual_tls({}, EDGES, NS)
    assert not result.passed and not result.settled and "cannot be judged" in result.message


def plaintext(**objects: Any):
    reported = tls_metrics.edges([sample("frontend", "cartservice", "mutual_tls"),
                                  sample("checkoutservice", "paymentservice", "none")])
    return mtls.edges_use_mutual_tls(reported, EDGES, NS, objects.get("pods", PODS), SERVICES,
                                     objects.get("pas", []), objects.get("drs", []))


def test_a_disabling_peer_authentication_is_named():
    result = plaintext(pas=[pa("payment-off", NS, "DISABLE", {"app": "paymentservice"})])
    assert not result.passed
    assert "checkoutservice→paymentservice (100% of its requests): PeerAuthentication online-boutique/payment-off " \
           "sets mTLS mode DISABLE for paymentservice" in result.message
    assert "delete PeerAuthentication online-boutique/payment-off" in result.remediation
    assert "rollout restart" in result.remediation


def test_a_destination_rule_disabling_tls_is_named():
    rule = obj("DestinationRule", "payment-plain", NS, {"host": "paymentservice",
                                                        "trafficPolicy": {"tls": {"mode": "DISABLE"}}})
    result = plaintext(drs=[rule])
    assert "DestinationRule online-boutique/payment-plain sets trafficPolicy.tls.mode DISABLE" in result.message


def test_a_side_without_a_sidecar_is_named_first():
    result = plaintext(pods=[pod("checkoutservice", sidecar=False), pod("paymentservice")],
                       pas=[pa("payment-off", NS, "DISABLE", {"app": "paymentservice"})])
    assert "checkoutservice-abc has no istio-proxy sidecar" in result.message


def test_without_a_cause_in_the_objects_the_check_says_where_to_look():
    result = plaintext()
    assert "no PeerAuthentication or DestinationRule read here turns TLS off" in result.message
    assert "PERMISSIVE (Istio's default" in result.message and "enableAutoMtls" in result.remediation


# --- strict mode ---------------------------------------------------------------------------------------


def test_strict_mode_mesh_wide_or_in_the_namespace_passes():
    assert mtls.strict_mtls([pa("default", "istio-system", "STRICT")], NS, PODS).passed
    assert mtls.strict_mtls([pa("default", NS, "STRICT")], NS, PODS).passed


def test_no_peer_authentication_fails_naming_the_default():
    result = mtls.strict_mtls([], NS, PODS)
    assert not result.passed and "no PeerAuthentication makes mTLS STRICT for namespace online-boutique" \
        in result.message and "manifests/policy/peer-authentication.yaml" in result.remediation


def test_a_namespace_policy_overriding_mesh_strict_is_named():
    result = mtls.strict_mtls([pa("default", "istio-system", "STRICT"), pa("relaxed", NS, "PERMISSIVE")], NS, PODS)
    assert "PeerAuthentication online-boutique/relaxed sets mTLS mode PERMISSIVE for namespace online-boutique, " \
           "overriding the mesh-wide STRICT of istio-system/default" in result.message


@pytest.mark.parametrize(("policy", "fragment"), [
    (pa("pay", NS, "PERMISSIVE", {"app": "paymentservice"}), "weakens it for paymentservice (PERMISSIVE)"),
    (pa("pay", NS, None, {"app": "paymentservice"}, ports={50051: "DISABLE"}),
     "weakens it for paymentservice port 50051 (DISABLE)"),
])
def test_a_workload_or_port_level_policy_weakening_strict_is_named(policy: dict, fragment: str):
    result = mtls.strict_mtls([pa("default", "istio-system", "STRICT"), policy], NS, PODS)
    assert not result.passed and f"PeerAuthentication online-boutique/pay {fragment}" in result.message


# --- the simulated Prometheus --------------------------------------------------------------------------


def world(**mesh_policy: Any) -> World:
    return build_world(scenario.merge(scenario.load("healthy"), {"mesh_policy": mesh_policy}), None, 0)


def reported(world: World) -> dict:
    endpoint, _ = sim_endpoint("prometheus", lambda r: sim_prometheus.handle(world, r))
    return tls_metrics.edge_security(endpoint, NS)


def test_simulated_calls_between_sidecars_arrive_over_mutual_tls():
    found = reported(world())
    assert found and all(r.mutual for r in found.values())
    assert ("cartservice", "redis-cart") not in found       # plain TCP: istio_tcp_*, not requests


def test_simulated_disabling_objects_turn_the_reports_to_none():
    disable = {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": {"name": "off"},
               "spec": {"selector": {"matchLabels": {"app": "paymentservice"}}, "mtls": {"mode": "DISABLE"}}}
    found = reported(world(objects=[disable]))
    assert found[("checkoutservice", "paymentservice")].policies.keys() == {"none"}
    assert found[("frontend", "cartservice")].mutual
    rule = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "plain"},
            "spec": {"host": "cartservice", "trafficPolicy": {"tls": {"mode": "DISABLE"}}}}
    found = reported(world(objects=[rule]))
    assert not found[("frontend", "cartservice")].mutual and not found[("checkoutservice", "cartservice")].mutual
