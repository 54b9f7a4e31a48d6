"""Tracing: Jaeger and Zipkin parsers on recorded shapes, the checks both ways, the simulator round-tripped.

Recorded shapes are derived from jaegertracing/jaeger model/json/model.go and cmd/query/app
(the UI JSON of /api/services and /api/traces; the first releases' ``parentSpanID``) and from
openzipkin/zipkin-api zipkin2-api.yaml (v2 spans, Envoy's shared client/server span ids).
"""

from __future__ import annotations

import time

import pytest
import requests

from meshcheck.addons import tracing as api
from meshcheck.checks import tracing as checks
from meshcheck.endpoints import Endpoint
from meshcheck.errors import AddonError
from meshcheck.profile import load_profile
from meshcheck.sim.addons import tracing as sim
from meshcheck.sim.protocol import SimRequest, SimResponse
from meshcheck.sim.world import World
from tests.unit.simhttp import SimAdapter

NS = "online-boutique"
PROFILE = load_profile()
NOW_US = 1_700_000_000_000_000


def endpoint_for(world: World, service: str = "tracing", handler=sim.handle) -> tuple[Endpoint, SimAdapter]:
    prefix = f"/api/v1/namespaces/istio-system/services/{service}:80/proxy"
    adapter = SimAdapter(lambda r: handler(world, r), prefix)
    session = requests.Session()
    session.mount("https://sim/", adapter)
    return Endpoint("tracing", "https://sim" + prefix, "the API server's service proxy",
                    f"istio-system/{service}", session), adapter


def world(**knobs) -> World:
    knobs.setdefault("untraced", [["cartservice", "redis-cart"]])
    return World(NS, "istio-system", "1.22.1", tuple(PROFILE.workloads), PROFILE.edges, {"tracing": knobs})


# --- recorded documents ---------------------------------------------------------------------------


def _jaeger_span(span_id: str, process: str, kind: str, parent: str | None = None, start: int = NOW_US) -> dict:
    references = [{"refType": "CHILD_OF", "traceID": "t1", "spanID": parent}] if parent else []
    return {"traceID": "t1", "spanID": span_id, "flags": 1, "operationName": "op", "references": references,
            "startTime": start, "duration": 1200, "logs": [], "processID": process, "warnings": None,
            "tags": [{"key": "span.kind", "type": "string", "value": kind},
                     {"key": "internal.span.format", "type": "string", "value": "zipkin"}]}


JAEGER_TRACES = {  # Jaeger 1.4x+: the server span is a CHILD_OF the client span (span-id deduper)
    "data": [{"traceID": "t1",
              "spans": [_jaeger_span("c1", "p1", "client"), _jaeger_span("s1", "p2", "server", parent="c1")],
              "processes": {"p1": {"serviceName": f"frontend.{NS}", "tags": []},
                            "p2": {"serviceName": f"cartservice.{NS}", "tags": []}},
              "warnings": None}],
    "total": 0, "limit": 0, "offset": 0, "errors": None,
}

JAEGER_OLD_TRACES = {  # the first Jaeger releases: parentSpanID instead of references, process inline
    "data": [{"traceID": "t1", "spans": [
        {"traceID": "t1", "spanID": "c1", "parentSpanID": "0", "operationName": "op", "startTime": NOW_US,
         "duration": 5, "tags": [], "process": {"serviceName": f"checkoutservice.{NS}"}},
        {"traceID": "t1", "spanID": "s1", "parentSpanID": "c1", "operationName": "op", "startTime": NOW_US + 1,
         "duration": 3, "tags": [], "process": {"serviceName": f"paymentservice.{NS}"}}]}],
    "errors": None,
}

JAEGER_RAW_SHARED = {  # ?raw=true: Envoy's client and server halves keep one span id
    "data": [{"traceID": "t1",
              "spans": [_jaeger_span("x1", "p1", "client"), _jaeger_span("x1", "p2", "server")],
              "processes": {"p1": {"serviceName": f"loadgenerator.{NS}"}, "p2": {"serviceName": f"frontend.{NS}"}}}],
    "errors": None,
}

ZIPKIN_SHARED = [[  # Envoy's default: shared span context between client and server
    {"traceId": "a" * 32, "id": "b" * 16, "kind": "CLIENT", "name": "op", "timestamp": NOW_US, "duration": 900,
     "localEndpoint": {"serviceName": f"recommendationservice.{NS}", "ipv4": "10.0.0.1"}, "tags": {}},
    {"traceId": "a" * 32, "id": "b" * 16, "kind": "SERVER", "shared": True, "name": "op", "timestamp": NOW_US + 5,
     "duration": 700, "localEndpoint": {"serviceName": f"productcatalogservice.{NS}"}, "tags": {}},
]]

