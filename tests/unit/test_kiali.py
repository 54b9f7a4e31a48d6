"""Kiali: the client's parsers on recorded shapes, the checks both ways, the simulator round-tripped.

Recorded shapes are derived from kiali/kiali: handlers/testdata/*_graph.expected (graphs, old and
new formats), status/status.go and status/versions.go (the status document of v1 and v2).
"""

from __future__ import annotations

import json

import pytest
import requests
import yaml

from meshcheck.addons import kiali as api
from meshcheck.checks import kiali as checks
from meshcheck.checks.reach import Network
from meshcheck.endpoints import Endpoint
from meshcheck.errors import AddonError
from meshcheck.profile import load_profile
from meshcheck.sim.addons import kiali as sim
from meshcheck.sim.protocol import SimRequest, SimResponse
from meshcheck.sim.world import World
from tests.unit.simhttp import SimAdapter, addon_world

NS = "online-boutique"
PROFILE = load_profile()


# --- a session that answers from a simulator handler ---------------------------------------------


PROXY = "/api/v1/namespaces/istio-system/services/kiali:20001/proxy"


def endpoint_for(world: World, handler=sim.handle) -> tuple[Endpoint, SimAdapter]:
    adapter = SimAdapter(lambda r: handler(world, r), PROXY)
    session = requests.Session()
    session.mount("https://sim/", adapter)
    return Endpoint("kiali", "https://sim" + PROXY, "the API server's service proxy", "istio-system/kiali",
                    session), adapter


def world(**knobs) -> World:
    return World(NS, "istio-system", "1.20.0", tuple(PROFILE.workloads), PROFILE.edges, {"kiali": knobs})


# --- recorded documents ---------------------------------------------------------------------------


STATUS_V1_63 = {   # Kiali v1.63 (Istio 1.17's add-on) with a configured tracing URL
    "status": {"Kiali commit hash": "2d4a3fd1", "Kiali container version": "v1.63.1", "Kiali state": "running",
               "Kiali version": "v1.63.1"},
    "externalServices": [{"name": "Istio", "version": "1.17.2"}, {"name": "Prometheus", "version": "2.41.0"},
                         {"name": "Kubernetes", "version": "v1.25.3"}, {"name": "Grafana"},
                         {"name": "Jaeger", "url": "http://tracing.istio-system:80/jaeger"}],
    "warningMessages": [],
    "istioEnvironment": {"isMaistra": False, "istioAPIEnabled": True},
}

STATUS_V2 = {      # Kiali v2.x: Kubernetes per cluster, provider-named tracing entry with tempoConfig
    "status": {"Disabled features": "", "Kiali commit hash": "a1b2", "Kiali container version": "v2.5.0",
               "Kiali state": "running", "Kiali version": "v2.5.0"},
    "externalServices": [{"name": "Kubernetes-Kubernetes", "version": "v1.31.0"},
                         {"name": "Prometheus", "version": "3.1.0"},
                         {"name": "jaeger", "version": "1.65.0", "url": "http://tracing.istio-system.svc.cluster.local/jaeger",
                          "tempoConfig": {}}],
    "warningMessages": [],
    "istioEnvironment": {"istioAPIEnabled": True},
}

STATUS_OLDEST = {  # before v1.0: "Kiali core version", no url on external services
    "status": {"Kiali core commit hash": "x", "Kiali core version": "v0.9.0", "Kiali state": "running"},
    "externalServices": [{"name": "Istio", "version": "1.0.0"}],
    "warningMessages": [],
}


def _node(node_id: str, node_type: str, **fields) -> dict:
    return {"data": {"id": node_id, "nodeType": node_type, "cluster": "Kubernetes", "namespace": NS, **fields}}


def _edge(source: str, target: str, protocol: str = "grpc") -> dict:
    return {"data": {"id": f"{source}-{target}", "source": source, "target": target,
                     "traffic": {"protocol": protocol, "rates": {protocol: "1.00"},
                                 "responses": {"0": {"flags": {"-": "100.0"}}}}}}


