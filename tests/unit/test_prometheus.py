"""Prometheus: the PromQL subset, the client's parsers, the telemetry checks, and the simulator.

Payloads follow prometheus/prometheus docs/querying/api.md: the older "Targets" example (2.x:
no globalUrl, scrapeInterval or scrapeTimeout, lastScrapeDuration in nanoseconds as an integer)
and the newer shape Prometheus 2.30+ and 3.x answer, with the labels Istio's kubernetes-pods
job leaves on a sidecar target (istio/istio samples/addons/prometheus.yaml).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import meshcheck.profile
from meshcheck.addons import prometheus as prom
from meshcheck.checks import telemetry
from meshcheck.endpoints import Endpoint
from meshcheck.errors import AddonError
from meshcheck.profile import Profile
from meshcheck.profile import load_profile as _load_profile
from meshcheck.sim import scenario
from meshcheck.sim.addons import prometheus as sim
from meshcheck.sim.addons import promql
from meshcheck.sim.build import build_world
from meshcheck.sim.protocol import SimRequest
from meshcheck.sim.world import World
from tests.unit.simhttp import SimAdapter, addon_world, sim_endpoint

NS = "online-boutique"
PROFILE_FILE = Path(meshcheck.profile.__file__).parent / "profiles" / "online-boutique.yaml"


def load_profile() -> Profile:
    """The bundled profile, read by path (the package-data lookup trips on an editable install)."""
    return _load_profile(PROFILE_FILE)

OLDER_TARGETS = {  # docs/querying/api.md "Targets" example, as Prometheus 2.x before 2.30 answers
    "status": "success",
    "data": {
        "activeTargets": [{
            "discoveredLabels": {"__address__": "127.0.0.1:9090", "__metrics_path__": "/metrics",
                                 "__scheme__": "http", "job": "prometheus"},
            "labels": {"instance": "127.0.0.1:9090", "job": "prometheus"},
            "scrapePool": "prometheus",
            "scrapeUrl": "http://127.0.0.1:9090/metrics",
            "lastError": "",
            "lastScrape": "2017-01-17T15:07:44.723715405+01:00",
            "lastScrapeDuration": 50688943,
            "health": "up",
        }, {
            "discoveredLabels": {"__address__": "10.244.1.7:15090",
                                 "__meta_kubernetes_namespace": NS,
                                 "__meta_kubernetes_pod_name": "cartservice-5d7f9c-abcde",
                                 "__meta_kubernetes_pod_label_app": "cartservice", "job": "kubernetes-pods"},
            "labels": {"app": "cartservice", "instance": "10.244.1.7:15020", "job": "kubernetes-pods",
                       "kubernetes_namespace": NS, "kubernetes_pod_name": "cartservice-5d7f9c-abcde"},
            "scrapeUrl": "http://10.244.1.7:15020/stats/prometheus",
            "lastError": "Get http://10.244.1.7:15020/stats/prometheus: dial tcp 10.244.1.7:15020: "
                         "connect: connection refused",
            "lastScrape": "2023-01-17T15:07:44.723715405Z",
            "lastScrapeDuration": 412000,
            "health": "down",
        }],
        "droppedTargets": [],
    },
}


def newer_target(app: str, health: str = "up", error: str = "", namespace: str = NS) -> dict[str, Any]:
    """A sidecar target as Prometheus 3.x lists it under Istio's kubernetes-pods job."""
    pod = f"{app}-7b9c6d8f4-x2k9p"
    return {
        "discoveredLabels": {"__address__": "10.244.2.9:15090", "__meta_kubernetes_namespace": namespace,
                             "__meta_kubernetes_pod_name": pod, "__meta_kubernetes_pod_label_app": app,
                             "__scrape_interval__": "15s", "__scrape_timeout__": "10s", "job": "kubernetes-pods"},
        "labels": {"app": app, "instance": "10.244.2.9:15020", "job": "kubernetes-pods", "namespace": namespace,
                   "pod": pod, "security_istio_io_tlsMode": "istio",
                   "service_istio_io_canonical_name": app, "node": "kind-worker"},
        "scrapePool": "kubernetes-pods",
        "scrapeUrl": "http://10.244.2.9:15020/stats/prometheus",
        "globalUrl": "http://10.244.2.9:15020/stats/prometheus",
        "lastError": error,
        "lastScrape": "2025-11-02T10:15:04.113412338Z",
        "lastScrapeDuration": 0.011873,
        "health": health,
        "scrapeInterval": "15s",
        "scrapeTimeout": "10s",
    }


