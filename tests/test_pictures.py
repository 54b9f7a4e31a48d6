"""Pictures for the reports: the call-graph SVG read back as XML (states by attributes, never pixels),
the states computed from Kiali's graph documents, and screenshots in the system's Chromium.

The graph documents come from the simulated Kiali (built from Kiali's documented Cytoscape format), with
error rates written into its edges as Kiali reports them; the browser tests skip, with the note the report
would print, where Playwright or Chromium is not installed.
"""

from __future__ import annotations

import copy
import json
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from meshcheck.addons import kiali as api
from meshcheck.addons.kiali import ObservedEdge
from meshcheck.pictures import (
    FAILING,
    HEALTHY,
    MISSING,
    UNEXPECTED,
    Screenshot,
    Skipped,
    callgraph_svg,
    compare,
    counts,
    observed_calls,
    screenshot,
)
from meshcheck.pictures.browser import NO_BROWSER, file_url, find_chromium
from meshcheck.pictures.layout import layered
from meshcheck.profile import load_profile
from meshcheck.sim.addons import kiali as sim
from meshcheck.sim.protocol import SimRequest
from meshcheck.sim.world import World
from tests.png import decode_png

NS = "online-boutique"
PROFILE = load_profile()
SVG = "{http://www.w3.org/2000/svg}"


def graph_document(*, inject: bool = False, graph_type: str = "workload", **knobs: Any) -> dict[str, Any]:
    """The simulated Kiali's answer to /api/namespaces/graph for the boutique, with scenario knobs."""
    world = World(NS, "istio-system", "1.20.0", tuple(PROFILE.workloads), PROFILE.edges, {"kiali": knobs})
    response = sim.handle(world, SimRequest("GET", "/kiali/api/namespaces/graph", {
        "namespaces": [NS], "graphType": [graph_type], "injectServiceNodes": ["true" if inject else "false"]}))
    assert response.status == 200
    return json.loads(response.body)


def with_errors(doc: dict[str, Any], caller: str, callee: str, percent: float, code: str, flag: str = "-"):
    """The document with ``percent`` of the caller's requests to ``callee`` failing, as Kiali reports it."""
    doc = copy.deepcopy(doc)
    nodes = {n["data"]["id"]: n["data"] for n in doc["elements"]["nodes"]}
    hit = 0
    for edge in doc["elements"]["edges"]:
        source, target = nodes[edge["data"]["source"]], nodes[edge["data"]["target"]]
        if source.get("nodeType") == "service" or source.get("app") != caller:
            continue
        if callee not in (target.get("app"), target.get("service")):
            continue
        traffic = edge["data"]["traffic"]
        protocol = traffic["protocol"]
        traffic["rates"][f"{protocol}PercentErr"] = f"{percent:.1f}"
        traffic["responses"][code] = {"flags": {flag: f"{percent:.1f}"}, "hosts": {}}
        hit += 1
    assert hit == 1
    return doc


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def edges_in(root: ET.Element, panel: str) -> dict[tuple[str, str], ET.Element]:
    group = root.find(f".//{SVG}g[@class='mc-panel mc-panel-{panel}']")
    assert group is not None, f"no {panel} panel"
    return {(g.get("data-source"), g.get("data-target")): g
            for g in group.iter(f"{SVG}g") if "mc-edge" in (g.get("class") or "").split()}


def nodes_in(root: ET.Element, panel: str) -> dict[str, ET.Element]:
    group = root.find(f".//{SVG}g[@class='mc-panel mc-panel-{panel}']")
    assert group is not None
    return {g.get("data-name"): g for g in group.iter(f"{SVG}g") if "mc-node" in (g.get("class") or "").split()}


# --- the states, from Kiali's graph -----------------------------------------------------------------


@pytest.mark.parametrize("inject", [False, True])
def test_a_healthy_graph_has_every_expected_edge_healthy_with_its_rate(inject):
    calls = observed_calls(graph_document(inject=inject), NS)
    rows = compare(PROFILE.edges, calls)
    assert [(r.source, r.target) for r in rows] == list(PROFILE.edges)
    assert counts(rows) == {HEALTHY: 16, FAILING: 0, MISSING: 0, UNEXPECTED: 0}
    frontend_cart = next(r for r in rows if (r.source, r.target) == ("frontend", "cartservice"))
    assert frontend_cart.rate and frontend_cart.error_percent == 0.0 and "req/s" in frontend_cart.traffic