INJECTED_GRAPH = {  # workload graph with injectServiceNodes=true, modern format
    "timestamp": 1700000000, "duration": 600, "graphType": "workload",
    "elements": {
        "nodes": [
            _node("w-front", "workload", workload="frontend", app="frontend", healthData=None),
            _node("s-cart", "service", service="cartservice",
                  destServices=[{"cluster": "Kubernetes", "namespace": NS, "name": "cartservice"}]),
            _node("w-cart", "workload", workload="cartservice", app="cartservice"),
            _node("s-ad", "service", service="adservice"),          # nothing behind it: unanswered
            _node("w-gw", "workload", workload="istio-ingressgateway", app="istio-ingressgateway",
                  namespace="istio-system", isRoot=True),
            _node("unknown", "unknown", workload="unknown", app="unknown", namespace="unknown"),
        ],
        "edges": [_edge("w-front", "s-cart"), _edge("s-cart", "w-cart"), _edge("w-front", "s-ad"),
                  _edge("w-gw", "w-front", "http"), _edge("unknown", "w-front", "http")],
    },
}

OLD_FORMAT_GRAPH = {  # Kiali 0.x/1.0 (handlers/testdata): destServices as a map, edge traffic as a list
    "timestamp": 1523364075, "duration": 600, "graphType": "workload",
    "elements": {
        "nodes": [
            {"data": {"id": "a", "nodeType": "workload", "namespace": NS, "workload": "frontend", "app": "frontend",
                      "version": "v1", "destServices": {"frontend": True},
                      "traffic": [{"protocol": "http", "rates": {"httpIn": "80.00"}}]}},
            {"data": {"id": "b", "nodeType": "workload", "namespace": NS, "workload": "adservice", "app": "adservice",
                      "rate": "20.00"}},
        ],
        "edges": [{"data": {"id": "e", "source": "a", "target": "b",
                            "traffic": [{"protocol": "http", "rates": {"http": "20.00"}}]}}],
    },
}

APP_GRAPH_WITH_BOXES = {
    "timestamp": 1, "duration": 600, "graphType": "versionedApp",
    "elements": {
        "nodes": [
            _node("box-front", "box", app="frontend", isBox="app"),
            _node("a-front", "app", app="frontend", version="v1", workload="frontend", parent="box-front"),
            _node("a-cur", "app", app="currencyservice", version="v1", workload="currencyservice"),
        ],
        "edges": [_edge("a-front", "a-cur")],
    },
}


# --- status ---------------------------------------------------------------------------------------


def test_parse_status_of_kiali_v1_63_reads_version_and_tracing_url():
    status = api.parse_status(STATUS_V1_63)
    assert status.state == "running" and status.version == "v1.63.1"
    assert status.tracing_enabled and status.tracing_provider == "Jaeger"
    assert status.tracing_url == "http://tracing.istio-system:80/jaeger"


def test_parse_status_of_kiali_v2_reads_provider_entry():
    status = api.parse_status(STATUS_V2)
    assert status.version == "v2.5.0" and status.tracing_provider == "jaeger"
    assert status.tracing_url.startswith("http://tracing.istio-system.svc.cluster.local")


def test_parse_status_of_oldest_kiali_without_tracing():
    status = api.parse_status(STATUS_OLDEST)
    assert status.version == "v0.9.0" and not status.tracing_enabled and status.tracing_url == ""


@pytest.mark.parametrize("doc", [[], {"externalServices": []}, {"status": "running"}, None])
def test_parse_status_refuses_other_shapes(doc):
    with pytest.raises(AddonError, match="unexpected shape"):
        api.parse_status(doc)


def test_check_kiali_healthy_passes_and_fails():
    assert checks.check_kiali_healthy(api.parse_status(STATUS_V2)).passed
    doc = json.loads(json.dumps(STATUS_V2))
    doc["status"]["Kiali state"] = "starting"
    result = checks.check_kiali_healthy(api.parse_status(doc))
    assert not result.passed and "starting" in result.message and not result.settled


# --- tracing URL ----------------------------------------------------------------------------------


def _svc(name, ns="istio-system", ports=((80, None),), kind="ClusterIP"):
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"type": kind, "clusterIP": "10.96.0.9",
                     "ports": [{"port": p, **({"nodePort": n} if n else {})} for p, n in ports]}}


def _node(name, ip):
    return {"metadata": {"name": name}, "status": {"addresses": [{"type": "InternalIP", "address": ip},
                                                                {"type": "Hostname", "address": name}]}}


JAEGER_NETWORK = Network(services=[_svc("tracing", ports=((80, None), (16685, None))),
                                   _svc("zipkin", ports=((9411, None),)),
                                   _svc("jaeger-query", "observability", ports=((16686, None),))])
