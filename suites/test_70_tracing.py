"""Tracing: Jaeger (or Zipkin) lists the boutique's services, holds recent traces, and shows its calls.

Online Boutique does not forward trace headers, so each call is a trace of its own: the hops are
gathered from the traces of each calling service (queried in parallel), never from one trace.
Requests on a healthy Jaeger: the services list once (it also tells which backend serves), then
one trace query per calling service; both are fetched again only while a check waits.
"""

from __future__ import annotations

import pytest

from meshcheck.addons import tracing as tracing_api
from meshcheck.checks import tracing as checks
from meshcheck.latest import Latest

LOOKBACK = 3600.0               # seconds of traces to look at
LIMIT = 100                     # traces per calling service


@pytest.fixture(scope="module")
def tracer_services(tracing):
    return Latest(lambda: tracing_api.discover(tracing))


@pytest.fixture(scope="module")
def caller_traces(tracing, tracer_services, profile, boutique_namespace):
    apps = sorted({*checks.callers(profile.traced_edges), profile.anchor})

    def fetch() -> dict[str, tracing_api.TraceSummary]:
        listed = tracer_services.value
        if any(tracing_api.service_for(a, listed.services, boutique_namespace) is None for a in apps):
            listed = tracer_services.refresh()      # a caller may have been traced since the list was read
        return tracing_api.fetch_app_traces(tracing, listed, apps, boutique_namespace,
                                            lookback=LOOKBACK, limit=LIMIT)
    return Latest(fetch)


def test_tracing_lists_boutique_services(tracer_services, profile, boutique_namespace, wait, require):
    read = tracer_services.reader()
    expected = checks.traced_apps(profile.traced_edges)
    require(wait(lambda: checks.check_services_listed(read(), expected, boutique_namespace)))


def test_tracing_has_recent_frontend_traces(caller_traces, profile, boutique_namespace, wait, require):
    read = caller_traces.reader()
    anchor = profile.anchor
    require(wait(lambda: checks.check_recent_traces(read().get(anchor), anchor, boutique_namespace, LOOKBACK)))


def test_tracing_covers_traced_call_graph_hops(caller_traces, profile, boutique_namespace, wait, require):
    read = caller_traces.reader()
    require(wait(lambda: checks.check_traced_hops(read(), profile.traced_edges, boutique_namespace)))
