"""Grafana: the client's parsers, the grafana checks, and round trips through the simulator.

Payloads follow grafana/grafana: /api/health (pkg/api/http_server.go healthResponse), data
sources (docs developers/http_api/data_source.md), data source health (pkg/api/datasources.go,
pkg/promlib/healthcheck.go), and search hits as Grafana 9 answers them (no orgId) and as
Grafana 11/12 do (orgId, isDeleted; pkg/services/search/model/model.go).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from meshcheck.addons import grafana as gf
from meshcheck.checks import grafana as checks
from meshcheck.endpoints import Endpoint
from meshcheck.errors import AddonError
from meshcheck.sim.addons import grafana as sim
from meshcheck.sim.protocol import SimRequest, SimResponse
from meshcheck.sim.world import World
from tests.unit.simhttp import SimAdapter, addon_world, sim_endpoint

ISTIO_TITLES = (
    "Istio Control Plane Dashboard", "Istio Mesh Dashboard", "Istio Performance Dashboard",
    "Istio Service Dashboard", "Istio Wasm Extension Dashboard", "Istio Workload Dashboard",
)

GRAFANA9_DATASOURCE = {
    "id": 1, "uid": "U2LhXyg4k", "orgId": 1, "name": "Prometheus", "type": "prometheus",
    "typeName": "Prometheus", "typeLogoUrl": "public/app/plugins/datasource/prometheus/img/prometheus_logo.svg",
    "access": "proxy", "url": "http://prometheus:9090", "user": "", "database": "", "basicAuth": False,
    "isDefault": True, "jsonData": {"timeInterval": "5s"}, "readOnly": False,
}


def hit9(uid: str, title: str) -> dict[str, Any]:
    """A dashboard search hit as Grafana 9 answers it, in Istio's folder."""
    return {"id": 3, "uid": uid, "title": title, "uri": "db/x", "url": f"/d/{uid}/x", "slug": "",
            "type": "dash-db", "tags": [], "isStarred": False, "folderId": 1, "folderUid": "f1",
            "folderTitle": "istio", "folderUrl": "/dashboards/f/f1/istio", "sortMeta": 0}


def hit12(uid: str, title: str) -> dict[str, Any]:
    """The same hit as Grafana 11/12 answer it."""
    return {**hit9(uid, title), "orgId": 1, "isDeleted": False}


FIXED_UIDS = ["3--MLVZZk", "G8wLrJIZk", "vu8e0VWZk", "LJ_uJAvmk", "7PAV7ctGz", "UbsSZTDik"]


# --- parsers ----------------------------------------------------------------------------------

def test_parse_health_reads_ok_failing_and_hidden_version():
    assert gf.parse_health({"commit": "abc", "database": "ok", "version": "9.5.3"}) == gf.Health("ok", "9.5.3", 200)
    assert gf.parse_health({"database": "failing"}, 503) == gf.Health("failing", "", 503)
    with pytest.raises(AddonError, match="/api/health"):
        gf.parse_health({"status": "up"})


def test_parse_datasources_reads_grafana9_and_newer_items():
    newer = {**GRAFANA9_DATASOURCE, "id": 2, "uid": "PBFA97CFB590B2093", "isDefault": False}
    found = gf.parse_datasources([GRAFANA9_DATASOURCE, newer])
    assert found[0] == gf.Datasource(1, "U2LhXyg4k", "Prometheus", "prometheus", "http://prometheus:9090", True)
    assert found[1].uid == "PBFA97CFB590B2093"
    with pytest.raises(AddonError, match="/api/datasources"):
        gf.parse_datasources({"message": "Unauthorized"})


def test_prometheus_datasource_prefers_default_then_name_then_first():
    loki = gf.Datasource(1, "a", "Loki", "loki", "http://loki:3100", True)
    thanos = gf.Datasource(2, "b", "Thanos", "prometheus", "http://thanos:9090", False)
    prom = gf.Datasource(3, "c", "Prometheus", "prometheus", "http://prometheus:9090", False)
    assert gf.prometheus_datasource([loki, thanos, prom]) is prom
    assert gf.prometheus_datasource([loki, thanos]) is thanos
    assert gf.prometheus_datasource([loki]) is None