LAB_NETWORK = Network(
    services=[_svc("tracing", ports=((80, 32455),), kind="NodePort"), _svc("zipkin", ports=((9411, None),)),
              _svc("kiali", ports=((20001, 30016),), kind="NodePort")],
    nodes=[_node("k8s-master", "192.168.88.200"), _node("k8s-node1", "192.168.88.201")],
)
LAB_SETTINGS = api.TracingSettings("istio-system", "ConfigMap istio-system/kiali",
                                   external_url="http://192.168.88.200:32455/zipkin", external_key="url",
                                   internal_url="http://tracing/zipkin", internal_key="in_cluster_url")
NOT_ASKED = api.IstioStatus(asked=False)
NO_PROBLEM = api.IstioStatus()


def _status(url: str, version: str = "v1.63.1") -> api.KialiStatus:
    return api.KialiStatus(**{**api.parse_status(STATUS_V1_63).__dict__, "tracing_url": url, "version": version})


def judge(url="http://192.168.88.200:32455/zipkin", settings=LAB_SETTINGS, istio=NO_PROBLEM,
          network=LAB_NETWORK, version="v1.63.1"):
    return checks.check_tracing_url(_status(url, version), settings, istio, network, PROFILE.addons["tracing"])


def test_the_labs_tracing_link_passes_and_says_why():
    result = judge()
    assert result.passed, result.text()
    assert result.message == (
        "Kiali's tracing link http://192.168.88.200:32455/zipkin reaches Service istio-system/tracing through "
        "NodePort 32455 of node k8s-master; Kiali reaches it in-cluster at http://tracing/zipkin (by its cluster "
        "DNS name tracing, port 80); Kiali's istio status lists no problem with tracing (Kiali v1.63.1 lists only "
        "problems)")
    assert result.diagnostics["way"] == "through NodePort 32455 of node k8s-master"
    assert result.diagnostics["in_cluster_service"] == "istio-system/tracing"


@pytest.mark.parametrize("url", [
    "http://tracing/jaeger", "http://tracing.istio-system/jaeger", "http://tracing.istio-system.svc:80/jaeger",
    "http://tracing.istio-system.svc.cluster.local:16685/jaeger", "http://jaeger-query.observability:16686",
    "zipkin.istio-system:9411",
])
def test_check_tracing_url_accepts_the_service_in_every_form(url):
    settings = api.TracingSettings("istio-system", "ConfigMap istio-system/kiali", external_url=url)
    result = judge(url, settings, network=JAEGER_NETWORK)
    assert result.passed, result.text()
    assert "in-cluster at http://tracing.istio-system:16685/jaeger (by its cluster DNS name" in result.message


def test_a_node_port_no_tracing_service_has_fails_naming_the_node_ports_and_the_fix():
    result = judge("http://192.168.88.200:32000/zipkin")
    assert not result.passed and result.settled
    assert ("Kiali's tracing link http://192.168.88.200:32000/zipkin does not reach the tracing Service (tracing, "
            "jaeger-query, zipkin): 192.168.88.200 is node k8s-master's InternalIP, but no Service looked for has "
            "NodePort 32000 (Service istio-system/tracing has NodePort 32455") in result.message
    assert result.remediation == (
        "set external_services.tracing.url in config.yaml of ConfigMap istio-system/kiali to a URL that reaches it, "
        "e.g. http://192.168.88.200:32455/zipkin, then restart Kiali")


@pytest.mark.parametrize("url,fragment", [
    ("http://localhost:16686/jaeger", "localhost is none of the ways into the cluster"),
    ("http://tracing.example.com/jaeger", "tracing.example.com is none of the ways"),
    ("http://grafana.istio-system:3000", "grafana.istio-system is none of the ways"),
    ("http://kiali.istio-system:20001", "is Service istio-system/kiali, which is not the Service looked for"),
])
def test_check_tracing_url_fails_on_other_urls(url, fragment):
    result = judge(url)
    assert not result.passed and fragment in result.message, result.text()
    assert "does not reach the tracing Service" in result.message and result.settled