def newer_targets(*targets: dict[str, Any]) -> dict[str, Any]:
    return {"status": "success", "data": {"activeTargets": list(targets), "droppedTargets": []}}


# --- the PromQL subset ----------------------------------------------------------------------

SERIES = [
    ({"__name__": "istio_requests_total", "reporter": "source", "source_workload": "frontend",
      "destination_workload": "cartservice", "destination_workload_namespace": NS}, 10.0),
    ({"__name__": "istio_requests_total", "reporter": "destination", "source_workload": "frontend",
      "destination_workload": "cartservice", "destination_workload_namespace": NS}, 9.0),
    ({"__name__": "istio_requests_total", "reporter": "source", "source_workload": "frontend",
      "destination_workload": "adservice", "destination_workload_namespace": "other"}, 4.0),
    ({"__name__": "up", "job": "prometheus"}, 1.0),
]


@pytest.mark.parametrize(("expr", "expected"), [
    ("up", [({"__name__": "up", "job": "prometheus"}, 1.0)]),
    ('istio_requests_total{reporter="source"}', 2),
    ('istio_requests_total{reporter!="source"}', 1),
    ('istio_requests_total{destination_workload=~"cart.*"}', 2),
    ('istio_requests_total{destination_workload!~"cart.*"}', 1),
    ('{__name__="up"}', 1),
    ("istio_requests_total{destination_workload=~'cart'}", 0),   # regexes are anchored
])
def test_promql_selects_with_each_matcher(expr, expected):
    result = promql.evaluate(expr, SERIES)
    assert (len(result) if isinstance(expected, int) else result) == expected


def test_promql_sums_and_counts_by_labels_before_or_after_the_argument():
    by_before = promql.evaluate('sum by (destination_workload) (istio_requests_total{reporter=~".+"})', SERIES)
    by_after = promql.evaluate("count(istio_requests_total) by (destination_workload, nothing)", SERIES)
    assert by_before == [({"destination_workload": "adservice"}, 4.0), ({"destination_workload": "cartservice"},
                                                                         19.0)]
    assert by_after == [({"destination_workload": "adservice"}, 1.0), ({"destination_workload": "cartservice"},
                                                                        2.0)]
    assert promql.evaluate("count(up)", SERIES) == [({}, 1.0)]


@pytest.mark.parametrize(("expr", "fragment"), [
    ("rate(istio_requests_total[5m])", "unexpected function or aggregation 'rate'"),
    ("istio_requests_total[5m]", "unexpected character: '['"),
    ('up{job="a"} + 1', "unexpected character: '+'"),
    ('{job=""}', "at least one non-empty matcher"),
    ('up{job=~"("}', "error parsing regexp"),
    ('up{job="x}', "unterminated quoted string"),
    ("sum by (a) (up) by (b)", "grouping given twice"),
    ("up up", "after the expression"),
    ("", "expected a selector"),
])
def test_promql_refuses_what_it_cannot_evaluate_as_a_parse_error(expr, fragment):
    with pytest.raises(promql.PromQLError) as caught:
        promql.parse(expr)
    assert str(caught.value).startswith("1:") and "parse error" in str(caught.value)
    assert fragment in str(caught.value)


def test_promql_formats_values_as_prometheus_prints_them():
    assert [promql.format_value(v) for v in (2.0, 0.5, float("nan"))] == ["2", "0.5", "NaN"]


def test_the_clients_own_expression_is_evaluable():
    result = promql.evaluate(prom.request_series_expr(NS), SERIES)
    assert result == [({"source_workload": "frontend", "destination_workload": "cartservice"}, 2.0)]


# --- the client's parsers -------------------------------------------------------------------

def test_parse_targets_reads_the_older_documented_shape():
    found = prom.parse_targets(OLDER_TARGETS)
    assert found[0].pool == "prometheus" and found[0].health == "up"
    cart = found[1]
    assert (cart.pool, cart.namespace, cart.pod, cart.app) == (
        "kubernetes-pods", NS, "cartservice-5d7f9c-abcde", "cartservice")
    assert cart.health == "down" and "connection refused" in cart.last_error


def test_parse_targets_reads_the_newer_shape():
    (target,) = prom.parse_targets(newer_targets(newer_target("frontend")))
    assert (target.namespace, target.app, target.instance, target.health) == (
        NS, "frontend", "10.244.2.9:15020", "up")
    assert target.labels["security_istio_io_tlsMode"] == "istio"


