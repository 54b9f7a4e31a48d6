"""Kiali: it runs, its graph of the boutique's namespace shows the call graph, its tracing link is right.

Requests on a healthy cluster: Kiali's status once (health and tracing link), the graph once, its
istio status once (whether Kiali reaches its tracing backend), and its ConfigMap's namespace listed
once (its in-cluster tracing URL); the graph is fetched again only while its check waits for traffic
to show up. Services, Nodes and routes are the run's shared lists.
"""

from __future__ import annotations

import pytest

from meshcheck.addons import kiali as kiali_api
from meshcheck.checks import kiali as checks
from meshcheck.latest import Latest

GRAPH_DURATION = "10m"          # Kiali's default window: the calls Prometheus saw in the last 10 minutes


@pytest.fixture(scope="module")
def kiali_status(kiali):
    return kiali_api.fetch_status(kiali)


@pytest.fixture(scope="module")
def kiali_graph(kiali, kiali_status, boutique_namespace):
    return Latest(lambda: kiali_api.fetch_graph(kiali, boutique_namespace, duration=GRAPH_DURATION,
                                                web_root=kiali_status.web_root))


def test_kiali_is_healthy(kiali_status, require):
    require(checks.check_kiali_healthy(kiali_status))


def test_kiali_graph_has_call_graph_edges(kiali_graph, profile, boutique_namespace, wait, require):
    read = kiali_graph.reader()
    require(wait(lambda: checks.check_graph_edges(read(), profile.edges, boutique_namespace)))


def test_kiali_tracing_url_points_at_tracing_service(suite, kiali, kiali_status, profile, require):
    settings = suite.kiali_tracing_settings(kiali, kiali_status.version)
    istio = kiali_api.fetch_istio_status(kiali, kiali_status.web_root)
    require(checks.check_tracing_url(kiali_status, settings, istio, suite.network(), profile.addons["tracing"]))