def test_kiali_2_fixes_name_its_keys():
    settings = api.TracingSettings("istio-system", "Kiali CR kiali-operator/kiali", external_url="http://x.invalid/")
    result = judge("http://x.invalid/", settings, version="v2.5.0")
    fix = "set external_services.tracing.external_url under spec of Kiali CR kiali-operator/kiali"
    assert fix in result.remediation


def test_an_in_cluster_url_on_a_port_the_service_lacks_fails():
    settings = api.TracingSettings(**{**LAB_SETTINGS.__dict__, "internal_url": "http://tracing:9411/zipkin"})
    result = judge(settings=settings)
    assert not result.passed
    assert ("the URL Kiali queries in-cluster, http://tracing:9411/zipkin (set by in_cluster_url), does not reach "
            "the tracing Service: tracing is Service istio-system/tracing, which has no port 9411 (its ports: 80)"
            ) in result.message
    assert "set external_services.tracing.in_cluster_url in config.yaml of ConfigMap istio-system/kiali" in (
        result.remediation)


def test_kialis_default_in_cluster_url_is_judged_when_none_is_set():
    settings = api.TracingSettings(**{**LAB_SETTINGS.__dict__, "internal_url": "", "internal_key": ""})
    result = judge(settings=settings)
    assert not result.passed
    assert ("http://tracing.istio-system:16685/jaeger (Kiali's default: external_services.tracing.in_cluster_url "
            "is not set)") in result.message


def test_kiali_saying_tracing_is_unreachable_fails_naming_its_in_cluster_url():
    istio = api.parse_istio_status([{"name": "jaeger", "status": "Unreachable", "is_core": False}])
    result = judge(istio=istio)
    assert not result.passed
    assert ("Kiali's istio status says its tracing backend is Unreachable at its in-cluster URL "
            "http://tracing/zipkin") in result.message
    assert "check that the tracing pods in istio-system are ready" in result.remediation
    assert result.diagnostics["istio_status_tracing"] == "Unreachable"


def test_kiali_saying_tracing_is_healthy_is_in_the_message():
    istio = api.parse_istio_status([{"name": "tracing", "status": "Healthy", "isCore": False}])
    assert judge(istio=istio, version="v2.13.0").message.endswith("Kiali's istio status says tracing is Healthy")
    assert judge(istio=NOT_ASKED).message.endswith("(this Kiali has no istio status API to ask)")


def test_unreadable_settings_judge_only_the_link():
    settings = api.unreadable_settings("istio-system", "this user may not read ConfigMaps in istio-system (403)")
    result = judge(settings=settings)
    assert result.passed
    assert ("only the link was judged, not the URL Kiali queries in-cluster: this user may not read ConfigMaps in "
            "istio-system (403)") in result.message


def test_check_tracing_url_fails_when_tracing_is_disabled():
    settings = api.TracingSettings("istio-system", "ConfigMap istio-system/kiali", enabled=False)
    result = checks.check_tracing_url(api.parse_status(STATUS_OLDEST), settings, NOT_ASKED, LAB_NETWORK,
                                      PROFILE.addons["tracing"])
    assert not result.passed and "tracing disabled" in result.message and "enabled: false" in result.message
    assert result.remediation.startswith("set external_services.tracing.enabled: true and external_services.tracing")


def test_check_tracing_url_fails_without_a_link():
    settings = api.TracingSettings("istio-system", "ConfigMap istio-system/kiali")
    result = judge("", settings)
    assert not result.passed and "has no tracing link: external_services.tracing.url is not set" in result.message
    assert "e.g. http://192.168.88.200:32455/jaeger" in result.remediation


# --- graph ----------------------------------------------------------------------------------------


def test_observed_edges_follow_injected_service_nodes():
    graph = api.parse_graph(INJECTED_GRAPH)
    edges = {(e.source, e.target): e.answered for e in api.observed_edges(graph, NS)}
    assert edges == {("frontend", "cartservice"): True, ("frontend", "adservice"): False}


def test_parse_graph_reads_the_old_format():
    graph = api.parse_graph(OLD_FORMAT_GRAPH)
    assert [(e.source, e.target) for e in api.observed_edges(graph, NS)] == [("frontend", "adservice")]


def test_parse_graph_skips_app_boxes():
    graph = api.parse_graph(APP_GRAPH_WITH_BOXES)
    assert graph.nodes["box-front"].node_type == "box"
    assert [(e.source, e.target) for e in api.observed_edges(graph, NS)] == [("frontend", "currencyservice")]