@pytest.mark.parametrize("payload", [
    {"status": "success", "data": [[{"labels": {}, "health": "up"}]]},     # before Prometheus 2.2
    {"status": "error", "errorType": "bad_data", "error": "x"},
    {"status": "success", "data": {"activeTargets": [{"health": "up"}]}},
    [],
])
def test_parse_targets_refuses_other_shapes_naming_the_path(payload):
    with pytest.raises(AddonError, match="/api/v1/targets"):
        prom.parse_targets(payload)


def test_parse_vector_reads_values_and_native_histogram_counts():
    payload = {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"source_workload": "frontend"}, "value": [1700000000.123, "42"]},
        {"metric": {"source_workload": "cartservice"}, "histogram": [1700000000.123, {"count": "7", "sum": "1"}]},
    ]}, "warnings": ["ignored"]}
    samples = prom.parse_vector(payload, "q")
    assert [(s.labels["source_workload"], s.value) for s in samples] == [("frontend", 42.0), ("cartservice", 7.0)]


@pytest.mark.parametrize("payload", [
    {"status": "success", "data": {"resultType": "matrix", "result": []}},
    {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "x"]}]}},
    {"status": "success", "data": {"resultType": "vector", "result": [{"value": [1, "1"]}]}},
])
def test_parse_vector_refuses_other_shapes(payload):
    with pytest.raises(AddonError, match="expected"):
        prom.parse_vector(payload, "up")


# --- the checks -----------------------------------------------------------------------------

def test_prometheus_ready_passes_and_fails_with_the_answer():
    assert telemetry.prometheus_ready(prom.Readiness(True, 200, "Prometheus Server is Ready.")).passed
    starting = telemetry.prometheus_ready(prom.Readiness(False, 503, "Service Unavailable"))
    assert not starting.passed and not starting.settled
    assert "503" in starting.message and "Service Unavailable" in starting.message
    wrong = telemetry.prometheus_ready(prom.Readiness(False, 404, "404 page not found"))
    assert not wrong.passed and wrong.settled


WORKLOADS = ("frontend", "cartservice")


def test_mesh_targets_up_passes_when_every_workload_is_up():
    found = prom.parse_targets(newer_targets(newer_target("frontend"), newer_target("cartservice"),
                                             newer_target("istio-ingressgateway", "down", namespace="istio-system")))
    result = telemetry.mesh_targets_up(found, NS, WORKLOADS)
    assert result.passed, result.text()


def test_mesh_targets_up_names_down_targets_with_their_last_error():
    error = ('Get "http://10.244.2.9:15020/stats/prometheus": dial tcp 10.244.2.9:15020: '
             "connect: connection refused")
    found = prom.parse_targets(newer_targets(newer_target("frontend"), newer_target("cartservice", "down", error)))
    result = telemetry.mesh_targets_up(found, NS, WORKLOADS)
    assert not result.passed and not result.settled
    assert "cartservice-7b9c6d8f4-x2k9p" in result.message and "connection refused" in result.message
    assert NS in result.message and result.remediation


def test_mesh_targets_up_fails_for_missing_and_unscraped_targets():
    found = prom.parse_targets(newer_targets(newer_target("frontend", "unknown")))
    result = telemetry.mesh_targets_up(found, NS, WORKLOADS)
    assert not result.passed
    assert "not scraped yet: frontend-7b9c6d8f4-x2k9p" in result.message
    assert "no target at all for cartservice" in result.message


def test_mesh_targets_up_fails_settled_when_the_namespace_has_no_target():
    found = prom.parse_targets(OLDER_TARGETS)
    result = telemetry.mesh_targets_up(found, "default", WORKLOADS)
    assert not result.passed and result.settled
    assert "no scrape target for any pod in namespace default" in result.message


def test_request_workloads_are_both_ends_of_the_http_and_grpc_edges():
    profile = load_profile()
    expected = telemetry.request_workloads(profile.traced_edges)
    assert "redis-cart" not in expected
    assert {"loadgenerator", "frontend", "cartservice", "paymentservice"} <= set(expected)


def _samples(*pairs: tuple[str, str]) -> tuple[prom.Sample, ...]:
    return tuple(prom.Sample({"source_workload": a, "destination_workload": b}, 1.0) for a, b in pairs)


def test_istio_requests_series_passes_and_names_missing_workloads():
    expected = ("loadgenerator", "frontend", "cartservice", "paymentservice")
    good = telemetry.istio_requests_series(
        _samples(("loadgenerator", "frontend"), ("frontend", "cartservice"), ("checkoutservice", "paymentservice")),
        NS, expected)
    assert good.passed, good.text()
    bad = telemetry.istio_requests_series(_samples(("loadgenerator", "frontend")), NS, expected)
    assert not bad.passed and not bad.settled
    assert "no series for cartservice, paymentservice" in bad.message and NS in bad.message