def test_missing_unanswered_and_failing_edges_get_their_states():
    doc = graph_document(inject=True, missing_edges=[["checkoutservice", "paymentservice"]],
                         unanswered_edges=[["frontend", "adservice"]])
    doc = with_errors(doc, "checkoutservice", "shippingservice", 30.0, "503", "URX")
    doc = with_errors(doc, "frontend", "currencyservice", 5.0, "500")
    rows = {(r.source, r.target): r for r in compare(PROFILE.edges, observed_calls(doc, NS))}

    missing = rows[("checkoutservice", "paymentservice")]
    assert missing.state == MISSING and missing.severe and "not in Kiali's graph" in missing.detail
    unanswered = rows[("frontend", "adservice")]
    assert unanswered.state == FAILING and unanswered.severe and unanswered.error_percent == 100.0
    assert "no workload answered" in unanswered.detail and "503 UH" in unanswered.detail
    severe = rows[("checkoutservice", "shippingservice")]
    assert severe.state == FAILING and severe.severe and severe.error_percent == 30.0
    assert "30% of requests failed (503 URX)" in severe.detail
    mild = rows[("frontend", "currencyservice")]
    assert mild.state == FAILING and not mild.severe and "5% of requests failed (500)" in mild.detail
    assert counts(rows.values())[HEALTHY] == 12


def test_error_rates_are_read_from_every_shape_kiali_sends():
    graph = {"graphType": "workload", "elements": {
        "nodes": [{"data": {"id": i, "nodeType": "workload", "namespace": NS, "workload": i, "app": i}}
                  for i in ("a", "b", "c", "d", "e")],
        "edges": [
            # gRPC without PercentErr: Err and NoResponse over the rate
            {"data": {"id": "1", "source": "a", "target": "b", "traffic": {
                "protocol": "grpc", "rates": {"grpc": "4.00", "grpcErr": "1.00"},
                "responses": {"0": {"flags": {"-": "75.0"}}, "14": {"flags": {"-": "25.0"}}}}}},
            # TCP: failing connections are the response flags other than "-"
            {"data": {"id": "2", "source": "b", "target": "c", "traffic": {
                "protocol": "tcp", "rates": {"tcp": "512.00"},
                "responses": {"-": {"flags": {"UF": "40.0", "-": "60.0"}}}}}},
            # Kiali 0.x/1.0: traffic as a list
            {"data": {"id": "3", "source": "c", "target": "d", "traffic": [
                {"protocol": "http", "rates": {"http": "2.00", "http5xx": "0.50"}}]}},
            # no traffic block at all
            {"data": {"id": "4", "source": "d", "target": "e"}},
        ]}}
    calls = {(c.source, c.target): c for c in observed_calls(graph, NS)}
    assert calls[("a", "b")].error_percent == 25.0 and calls[("a", "b")].errors == ("gRPC 14 UNAVAILABLE",)
    assert calls[("b", "c")].error_percent == 40.0 and calls[("b", "c")].errors == ("TCP UF",)
    assert calls[("c", "d")].error_percent == 25.0 and calls[("c", "d")].rate == 2.0
    assert calls[("d", "e")].error_percent is None and calls[("d", "e")].answered
    assert compare([("b", "c")], calls.values())[0].traffic == "512 B/s"


def test_a_parsed_graph_and_plain_observed_edges_are_both_accepted():
    """A parsed graph keeps Kiali's traffic block (GraphEdge.traffic), so its rates come along; plain
    ObservedEdges say presence alone."""
    doc = graph_document(unanswered_edges=[["checkoutservice", "emailservice"]])
    parsed = observed_calls(api.parse_graph(doc), NS)
    assert any(c.rate is not None for c in parsed)
    plain = api.observed_edges(api.parse_graph(doc), NS)
    for observed in (parsed, plain):
        rows = {(r.source, r.target): r for r in compare(PROFILE.edges, observed)}
        assert rows[("checkoutservice", "emailservice")].state == FAILING
        assert rows[("frontend", "cartservice")].state == HEALTHY