def test_parse_datasource_health_reads_ok_error_and_grafana_errors():
    route = "/api/datasources/uid/x/health"
    good = gf.parse_datasource_health({"status": "OK", "message": "Successfully queried the Prometheus API."},
                                      200, route)
    assert good.ok and good.route == route
    bad = gf.parse_datasource_health({"status": "ERROR", "message": "boom - There was an error"}, 400, route)
    assert not bad.ok and bad.message.startswith("boom")
    grafana_error = gf.parse_datasource_health({"message": "Plugin health check failed"}, 500, route)
    assert grafana_error.status == "ERROR" and "500" in grafana_error.message
    with pytest.raises(AddonError):
        gf.parse_datasource_health(["x"], 200, route)


def test_parse_search_reads_grafana9_and_grafana12_hits_and_skips_folders():
    folder = {"id": 1, "uid": "f1", "title": "istio", "type": "dash-folder", "url": "/dashboards/f/f1/istio"}
    general = {"id": 9, "uid": "g", "title": "Home", "type": "dash-db", "url": "/d/g/home"}
    found = gf.parse_search([folder, hit9("G8wLrJIZk", "Istio Mesh Dashboard"),
                             hit12("e5f2", "Istio Ztunnel Dashboard"), general])
    assert [(d.title, d.folder) for d in found] == [
        ("Istio Mesh Dashboard", "istio"), ("Istio Ztunnel Dashboard", "istio"), ("Home", "General")]
    with pytest.raises(AddonError, match="/api/search"):
        gf.parse_search([{"uid": "x"}])


# --- checks -----------------------------------------------------------------------------------

def test_grafana_healthy_passes_and_fails():
    assert checks.grafana_healthy(gf.Health("ok", "11.3.1", 200)).passed
    result = checks.grafana_healthy(gf.Health("failing", "11.3.1", 503))
    assert not result.passed and "503" in result.message and "failing" in result.message


def test_prometheus_datasource_present_passes_and_fails_listing_what_is_there():
    sources = gf.parse_datasources([GRAFANA9_DATASOURCE])
    assert checks.prometheus_datasource_present(sources).passed
    loki = gf.Datasource(2, "P8E80F9AEF21F6940", "Loki", "loki", "http://loki:3100", False)
    result = checks.prometheus_datasource_present([loki])
    assert not result.passed and result.settled
    assert "no data source of type prometheus" in result.message and "Loki (loki)" in result.message


def test_prometheus_datasource_works_reports_grafanas_message():
    source = gf.parse_datasources([GRAFANA9_DATASOURCE])[0]
    assert checks.prometheus_datasource_works(source, gf.DatasourceHealth("OK", "fine", "r")).passed
    message = ('Post "http://prometheus:9090/api/v1/query": dial tcp: lookup prometheus: no such host - '
               "There was an error returned querying the Prometheus API.")
    result = checks.prometheus_datasource_works(source, gf.DatasourceHealth("ERROR", message, "r"))
    assert not result.passed and "no such host" in result.message and "'Prometheus'" in result.message


def test_istio_dashboards_present_matches_titles_whatever_the_uids():
    hashed = [gf.Dashboard(f"{i:032x}", title, "istio", "") for i, title in enumerate(ISTIO_TITLES)]
    extra = gf.Dashboard("z", "Istio Ztunnel Dashboard", "istio", "")
    assert checks.istio_dashboards_present([*hashed, extra], ISTIO_TITLES).passed
    result = checks.istio_dashboards_present(hashed[:4], ISTIO_TITLES)
    assert not result.passed and result.settled
    assert "lacks the dashboards Istio Wasm Extension Dashboard, Istio Workload Dashboard" in result.message


# --- round trips through the simulated Grafana ------------------------------------------------

def world_with(**knobs: Any) -> World:
    return addon_world("grafana", **knobs)


def endpoint_for(world: World) -> tuple[Endpoint, SimAdapter]:
    return sim_endpoint("grafana", lambda r: sim.handle(world, r))