@pytest.mark.parametrize("doc", [{"elements": None}, {"elements": {"nodes": {}, "edges": []}},
                                 {"elements": {"nodes": [{"id": "x"}], "edges": []}}, ["nodes"]])
def test_parse_graph_refuses_other_shapes(doc):
    with pytest.raises(AddonError, match="unexpected shape"):
        api.parse_graph(doc)


def test_check_graph_edges_names_missing_and_unanswered_edges():
    graph = api.parse_graph(INJECTED_GRAPH)
    expected = [("frontend", "cartservice"), ("frontend", "adservice"), ("checkoutservice", "paymentservice")]
    result = checks.check_graph_edges(graph, expected, NS)
    assert not result.passed and not result.settled
    assert "lacks 1 of 3 call-graph edges: checkoutservice→paymentservice" in result.message
    assert "frontend→adservice ending at the callee's service node" in result.message
    assert "no workload answered" in result.message and "adservice" in result.remediation


def test_check_graph_edges_fails_on_an_empty_graph():
    graph = api.parse_graph({"graphType": "workload", "elements": {"nodes": [], "edges": []}})
    result = checks.check_graph_edges(graph, PROFILE.edges, NS)
    assert not result.passed and "has no edges" in result.message and not result.settled


def test_check_graph_edges_passes_when_all_edges_are_answered():
    graph = api.parse_graph(INJECTED_GRAPH)
    assert checks.check_graph_edges(graph, [("frontend", "cartservice")], NS).passed


# --- the simulator, round-tripped -----------------------------------------------------------------


def judge_sim(w: World) -> tuple[checks.CheckResult, api.TracingSettings, SimAdapter]:
    """The tracing check on a simulated world, read as the suite reads a cluster."""
    endpoint, adapter = endpoint_for(w)
    status = api.fetch_status(endpoint)
    istio = api.fetch_istio_status(endpoint, status.web_root)
    settings = api.tracing_settings(w.of_kind("configmaps", "istio-system"), [], "istio-system", status.version)
    network = Network(services=w.of_kind("services"), nodes=w.of_kind("nodes"),
                      virtual_services=w.of_kind("virtualservices.networking.istio.io"))
    return checks.check_tracing_url(status, settings, istio, network, PROFILE.addons["tracing"]), settings, adapter


def test_sim_round_trips_with_the_default_tracing_url():
    result, settings, adapter = judge_sim(addon_world("kiali"))
    assert adapter.paths == ["/kiali/api/status", "/kiali/api/istio/status"]
    assert settings.source == "ConfigMap istio-system/kiali" and settings.internal_url == ""
    assert result.passed, result.text()
    assert result.message == (
        "Kiali's tracing link http://tracing.istio-system/jaeger reaches Service istio-system/tracing by its cluster "
        "DNS name tracing.istio-system, port 80; Kiali reaches it in-cluster at http://tracing.istio-system:16685/"
        "jaeger (by its cluster DNS name tracing.istio-system, port 16685); Kiali's istio status lists no problem "
        "with tracing (Kiali v1.76.0 lists only problems)")


@pytest.mark.parametrize("knobs,passed,fragment", [
    ({"tracing_url": "http://localhost:16686/jaeger"}, False, "localhost is none of the ways"),
    ({"tracing_url": ""}, False, "has no tracing link"),
    ({"tracing_url": None}, False, "tracing disabled"),
    ({"in_cluster_url": "http://zipkin.istio-system:9411"}, False, "tracing backend is Unreachable"),
    ({"version": "v2.x"}, True, "Kiali's istio status says tracing is Healthy"),
    ({"version": "v1.84.0", "in_cluster_url": "http://tracing.istio-system/jaeger", "use_grpc": False}, True,
     "tracing is Healthy"),
    ({"version": "v1.84.0", "in_cluster_url": "http://tracing.istio-system/jaeger"}, False,
     "tracing backend is Unreachable at its in-cluster URL http://tracing.istio-system/jaeger"),
])
def test_sim_knobs(knobs, passed, fragment):
    result, _, _ = judge_sim(addon_world("kiali", **knobs))
    assert result.passed is passed and fragment in result.message, result.text()