ZIPKIN_CHILD = [[  # a tracer that does not share: the server span is a child of the client span
    {"traceId": "c" * 32, "id": "1" * 16, "kind": "CLIENT", "timestamp": NOW_US,
     "localEndpoint": {"serviceName": f"frontend.{NS}"}},
    {"traceId": "c" * 32, "id": "2" * 16, "parentId": "1" * 16, "kind": "SERVER", "timestamp": NOW_US + 1,
     "localEndpoint": {"serviceName": f"adservice.{NS}"}},
]]


# --- parsers --------------------------------------------------------------------------------------


def test_parse_jaeger_services_and_its_null_data():
    assert api.parse_jaeger_services({"data": ["b", "a"], "total": 2, "errors": None}) == ("a", "b")
    assert api.parse_jaeger_services({"data": None, "total": 0, "errors": None}) == ()


@pytest.mark.parametrize("doc", [["a"], {"services": []}, {"data": "a"}])
def test_parse_jaeger_services_refuses_other_shapes(doc):
    with pytest.raises(AddonError, match="unexpected shape"):
        api.parse_jaeger_services(doc)


def test_parse_jaeger_errors_become_addon_errors():
    doc = {"data": None, "total": 0, "limit": 0, "offset": 0,
           "errors": [{"code": 400, "msg": "parameter 'service' is required"}]}
    with pytest.raises(AddonError, match="parameter 'service' is required"):
        api.parse_jaeger_traces(doc, "x")


def test_parse_jaeger_traces_finds_the_client_to_server_hop():
    summary = api.parse_jaeger_traces(JAEGER_TRACES, f"frontend.{NS}")
    assert summary.traces == 1 and summary.hops == {(f"frontend.{NS}", f"cartservice.{NS}")}
    assert summary.newest == pytest.approx(NOW_US / 1e6)


def test_parse_jaeger_traces_of_the_first_releases():
    summary = api.parse_jaeger_traces(JAEGER_OLD_TRACES, f"checkoutservice.{NS}")
    assert summary.hops == {(f"checkoutservice.{NS}", f"paymentservice.{NS}")}


def test_parse_jaeger_raw_traces_with_shared_span_ids():
    assert api.parse_jaeger_traces(JAEGER_RAW_SHARED, "x").hops == {(f"loadgenerator.{NS}", f"frontend.{NS}")}


def test_parse_zipkin_traces_shared_and_child_spans():
    assert api.parse_zipkin_traces(ZIPKIN_SHARED, "x").hops == {
        (f"recommendationservice.{NS}", f"productcatalogservice.{NS}")}
    assert api.parse_zipkin_traces(ZIPKIN_CHILD, "x").hops == {(f"frontend.{NS}", f"adservice.{NS}")}


@pytest.mark.parametrize("doc", [{"data": []}, [{"id": "x"}], [[{"name": "no id"}]]])
def test_parse_zipkin_traces_refuses_other_shapes(doc):
    with pytest.raises(AddonError, match="unexpected shape"):
        api.parse_zipkin_traces(doc, "x")


def test_app_of_and_service_for():
    assert api.app_of(f"frontend.{NS}", NS) == "frontend"
    assert api.app_of("frontend", NS) == "frontend"
    assert api.app_of("istio-ingressgateway.istio-system", NS) is None
    assert api.service_for("frontend", ["jaeger-all-in-one", f"frontend.{NS}"], NS) == f"frontend.{NS}"
    assert api.service_for("adservice", ["jaeger-all-in-one"], NS) is None


# --- checks ---------------------------------------------------------------------------------------


BACKEND = api.Backend(api.JAEGER, "/jaeger/api/services", "/jaeger/api/traces")
EXPECTED_APPS = checks.traced_apps(PROFILE.traced_edges)


def test_traced_apps_and_callers_come_from_the_profile():
    assert "redis-cart" not in EXPECTED_APPS and "loadgenerator" in EXPECTED_APPS
    assert checks.callers(PROFILE.traced_edges) == ["checkoutservice", "frontend", "loadgenerator",
                                                    "recommendationservice"]


def test_check_services_listed_passes_and_fails():
    listed = api.ServiceList(BACKEND, tuple(f"{a}.{NS}" for a in EXPECTED_APPS))
    assert checks.check_services_listed(listed, EXPECTED_APPS, NS).passed
    partial = api.ServiceList(BACKEND, tuple(f"{a}.{NS}" for a in EXPECTED_APPS if a != "emailservice"))
    result = checks.check_services_listed(partial, EXPECTED_APPS, NS)
    assert not result.passed and f"lacks 1 of 11 boutique services: emailservice.{NS}" in result.message
    nothing = checks.check_services_listed(api.ServiceList(BACKEND, ("jaeger-all-in-one",)), EXPECTED_APPS, NS)
    assert not nothing.passed and "lists none" in nothing.message and "jaeger-all-in-one" in nothing.message
    assert not nothing.settled