def run_all(endpoint: Endpoint) -> dict[str, Any]:
    """The four checks the suite runs, in its order."""
    sources = gf.datasources(endpoint)
    chosen = gf.prometheus_datasource(sources)
    return {
        "health": checks.grafana_healthy(gf.health(endpoint)),
        "present": checks.prometheus_datasource_present(sources),
        "works": checks.prometheus_datasource_works(chosen, gf.datasource_health(endpoint, chosen))
        if chosen else None,
        "dashboards": checks.istio_dashboards_present(gf.dashboards(endpoint), ISTIO_TITLES),
    }


def test_simulated_healthy_grafana_passes_every_check_in_four_requests():
    endpoint, adapter = endpoint_for(world_with(version="11.3.1"))
    results = run_all(endpoint)
    assert all(r.passed for r in results.values()), [r.text() for r in results.values()]
    assert results["works"].message.endswith("Successfully queried the Prometheus API.")
    assert adapter.paths == ["/api/datasources", "/api/health",
                             "/api/datasources/uid/PBFA97CFB590B2093/health", "/api/search"]


def test_simulated_grafana9_falls_back_to_a_proxied_query():
    endpoint, adapter = endpoint_for(world_with(version="9.5.3"))
    source = gf.prometheus_datasource(gf.datasources(endpoint))
    health = gf.datasource_health(endpoint, source)
    assert health.ok and health.route == "/api/datasources/proxy/1/api/v1/query"
    assert adapter.paths[-2:] == ["/api/datasources/uid/PBFA97CFB590B2093/health",
                                  "/api/datasources/proxy/1/api/v1/query"]


@pytest.mark.parametrize("version", ["11.3.1", "9.5.3"])
def test_simulated_broken_datasource_fails_with_grafanas_diagnosis(version):
    endpoint, _ = endpoint_for(world_with(datasource="broken", version=version))
    result = run_all(endpoint)["works"]
    assert not result.passed
    assert ("no such host" if version.startswith("11") else "502") in result.message


def test_simulated_absent_datasource_fails_the_presence_check():
    endpoint, _ = endpoint_for(world_with(datasource="absent"))
    result = run_all(endpoint)["present"]
    assert not result.passed and "Loki (loki)" in result.message


def test_simulated_missing_dashboards_are_named():
    endpoint, _ = endpoint_for(world_with(missing_dashboards=["Istio Mesh Dashboard"]))
    result = run_all(endpoint)["dashboards"]
    assert not result.passed and "lacks the dashboards Istio Mesh Dashboard" in result.message


@pytest.mark.parametrize(("uids", "ztunnel"), [("fixed", False), ("hashed", True)])
def test_simulated_uid_styles_and_ztunnel_all_pass_by_title(uids, ztunnel):
    world = world_with(uids=uids, ztunnel=ztunnel)
    found = gf.dashboards(endpoint_for(world)[0])
    assert checks.istio_dashboards_present(found, ISTIO_TITLES).passed
    assert any(d.title == "Istio Ztunnel Dashboard" for d in found) is ztunnel
    mesh = next(d for d in found if d.title == "Istio Mesh Dashboard")
    assert (mesh.uid in FIXED_UIDS) is (uids == "fixed")


def test_simulated_grafana_answers_unknown_api_paths_with_its_404():
    world = world_with()
    answer = sim.handle(world, SimRequest("GET", "/api/nothing"))
    assert (answer.status, json.loads(answer.body)) == (404, {"message": "Not found"})
    search = json.loads(sim.handle(world, SimRequest("GET", "/api/search", {"query": ["mesh"]})).body)
    assert [h["title"] for h in search] == ["Istio Mesh Dashboard"]
    folders = json.loads(sim.handle(world, SimRequest("GET", "/api/search", {"type": ["dash-folder"]})).body)
    assert [h["type"] for h in folders] == ["dash-folder"]


def test_grafana_health_behind_a_failing_proxy_fails_unsettled_with_the_body():
    adapter = SimAdapter(lambda r: SimResponse.text("upstream connect error or disconnect/reset before headers", 503))
    session = requests.Session()
    session.mount("http://grafana.sim", adapter)
    health = gf.health(Endpoint("grafana", "http://grafana.sim", "a test adapter", session=session))
    assert (health.status, health.database) == (503, "unknown")
    result = checks.grafana_healthy(health)
    assert not result.passed and not result.settled and "upstream connect error" in result.message