@pytest.mark.parametrize("version,tracing", [
    ("v1.63.1", {"url": "http://l/", "in_cluster_url": "http://i/"}),
    ("v1.82.0", {"enabled": True, "url": "http://l/", "in_cluster_url": "http://i/"}),
    ("v2.x", {"enabled": True, "external_url": "http://l/", "internal_url": "http://i/"}),
])
def test_sim_config_map_is_written_in_the_keys_of_the_kiali_version(version, tracing):
    w = addon_world("kiali", version=version, tracing_url="http://l/", in_cluster_url="http://i/")
    config_map = next(c for c in w.of_kind("configmaps", "istio-system") if c["metadata"]["name"] == "kiali")
    config = yaml.safe_load(config_map["data"]["config.yaml"])
    assert config["external_services"]["tracing"] == tracing
    assert config["server"]["web_root"] == "/kiali" and config["istio_namespace"] == "istio-system"
    deployment = next(d for d in w.of_kind("deployments", "istio-system") if d["metadata"]["name"] == "kiali")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.startswith("quay.io/kiali/kiali:v" + version.lstrip("v")[:1])


def test_sim_config_map_with_tracing_off_as_shipped():
    for version in ("v1.63.1", "v1.82.0"):
        w = addon_world("kiali", version=version, tracing_url=None)
        config_map = next(c for c in w.of_kind("configmaps", "istio-system") if c["metadata"]["name"] == "kiali")
        assert yaml.safe_load(config_map["data"]["config.yaml"])["external_services"]["tracing"] == {"enabled": False}


@pytest.mark.parametrize("version,expected", [
    ("v1.63.1", [{"name": "jaeger", "status": "Unreachable", "is_core": False}]),
    ("v1.76.0", [{"name": "tracing", "status": "Unreachable", "is_core": False}]),
    ("v2.4.0", [{"name": "tracing", "status": "Unreachable", "is_core": False}]),
    ("v2.13.0", [{"cluster": "Kubernetes", "name": "tracing", "status": "Unreachable", "isCore": False}]),
])
def test_sim_istio_status_per_version(version, expected):
    healthy, _ = endpoint_for(addon_world("kiali", version=version))
    listed = healthy.get_json("/kiali/api/istio/status")
    if not api.lists_healthy_components(version):
        assert listed == []                      # only problems are listed
    else:
        healthy_names = {e["name"] for e in listed if e["status"] == "Healthy"}
        assert {"istiod", "istio-ingressgateway", "prometheus", "tracing"} <= healthy_names
    broken, _ = endpoint_for(addon_world("kiali", version=version, in_cluster_url="http://grafana:3000"))
    assert [e for e in broken.get_json("/kiali/api/istio/status") if e["name"] in ("jaeger", "tracing")] == expected


def test_sim_status_of_kiali_v2_has_its_shape():
    endpoint, _ = endpoint_for(world(version="v2.x"))
    status = api.fetch_status(endpoint)
    assert status.version.startswith("v2.") and "Kubernetes-Kubernetes" in status.external_services
    assert "Istio" not in status.external_services


def test_fetch_status_falls_back_to_the_root_web_root():
    def at_root(w: World, request: SimRequest) -> SimResponse:
        if request.path.startswith("/kiali"):
            return SimResponse.text("404 page not found\n", 404)
        return sim.handle(w, SimRequest(request.method, "/kiali" + request.path, request.query))
    endpoint, adapter = endpoint_for(world(), at_root)
    status = api.fetch_status(endpoint)
    assert status.web_root == "" and adapter.paths == ["/kiali/api/status", "/api/status"]


@pytest.mark.parametrize("graph_type", ["workload", "app", "versionedApp", "service"])
@pytest.mark.parametrize("inject", [False, True])
def test_sim_graph_has_the_whole_call_graph(graph_type, inject):
    endpoint, adapter = endpoint_for(world())
    graph = api.fetch_graph(endpoint, NS, graph_type=graph_type, inject_service_nodes=inject)
    assert graph.graph_type == graph_type and len(adapter.paths) == 1
    result = checks.check_graph_edges(graph, PROFILE.edges, NS)
    assert result.passed, result.text()


