"""Kiali: it runs, its graph of the boutique's namespace shows the call graph, its tracing link is right.

Requests on a healthy cluster: Kiali's status once (health, tracing link, and the version that says
which routes to ask); then, all at once, the graph, its istio status (whether Kiali reaches its tracing
backend), its validations of the namespace's Istio objects and its apps' health; and its ConfigMap's
namespace listed once (its in-cluster tracing URL). The graph and the health are fetched again only
while their checks wait for traffic to show up. Services, Nodes and routes are the run's shared lists.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from meshcheck import first_reads
from meshcheck.addons import kiali as kiali_api
from meshcheck.checks import kiali as checks
from meshcheck.checks import kiali_health as health_checks
from meshcheck.checks import kiali_validations as validation_checks
from meshcheck.latest import Latest
from meshcheck.pictures.callgraph import observed_calls
from meshcheck.pictures.callgraph_svg import callgraph_svg


@pytest.fixture(scope="module")
def kiali_status(kiali):
    return kiali_api.fetch_status(kiali)


@pytest.fixture(scope="module")
def kiali_reads(kiali, kiali_status, boutique_namespace):
    """Kiali's graph, istio status, validations and apps' health: independent reads, started at once so
    that they cost one round trip together; a check that waits reads its own again."""
    reads = first_reads.kiali_reads(kiali, kiali_status, boutique_namespace)
    with ThreadPoolExecutor(max_workers=len(reads)) as pool:
        yield {name: Latest(fetch, pool.submit(fetch)) for name, fetch in reads.items()}


def test_kiali_is_healthy(kiali_status, require):
    require(checks.check_kiali_healthy(kiali_status))


def test_kiali_graph_has_call_graph_edges(kiali_reads, profile, boutique_namespace, wait, require, figure):
    read = kiali_reads["graph"].reader()
    seen = []

    def look():
        seen.append(read())
        return checks.check_graph_edges(seen[-1], profile.edges, boutique_namespace)

    result = wait(look)
    figure(f"Kiali's graph of {boutique_namespace} beside the expected call graph",
           callgraph_svg(profile.edges, observed_calls(seen[-1], boutique_namespace),
                         f"Kiali's graph of {boutique_namespace}"))
    require(result)


def test_kiali_tracing_url_points_at_tracing_service(suite, kiali, kiali_status, kiali_reads, profile, require):
    settings = suite.kiali_tracing_settings(kiali, kiali_status.version)
    istio = kiali_reads["istio_status"].value
    require(checks.check_tracing_url(kiali_status, settings, istio, suite.network(), profile.addons["tracing"]))


@pytest.mark.nonblocking
def test_kiali_validations_show_no_errors(kiali_reads, boutique_namespace, require):
    require(validation_checks.check_validations(kiali_reads["validations"].value, boutique_namespace))


@pytest.mark.nonblocking
def test_kiali_health_shows_no_app_failing(kiali_reads, profile, boutique_namespace, wait, require):
    read = kiali_reads["health"].reader()
    require(wait(lambda: health_checks.check_health(read(), boutique_namespace, tuple(profile.workloads))))