def test_istio_requests_series_fails_when_there_is_no_series_at_all():
    result = telemetry.istio_requests_series((), NS, ("frontend",))
    assert not result.passed and "no istio_requests_total series" in result.message


# --- round trips through the simulated Prometheus -------------------------------------------

def world_with(**knobs: Any) -> World:
    return addon_world("prometheus", **knobs)


def endpoint_for(world: World) -> tuple[Endpoint, SimAdapter]:
    return sim_endpoint("prometheus", lambda r: sim.handle(world, r))


def test_simulated_healthy_prometheus_passes_every_check_in_three_requests():
    world = world_with()
    endpoint, adapter = endpoint_for(world)
    profile = load_profile()
    assert telemetry.prometheus_ready(prom.readiness(endpoint)).passed
    targets = telemetry.mesh_targets_up(prom.targets(endpoint), NS, profile.workloads)
    assert targets.passed, targets.text()
    expected = telemetry.request_workloads(profile.traced_edges)
    series = telemetry.istio_requests_series(prom.request_series(endpoint, NS), NS, expected)
    assert series.passed, series.text()
    assert adapter.paths == ["/-/ready", "/api/v1/targets", "/api/v1/query"]


def test_simulated_targets_down_name_the_pods_and_their_series_go_stale():
    world = world_with(targets_down=["paymentservice"])
    endpoint, _ = endpoint_for(world)
    result = telemetry.mesh_targets_up(prom.targets(endpoint), NS, load_profile().workloads)
    assert not result.passed
    assert "paymentservice-" in result.message and "connect: connection refused" in result.message
    samples = prom.request_series(endpoint, NS)
    reported = {(s.labels["source_workload"], s.labels["destination_workload"]) for s in samples}
    assert ("checkoutservice", "paymentservice") in reported       # the caller still reports the call


def test_simulated_prometheus_without_istio_metrics_fails_the_series_check():
    endpoint, _ = endpoint_for(world_with(istio_metrics=False))
    result = telemetry.istio_requests_series(prom.request_series(endpoint, NS), NS, ("frontend",))
    assert not result.passed and "no istio_requests_total series" in result.message


def test_simulated_missing_traffic_leaves_a_workload_without_series():
    model = scenario.merge(scenario.load("healthy"), {"traffic": {"missing_edges": [["checkoutservice",
                                                                                       "paymentservice"]]}})
    endpoint, _ = endpoint_for(build_world(model, None, 0))
    expected = telemetry.request_workloads(load_profile().traced_edges)
    result = telemetry.istio_requests_series(prom.request_series(endpoint, NS), NS, expected)
    assert not result.passed and "paymentservice" in result.message


def test_simulated_older_prometheus_answers_the_older_target_shape():
    world = world_with(version="2.20.1")
    payload = json.loads(sim.handle(world, SimRequest("GET", "/api/v1/targets", {"state": ["active"]})).body)
    first = payload["data"]["activeTargets"][0]
    assert "globalUrl" not in first and "scrapeInterval" not in first
    assert telemetry.mesh_targets_up(prom.parse_targets(payload), NS, load_profile().workloads).passed


def test_simulated_prometheus_refuses_unsupported_queries_with_its_error_shape():
    world = world_with()
    answer = sim.handle(world, SimRequest("GET", "/api/v1/query", {"query": ["irate(up[5m])"]}))  # rate() is served
    assert answer.status == 400
    payload = json.loads(answer.body)
    assert payload["status"] == "error" and payload["errorType"] == "bad_data"
    assert payload["error"].startswith('invalid parameter "query": 1:1: parse error')
    endpoint, _ = endpoint_for(world)
    with pytest.raises(AddonError, match="400"):
        prom.query(endpoint, "irate(up[5m])")


def test_simulated_prometheus_answers_post_queries_and_404s_like_prometheus():
    world = world_with()
    body = b"query=count(up)"
    answer = sim.handle(world, SimRequest("POST", "/api/v1/query", {}, {}, body))
    assert json.loads(answer.body)["data"]["result"][0]["value"][1] == str(len(sim.active_targets(world)))
    missing = sim.handle(world, SimRequest("GET", "/api/v1/nothing"))
    assert (missing.status, missing.body) == (404, b"404 page not found\n")
    assert sim.handle(world, SimRequest("GET", "/-/healthy")).body == b"Prometheus Server is Healthy.\n"
