"""The simulator's side of the load layer: the pods/log subresource and the generator's log growing with the
clock, Prometheus's rate and increase over the simulated traffic (the storefront's served requests included, a
stopped generator's frozen), Grafana's query API; and on the suite's side, how Locust is handed the way to the
shop, and that the pytest process never imports Locust."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from meshcheck import kube
from meshcheck.addons import grafana_query, traffic
from meshcheck.addons.grafana import Datasource
from meshcheck.addons.locust import NEW_LAYOUT, OLD_LAYOUT, parse_log
from meshcheck.endpoints import Endpoint
from meshcheck.errors import ClusterError
from meshcheck.load import run as load_run
from meshcheck.load.connection import connection_of
from meshcheck.sim import loadgen, podlogs
from meshcheck.sim import traffic as sim_traffic
from meshcheck.sim.addons import grafana as sim_grafana
from meshcheck.sim.addons import grafana_ds, promql, promrange
from meshcheck.sim.protocol import SimRequest
from meshcheck.sim.storefront import Storefront
from tests.unit.simhttp import addon_world, start_sim

NS = "online-boutique"


def pod_named(world: Any, app: str) -> str:
    return next(p["metadata"]["name"] for p in world.of_kind("pods", NS) if p["metadata"]["labels"]["app"] == app)


def log_request(world: Any, pod: str, **args: str) -> Any:
    return podlogs.handle(world, SimRequest("GET", f"/api/v1/namespaces/{NS}/pods/{pod}/log",
                                            {k: [v] for k, v in args.items()}))


# --- pods/log ----------------------------------------------------------------------------------------


def test_the_generator_log_is_text_with_kubelet_timestamps_and_grows_with_the_clock():
    world = addon_world("loadgenerator")
    pod = pod_named(world, "loadgenerator")
    first = log_request(world, pod, container="main", tailLines="60", timestamps="true")
    assert first.status == 200 and first.headers["Content-Type"] == "text/plain"
    lines = first.body.decode().splitlines()
    assert len(lines) == 60 and lines[-1].endswith("Z ") and "T" in lines[0][:11]
    time.sleep(2.1)
    second = parse_log(log_request(world, pod, container="main", tailLines="60", timestamps="true").body.decode())
    earlier = parse_log(first.body.decode())
    assert second.latest and earlier.latest and second.latest.total.requests > earlier.latest.total.requests
    assert second.latest.layout == NEW_LAYOUT  # healthy runs boutique v0.8.0, hence Locust 2.15.1


def test_the_scenario_chooses_the_locust_release_and_its_layout():
    world = addon_world("loadgenerator", locust="1.6.0")
    text = log_request(world, pod_named(world, "loadgenerator"), container="main", tailLines="30").body.decode()
    assert parse_log(text).latest.layout == OLD_LAYOUT  # type: ignore[union-attr]


def test_the_log_route_refuses_as_the_api_server_does():
    world = addon_world("loadgenerator")
    pod = pod_named(world, "loadgenerator")
    no_container = json.loads(log_request(world, pod).body)
    assert no_container["code"] == 400 and no_container["message"] == (
        f"a container name must be specified for pod {pod}, choose one of: [main istio-proxy] or one of the init "
        "containers: [istio-init]")
    invalid = json.loads(log_request(world, pod, container="nope").body)
    assert "container nope is not valid for pod" in invalid["message"]
    assert json.loads(log_request(world, "ghost", container="main").body)["message"] == 'pods "ghost" not found'
    previous = json.loads(log_request(world, pod, container="main", previous="true").body)
    assert previous["message"] == f'previous terminated container "main" in pod "{pod}" not found'
    assert log_request(world, pod_named(world, "frontend"), container="server").body == b""
    assert podlogs.handle(world, SimRequest("GET", "/api/v1/namespaces/x/pods")) is None


def test_a_scaled_to_zero_generator_has_no_pod_and_stops_the_mesh_traffic():
    world = addon_world("loadgenerator", replicas=0, stopped="10m")
    loadgen.shape(world)
    deployment = next(d for d in world.of_kind("deployments", NS) if d["metadata"]["name"] == "loadgenerator")
    assert deployment["spec"]["replicas"] == 0 and not any(
        p["metadata"]["labels"]["app"] == "loadgenerator" for p in world.of_kind("pods", NS))
    assert promrange.evaluate(traffic.rate_expr(NS, "frontend", "5m"), world) == [({}, 0.0)]
    assert promrange.evaluate(traffic.total_expr(NS, "frontend"), world)[0][1] > 0  # its counters remain


# --- Prometheus over time ---------------------------------------------------------------------------


def test_rate_and_increase_follow_the_simulated_traffic_and_the_storefronts_requests():
    world = addon_world("storefront")
    ((_, rate),) = promrange.evaluate(traffic.rate_expr(NS, "frontend", "5m"), world)
    assert rate == pytest.approx(1.7, abs=0.01)
    before = promrange.evaluate(traffic.total_expr(NS, "frontend"), world)[0][1]
    shop = Storefront(world)
    for _ in range(30):
        shop.handle(SimRequest("GET", "/"))
    after = promrange.evaluate(traffic.total_expr(NS, "frontend"), world)[0][1]
    assert after - before >= 30
    grown = promrange.evaluate(f'sum by (source_workload) (increase({traffic.entry_selector(NS, "frontend")}[1m]))',
                               world)
    assert dict((labels["source_workload"], value) for labels, value in grown)["istio-ingressgateway"] == 30
    assert sim_traffic.ledger(world).by_code(time.time())[200] == 30


def test_range_queries_drop_the_metric_name_and_unknown_functions_are_refused():
    world = addon_world("prometheus")
    series = promrange.evaluate(f'rate({traffic.entry_selector(NS, "frontend")}[5m])', world)
    assert series and all("__name__" not in labels for labels, _ in series)
    with pytest.raises(promql.PromQLError, match="unexpected function 'irate'"):
        promrange.evaluate(f'sum(irate({traffic.entry_selector(NS, "frontend")}[5m]))', world)


# --- Grafana's query API ----------------------------------------------------------------------------


def ds_query(world: Any, body: Any) -> tuple[int, Any]:
    answer = grafana_ds.handle(world, SimRequest("POST", "/api/ds/query", body=json.dumps(body).encode()))
    return answer.status, json.loads(answer.body)


def test_grafana_answers_the_rate_in_data_frames_the_client_reads():
    world = addon_world("grafana")
    source = Datasource(1, "PBFA97CFB590B2093", "Prometheus", "prometheus", "http://prometheus:9090", True)
    expr = traffic.rate_expr(NS, "frontend", "5m")
    status, payload = ds_query(world, grafana_query.prometheus_query_body(source, expr, "5m"))
    frame = payload["results"]["A"]["frames"][0]
    assert status == 200 and frame["schema"]["meta"]["type"] == "numeric-multi"
    assert [f["name"] for f in frame["schema"]["fields"]] == ["Time", "Value"]
    answer = grafana_query.parse_answer(payload, status, "Prometheus")
    assert answer.values == (pytest.approx(1.7, abs=0.01),) and not answer.error


@pytest.mark.parametrize("knobs, fragment", [({"query": "timeout"}, "context deadline exceeded"),
                                             ({"datasource": "broken"}, "no such host")])
def test_grafana_query_failures_answer_400_with_the_data_sources_error(knobs, fragment):
    world = addon_world("grafana", **knobs)
    uid = next(s["uid"] for s in sim_grafana.datasources(world) if s["type"] == "prometheus")
    status, payload = ds_query(world, {"queries": [{"refId": "A", "datasource": {"uid": uid}, "expr": "up"}]})
    answer = grafana_query.parse_answer(payload, status, "Prometheus")
    assert status == 400 and fragment in answer.error and answer.status == 500


def test_grafana_refuses_bad_bodies_and_unknown_data_sources():
    world = addon_world("grafana")
    assert ds_query(world, {"queries": []}) == (400, {"message": "bad request data"})
    unknown = {"queries": [{"datasource": {"uid": "nope"}}]}
    assert ds_query(world, unknown) == (404, {"message": "Data source not found"})
    assert grafana_query.parse_answer({"message": "Data source not found"}, 404, "P").error == "Data source not found"


# --- the suite's side ----------------------------------------------------------------------------------


def test_the_api_servers_log_read_is_one_counted_get(tmp_path, request):
    sim = start_sim("healthy", tmp_path, request)
    cluster = kube.Cluster.connect(str(sim.kubeconfig))
    world = sim.world
    before = cluster.request_count
    text = cluster.pod_log(NS, pod_named(world, "loadgenerator"), "main", tail_lines=20)
    assert cluster.request_count == before + 1 and len(text.splitlines()) == 20
    assert cluster.log[-1][0] == "GET" and cluster.log[-1][1].endswith("/log")
    with pytest.raises(ClusterError, match="container name must be specified"):
        cluster.pod_log(NS, pod_named(world, "loadgenerator"), "", tail_lines=5)


def test_locust_is_handed_the_suites_way_to_the_shop():
    session = requests.Session()
    session.headers["Authorization"] = "Bearer t0ken"
    session.cert = ("/tmp/cert.pem", "/tmp/key.pem")
    session.trust_env = False
    endpoint = Endpoint("storefront", "https://10.0.0.1:6443/api/v1/namespaces/x/services/gw:80/proxy", "proxy",
                        session=session, verify="/tmp/ca.crt")
    document = connection_of(endpoint, {"email": "a@b.c"})
    assert document == {"base_url": endpoint.base_url, "headers": {"Authorization": "Bearer t0ken"},
                        "verify": "/tmp/ca.crt", "trust_env": False, "checkout": {"email": "a@b.c"},
                        "cert": ["/tmp/cert.pem", "/tmp/key.pem"]}
    assert connection_of(Endpoint("storefront", "http://1.2.3.4", "direct"), {})["headers"] == {}


def test_the_connection_file_is_readable_by_its_owner_only(tmp_path):
    path = load_run.write_connection({"headers": {"Authorization": "Bearer x"}}, tmp_path / "c.json")
    assert path.stat().st_mode & 0o777 == 0o600


def test_without_locust_our_load_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(load_run, "locust_installed", lambda: False)
    plan = load_run.LoadPlan(1, 1, 1, "http://x", "direct URL http://x")
    assert "pip install 'meshcheck[load]'" in load_run.run_locust(plan, {}, tmp_path).error


def test_the_pytest_side_never_imports_locust_or_gevent():
    """Locust patches the standard library with gevent on import: the suite, its fixtures and plugin must not."""
    code = ("import sys, meshcheck.plugin, fixtures.load, suites.test_90_load, meshcheck.load.run; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