def test_a_parsed_graph_whose_edges_keep_their_traffic_gives_the_rates_too():
    @dataclass(frozen=True)
    class EdgeWithTraffic(api.GraphEdge):
        traffic: Any = None

    doc = with_errors(graph_document(), "frontend", "currencyservice", 12.5, "500")
    parsed = api.parse_graph(doc)
    raw = {(e["data"]["source"], e["data"]["target"]): e["data"]["traffic"] for e in doc["elements"]["edges"]}
    edges = tuple(EdgeWithTraffic(e.source, e.target, e.protocol, raw[(e.source, e.target)]) for e in parsed.edges)
    calls = observed_calls(api.KialiGraph(parsed.graph_type, parsed.nodes, edges, parsed.duration), NS)
    assert calls == observed_calls(doc, NS)
    assert next(c for c in calls if c.target == "currencyservice" and c.source == "frontend").error_percent == 12.5


@pytest.mark.parametrize("graph_type", ["app", "versionedApp", "service"])
def test_every_graph_type_gives_the_whole_call_graph(graph_type):
    rows = compare(PROFILE.edges, observed_calls(graph_document(graph_type=graph_type), NS))
    assert counts(rows)[HEALTHY] == 16


def test_unexpected_calls_come_after_the_expected_ones_by_name():
    observed = [ObservedEdge("frontend", "cartservice", True), ObservedEdge("zeta", "alpha", True),
                ObservedEdge("adservice", "redis-cart", True)]
    rows = compare([("loadgenerator", "frontend"), ("frontend", "cartservice")], observed)
    assert [(r.arrow, r.state) for r in rows] == [
        ("loadgenerator→frontend", MISSING), ("frontend→cartservice", HEALTHY),
        ("adservice→redis-cart", UNEXPECTED), ("zeta→alpha", UNEXPECTED)]


# --- the layout ---------------------------------------------------------------------------------------


def test_columns_follow_call_depth_from_the_entry_and_every_call_goes_rightwards():
    layout = layered(PROFILE.edges)
    assert layout.column["loadgenerator"] == 0 and layout.column["frontend"] == 1
    assert layout.column["checkoutservice"] == 2 and layout.column["redis-cart"] == 4
    assert not layout.back
    assert all(layout.column[a] < layout.column[b] for a, b in PROFILE.edges)
    assert sum(1 for column in layout.columns for slot in column if not layout.is_waypoint(slot)) == 12


def test_a_cycle_is_drawn_with_a_back_edge_and_the_layout_is_deterministic():
    edges = [("frontend", "cartservice"), ("cartservice", "frontend"), ("frontend", "frontend")]
    first, again = layered(edges), layered(list(edges))
    assert first == again
    assert first.column == {"frontend": 0, "cartservice": 1} and first.back == frozenset({("cartservice", "frontend")})
    svg = callgraph_svg(edges, [ObservedEdge("cartservice", "frontend", True)], "cycle")
    assert svg == callgraph_svg(edges, [ObservedEdge("cartservice", "frontend", True)], "cycle")
    parse(svg)


# --- the picture ----------------------------------------------------------------------------------------


def test_the_svg_is_xml_with_every_expected_node_and_edge_in_both_panels():
    svg = callgraph_svg(PROFILE.edges, observed_calls(graph_document(), NS), "Kiali graph of online-boutique")
    root = parse(svg)
    assert root.tag == f"{SVG}svg" and root.get("viewBox") and root.find(f"{SVG}title").text
    names = {n for edge in PROFILE.edges for n in edge}
    for panel in ("expected", "observed"):
        assert set(edges_in(root, panel)) == set(PROFILE.edges)
        assert set(nodes_in(root, panel)) == names
    assert {g.get("data-state") for g in edges_in(root, "observed").values()} == {HEALTHY}
    assert {g.get("data-state") for g in edges_in(root, "expected").values()} == {"expected"}


def test_the_svg_is_self_contained():
    svg = callgraph_svg(PROFILE.edges, [], "nothing observed")
    for outside in ("href", "<script", "<style", "<image", "<foreignObject", "@import", "http://", "https://"):
        assert outside not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    root = parse(svg)
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids)) and all(i.startswith("mc-cg-") for i in ids)
    refs = {r[5:-1] for e in root.iter() for r in [e.get("marker-end") or ""] if r}
    assert refs <= set(ids)