def test_check_recent_traces_passes_and_fails():
    assert checks.check_recent_traces(api.TraceSummary(f"frontend.{NS}", 3), "frontend", NS, 3600).passed
    result = checks.check_recent_traces(api.TraceSummary(f"frontend.{NS}"), "frontend", NS, 3600)
    assert not result.passed and f"no traces of frontend.{NS} from the last 1h" in result.message
    assert not checks.check_recent_traces(None, "frontend", NS, 3600).passed


def test_check_traced_hops_names_missing_hops():
    hops = frozenset((f"{a}.{NS}", f"{b}.{NS}") for a, b in PROFILE.traced_edges if b != "paymentservice")
    summaries = {"frontend": api.TraceSummary(f"frontend.{NS}", 5, hops), "adservice": api.TraceSummary("ad")}
    result = checks.check_traced_hops(summaries, PROFILE.traced_edges, NS)
    assert not result.passed and not result.settled
    assert "lack 1 of 15 call-graph hops: checkoutservice→paymentservice" in result.message
    assert "no traces at all for adservice" in result.message
    full = frozenset((f"{a}.{NS}", f"{b}.{NS}") for a, b in PROFILE.traced_edges)
    assert checks.check_traced_hops({"x": api.TraceSummary("x", 1, full)}, PROFILE.traced_edges, NS).passed


# --- the simulator, round-tripped -----------------------------------------------------------------


def _everything(endpoint: Endpoint) -> tuple[api.ServiceList, dict[str, api.TraceSummary]]:
    listed = api.discover(endpoint)
    apps = sorted({*checks.callers(PROFILE.traced_edges), "frontend"})
    return listed, api.fetch_app_traces(endpoint, listed, apps, NS)


@pytest.mark.parametrize("backend,service,requests_made", [
    ("jaeger", "tracing", 5), ("zipkin", "zipkin", 5), ("zipkin", "tracing", 7)])
def test_sim_round_trip_passes_every_check(backend, service, requests_made):
    endpoint, adapter = endpoint_for(world(backend=backend), service)
    listed, summaries = _everything(endpoint)
    assert listed.backend.kind == backend
    assert checks.check_services_listed(listed, EXPECTED_APPS, NS).passed
    assert checks.check_recent_traces(summaries["frontend"], "frontend", NS, 3600).passed
    result = checks.check_traced_hops(summaries, PROFILE.traced_edges, NS)
    assert result.passed, result.text()
    assert len(adapter.paths) == requests_made


def test_sim_jaeger_lists_only_itself_when_nothing_is_traced():
    endpoint, adapter = endpoint_for(world(traces=False))
    listed, summaries = _everything(endpoint)
    assert listed.services == ("jaeger-all-in-one",) and len(adapter.paths) == 1   # nothing else to query
    assert not checks.check_services_listed(listed, EXPECTED_APPS, NS).passed
    assert not checks.check_recent_traces(summaries["frontend"], "frontend", NS, 3600).passed
    assert not checks.check_traced_hops(summaries, PROFILE.traced_edges, NS).passed


@pytest.mark.parametrize("backend", ["jaeger", "zipkin"])
def test_sim_missing_hops_fail_the_hops_check(backend):
    endpoint, _ = endpoint_for(world(backend=backend, missing_hops=[["frontend", "adservice"]]))
    listed, summaries = _everything(endpoint)
    result = checks.check_traced_hops(summaries, PROFILE.traced_edges, NS)
    assert not result.passed and "frontend→adservice" in result.message and "adservice" not in \
        " ".join(listed.services)


@pytest.mark.parametrize("backend", ["jaeger", "zipkin"])
def test_sim_tracing_that_stopped_keeps_its_services_but_no_recent_trace(backend):
    endpoint, _ = endpoint_for(world(backend=backend, stopped=7200))
    listed, summaries = _everything(endpoint)
    assert checks.check_services_listed(listed, EXPECTED_APPS, NS).passed
    recent = checks.check_recent_traces(summaries["frontend"], "frontend", NS, 3600)
    assert not recent.passed and f"no traces of frontend.{NS} from the last 1h" in recent.message
    assert not checks.check_traced_hops(summaries, PROFILE.traced_edges, NS).passed


def test_sim_untraced_redis_is_not_a_service():
    endpoint, _ = endpoint_for(world())
    assert f"redis-cart.{NS}" not in api.discover(endpoint).services