@pytest.mark.parametrize("inject", [False, True])
def test_sim_graph_knobs_fail_the_check(inject):
    knobs = {"missing_edges": [["checkoutservice", "paymentservice"]],
             "unanswered_edges": [["checkoutservice", "emailservice"]]}
    endpoint, _ = endpoint_for(world(**knobs))
    graph = api.fetch_graph(endpoint, NS, inject_service_nodes=inject)
    result = checks.check_graph_edges(graph, PROFILE.edges, NS)
    assert not result.passed
    assert "lacks 1 of 16 call-graph edges: checkoutservice→paymentservice" in result.message
    assert "checkoutservice→emailservice ending at the callee's service node" in result.message


def test_sim_graph_nodes_and_edges_have_kialis_fields():
    endpoint, _ = endpoint_for(world())
    doc = endpoint.get_json("/kiali/api/namespaces/graph", {"namespaces": NS, "graphType": "workload"})
    node = doc["elements"]["nodes"][0]["data"]
    edge = doc["elements"]["edges"][0]["data"]
    assert {"id", "nodeType", "cluster", "namespace", "workload", "app", "healthData"} <= set(node)
    assert {"id", "source", "target", "traffic"} <= set(edge) and {"protocol", "rates"} <= set(edge["traffic"])
    assert doc["duration"] == 600 and len(node["id"]) == 64


@pytest.mark.parametrize("params,status,fragment", [
    ({"namespaces": NS, "graphType": "pods"}, 400, "Invalid graphType [pods]"),
    ({"graphType": "workload"}, 400, "At least one namespace must be specified via the namespaces query parameter."),
    ({"namespaces": "nowhere"}, 403, "Requested namespace [nowhere] is not accessible."),
    ({"namespaces": NS, "duration": "ten"}, 400, "Invalid duration [ten]"),
    ({"namespaces": NS, "injectServiceNodes": "maybe"}, 400, "Invalid injectServiceNodes [maybe]"),
])
def test_sim_graph_refuses_bad_queries_like_kiali(params, status, fragment):
    endpoint, _ = endpoint_for(world())
    response = endpoint.get("/kiali/api/namespaces/graph", params)
    assert response.status_code == status and response.json() == {"error": fragment}
    with pytest.raises(AddonError, match=str(status)):
        endpoint.get_json("/kiali/api/namespaces/graph", params)


def test_sim_unknown_paths_answer_like_kiali():
    endpoint, _ = endpoint_for(world())
    assert endpoint.get("/kiali/api/namespaces/online-boutique/nothing").status_code == 404
    assert endpoint.get("/kiali/healthz").status_code == 200
    ui = endpoint.get("/kiali/console/graph")
    assert ui.status_code == 200 and ui.headers["Content-Type"].startswith("text/html")
    assert endpoint.get("/elsewhere").text == "404 page not found\n"


def _truncated(w: World, request: SimRequest) -> SimResponse:
    answer = sim.handle(w, request)
    return SimResponse(200, answer.body[: len(answer.body) // 2], answer.headers)


@pytest.mark.parametrize("handler,fragment", [
    (_truncated, "with a body that is not JSON"),
    (lambda w, r: SimResponse.text("upstream connect error", 503), "answered 503"),
    (lambda w, r: SimResponse.text("404 page not found\n", 404), "has no status API"),
])
def test_fetch_status_errors_name_what_was_seen(handler, fragment):
    endpoint, _ = endpoint_for(world(), handler)
    with pytest.raises(AddonError, match=fragment):
        api.fetch_status(endpoint)


@pytest.mark.parametrize("version", ["v1.63.1", "v1.84.0"])
def test_zipkin_behind_the_tracing_service_makes_kialis_unreachable_a_note(version):
    """Kiali queries the Jaeger API, which Zipkin does not serve: the lab's Kiali always says Unreachable,
    while its link and its in-cluster URL both reach the Service. That passes, saying why."""
    from meshcheck.sim import scenario
    from meshcheck.sim.build import build_world

    model = scenario.merge(scenario.load("healthy"), {"addons": {
        "tracing": {"backend": "zipkin"},
        "kiali": {"version": version, "tracing_url": "http://tracing.istio-system/zipkin",
                  "in_cluster_url": "http://tracing/zipkin"}}})
    result, _, _ = judge_sim(build_world(model, None, 0))
    assert result.passed, result.text()
    assert "as it always is with Zipkin behind the tracing Service" in result.message
    wrong_port = scenario.merge(model, {"addons": {"kiali": {"in_cluster_url": "http://tracing:9411/zipkin"}}})
    assert not judge_sim(build_world(wrong_port, None, 0))[0].passed