def test_missing_failing_and_unexpected_edges_are_marked_in_the_observed_panel():
    doc = graph_document(missing_edges=[["checkoutservice", "paymentservice"]],
                         unanswered_edges=[["frontend", "adservice"]])
    doc = with_errors(doc, "frontend", "currencyservice", 5.0, "500")
    observed = [*observed_calls(doc, NS), ObservedEdge("shippingservice", "productcatalogservice", True)]
    root = parse(callgraph_svg(PROFILE.edges, observed, "Kiali graph"))
    edges = edges_in(root, "observed")

    missing = edges[("checkoutservice", "paymentservice")]
    assert missing.get("data-state") == MISSING and "mc-missing" in missing.get("class").split()
    assert missing.find(f"{SVG}path").get("stroke-dasharray")
    assert "not in Kiali's graph" in missing.find(f"{SVG}title").text
    unanswered = edges[("frontend", "adservice")]
    assert unanswered.get("data-state") == FAILING and "mc-severe" in unanswered.get("class").split()
    mild = edges[("frontend", "currencyservice")]
    assert mild.get("data-state") == FAILING and "mc-severe" not in mild.get("class").split()
    assert mild.find(f"{SVG}path").get("stroke") != unanswered.find(f"{SVG}path").get("stroke")
    extra = edges[("shippingservice", "productcatalogservice")]
    assert extra.get("data-state") == UNEXPECTED
    assert ("shippingservice", "productcatalogservice") not in edges_in(root, "expected")
    assert edges[("frontend", "cartservice")].get("data-state") == HEALTHY

    labels = {(t.get("data-source"), t.get("data-target")): t.text for t in root.iter(f"{SVG}text")
              if "mc-edge-label" in (t.get("class") or "")}
    assert labels[("checkoutservice", "paymentservice")] == "missing"
    assert labels[("frontend", "adservice")] == "no answer"
    assert labels[("frontend", "currencyservice")] == "5% errors"
    assert nodes_in(root, "observed")["paymentservice"].get("class") == "mc-node mc-node-absent"
    legend = {g.get("class").split()[1]: g.get("data-count") for g in root.iter(f"{SVG}g")
              if "mc-legend-item" in (g.get("class") or "")}
    assert legend == {"mc-healthy": "13", "mc-failing": "1", "mc-failing-severe": "1", "mc-missing": "1",
                      "mc-unexpected": "1"}
    notes = [t.get("data-source") + "→" + t.get("data-target") for t in root.iter(f"{SVG}text")
             if "mc-note" in (t.get("class") or "")]
    assert notes[:2] == ["frontend→adservice", "checkoutservice→paymentservice"]    # the worst first


def test_hostile_names_stay_text():
    hostile = '<script>alert("x")</script>'
    edges = [("frontend", hostile), (hostile, "a&b'c\x01")]
    svg = callgraph_svg(edges, [ObservedEdge("frontend", hostile, False)], f"graph {hostile}")
    assert "<script" not in svg and "\x01" not in svg
    root = parse(svg)
    assert hostile in nodes_in(root, "observed")
    assert root.find(f"{SVG}title").text == f"graph {hostile}"
    assert edges_in(root, "observed")[("frontend", hostile)].get("data-state") == FAILING


def test_a_long_name_is_cut_in_its_box_and_whole_in_its_tooltip():
    name = "x" * 90
    root = parse(callgraph_svg([("frontend", name)], [], "long"))
    node = nodes_in(root, "observed")[name]
    assert node.find(f"{SVG}title").text.startswith(name)
    assert node.find(f"{SVG}text").text.endswith("…") and len(node.find(f"{SVG}text").text) <= 30


def test_the_panels_stand_side_by_side_when_they_fit_and_one_above_the_other_otherwise():
    small = parse(callgraph_svg([("frontend", "cartservice")], [], "small"))
    wide = parse(callgraph_svg(PROFILE.edges, [], "wide"))
    def offsets(root: ET.Element) -> list[str]:
        return [g.get("transform") for g in root.iter(f"{SVG}g") if (g.get("class") or "").startswith("mc-panel ")]
    (ex, ey), (ox, oy) = (t[10:-1].split(",") for t in offsets(small))
    assert ey == oy and float(ox) > float(ex)
    (ex, ey), (ox, oy) = (t[10:-1].split(",") for t in offsets(wide))
    assert ex == ox and float(oy) > float(ey)
    assert float(wide.get("width")) <= 1240
    alone = parse(callgraph_svg(PROFILE.edges, [], "alone", expected_panel=False))
    assert len(offsets(alone)) == 1