def test_sim_jaeger_honours_limit_start_and_end():
    endpoint, _ = endpoint_for(world())
    now = time.time()
    recent = endpoint.get_json("/jaeger/api/traces", {"service": f"frontend.{NS}", "limit": 3})
    assert len(recent["data"]) == 3 and recent["errors"] is None
    window = {"service": f"frontend.{NS}", "start": int((now - 120) * 1e6), "end": int((now - 60) * 1e6),
              "limit": 1000}
    traces = endpoint.get_json("/jaeger/api/traces", window)["data"]
    starts = [s["startTime"] for t in traces for s in t["spans"] if not s["references"]]
    assert traces and all(window["start"] <= s <= window["end"] for s in starts)
    assert len(traces) <= 8 * 3          # 8 edges touch the frontend, one call each per 30 s


def test_sim_jaeger_answers_the_same_traces_twice():
    endpoint, _ = endpoint_for(world())
    params = {"service": f"frontend.{NS}", "start": int((time.time() - 600) * 1e6),
              "end": int((time.time() - 300) * 1e6)}
    first = endpoint.get_json("/jaeger/api/traces", params)
    assert endpoint.get_json("/jaeger/api/traces", params) == first


def test_sim_jaeger_errors_have_jaegers_shape():
    endpoint, _ = endpoint_for(world())
    response = endpoint.get("/jaeger/api/traces")
    assert response.status_code == 400
    assert response.json() == {"data": None, "total": 0, "limit": 0, "offset": 0,
                               "errors": [{"code": 400, "msg": "parameter 'service' is required"}]}
    bad = endpoint.get("/jaeger/api/traces", {"service": "x", "start": "soon"})
    assert bad.status_code == 400 and "unable to parse param 'start'" in bad.json()["errors"][0]["msg"]
    with pytest.raises(AddonError, match="400"):
        api.fetch_traces(endpoint, api.Backend(api.JAEGER, "", "/jaeger/api/traces"), "")


def test_sim_jaeger_serves_its_ui_for_unknown_paths_and_zipkin_404s():
    endpoint, _ = endpoint_for(world())
    ui = endpoint.get("/api/v2/services")
    assert ui.status_code == 200 and ui.headers["Content-Type"].startswith("text/html")
    zipkin, _ = endpoint_for(world(backend="zipkin"), "zipkin")
    assert zipkin.get("/jaeger/api/services").status_code == 404
    assert zipkin.get("/zipkin/api/v2/services").json() == zipkin.get("/api/v2/services").json()
    assert zipkin.get("/api/v2/traces", {"serviceName": f"frontend.{NS}", "endTs": "later"}).status_code == 400


def test_sim_zipkin_honours_end_lookback_and_default_limit():
    endpoint, _ = endpoint_for(world(backend="zipkin"), "zipkin")
    now_ms = int(time.time() * 1000)
    traces = endpoint.get_json("/api/v2/traces", {"serviceName": f"frontend.{NS}"})
    assert len(traces) == 10
    window = endpoint.get_json("/api/v2/traces", {"serviceName": f"frontend.{NS}", "endTs": now_ms - 60_000,
                                                  "lookback": 60_000, "limit": 500})
    assert window and all(now_ms - 120_000 <= s["timestamp"] / 1000 <= now_ms - 60_000
                          for t in window for s in t if s["kind"] == "CLIENT")


def test_discover_reports_when_nothing_serves_a_tracing_api():
    def nothing(_: World, __: SimRequest) -> SimResponse:
        return SimResponse.text("404 page not found\n", 404)
    endpoint, adapter = endpoint_for(world(), "tracing", nothing)
    with pytest.raises(AddonError, match="serves neither Jaeger's query API nor Zipkin's v2 API"):
        api.discover(endpoint)
    assert len(adapter.paths) == 4


def test_discover_raises_on_server_errors():
    def broken(_: World, __: SimRequest) -> SimResponse:
        return SimResponse.text("upstream connect error", 503)
    endpoint, _ = endpoint_for(world(), "tracing", broken)
    with pytest.raises(AddonError, match="answered 503"):
        api.discover(endpoint)


def test_discover_refuses_a_truncated_services_list():
    def truncated(w: World, request: SimRequest) -> SimResponse:
        answer = sim.handle(w, request)
        return SimResponse(200, answer.body[: len(answer.body) // 2], answer.headers)
    endpoint, adapter = endpoint_for(world(), "tracing", truncated)
    with pytest.raises(AddonError, match="not JSON"):
        api.discover(endpoint)
    assert adapter.paths == ["/jaeger/api/services"]