# --- screenshots ------------------------------------------------------------------------------------------


def _browser_or_skip() -> None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip(f"{NO_BROWSER} (Playwright is not installed)")
    if find_chromium() is None:
        pytest.skip(f"{NO_BROWSER} (no Chromium on PATH)")


PAGE = (b"<!doctype html><html><head><title>shop</title></head>"
        b"<body style='margin:0;background:#ffffff'>"
        b"<div style='position:absolute;left:40px;top:30px;width:120px;height:80px;background:#d01010'></div>"
        b"</body></html>")


@pytest.fixture
def page_server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A page on 127.0.0.1, recording the headers of each request."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            body = PAGE if self.path == "/" else b"not here"
            self.send_response(200 if self.path == "/" else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_served_page_is_screenshot_with_the_headers_given(page_server, tmp_path):
    _browser_or_skip()
    url, seen = page_server
    result = screenshot(url, tmp_path / "shot" / "page.png", width=400, height=300, timeout_s=20,
                        headers={"X-Meshcheck": "picture"})
    assert isinstance(result, Screenshot), result
    assert result.status == 200 and result.browser.startswith("Chromium ") and result.url == url
    assert seen and seen[0].get("x-meshcheck") == "picture"
    width, height, rows = decode_png((tmp_path / "shot" / "page.png").read_bytes())
    assert (width, height) == (400, 300)
    assert rows[5][5] == (255, 255, 255)                   # the page's white
    red = rows[70][100]
    assert red[0] > 180 and red[1] < 60 and red[2] < 60    # the red block where the page put it
    assert len({pixel for row in rows[::10] for pixel in row[::10]}) >= 2


def test_the_report_is_screenshot_through_a_file_url_with_its_call_graph(tmp_path):
    _browser_or_skip()
    svg = callgraph_svg(PROFILE.edges, observed_calls(graph_document(missing_edges=[
        ["checkoutservice", "paymentservice"]]), NS), "Kiali graph of online-boutique")
    report = tmp_path / "report.html"
    report.write_text(f"<!doctype html><html><body style='margin:0'>{svg}</body></html>")
    result = screenshot(file_url(report), tmp_path / "report.png", width=1280, height=600, full_page=True)
    assert isinstance(result, Screenshot), result
    assert result.status is None and result.url.startswith("file://")
    width, height, rows = decode_png((tmp_path / "report.png").read_bytes())
    assert width == 1280 and height >= 600                  # the whole page, taller than the window
    greens = sum(1 for row in rows[::4] for (r, g, b) in row[::2] if g > 100 and r < 80 and b < 80)
    reds = sum(1 for row in rows[::2] for (r, g, b) in row if r > 170 and g < 70 and b < 70)
    assert greens > 50 and reds > 20                        # healthy edges drawn, the missing one too


def test_a_page_that_cannot_be_loaded_is_skipped_without_the_headers_values(tmp_path):
    _browser_or_skip()
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()                                   # nothing listens there now
    result = screenshot(f"http://user:pw@127.0.0.1:{port}/", tmp_path / "x.png", timeout_s=10,
                        headers={"Authorization": "Bearer s3cr3t-token"})
    assert isinstance(result, Skipped)
    assert "ERR_CONNECTION_REFUSED" in result.reason and f"http://127.0.0.1:{port}/" in result.reason
    assert "s3cr3t" not in result.reason and "pw@" not in result.reason
    assert not (tmp_path / "x.png").exists()


def test_without_chromium_the_screenshot_is_skipped_with_the_install_note(tmp_path):
    result = screenshot("http://127.0.0.1:9/", tmp_path / "x.png", executable_path=tmp_path / "no-chromium")
    assert isinstance(result, Skipped)
    assert result.reason.startswith(NO_BROWSER)
    if "Playwright is not installed" not in result.reason:
        assert f"no Chromium at {tmp_path / 'no-chromium'}" in result.reason


def test_without_playwright_the_screenshot_is_skipped_with_the_install_note(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)    # import fails as if not installed
    result = screenshot("http://127.0.0.1:9/", tmp_path / "x.png")
    assert result == Skipped(f"{NO_BROWSER} (Playwright is not installed)", "http://127.0.0.1:9/")
