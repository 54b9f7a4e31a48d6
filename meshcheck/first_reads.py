"""Each add-on layer's first reads, sent ahead all at once when the run starts.

The checks read Prometheus, Kiali, Jaeger and Grafana module after module, and each module's first
reads depend on no check, only on the run's lists (where the add-on's Service is, which namespace
holds the boutique). Sent together as soon as those lists are in, they cost about one round trip in
all rather than a dozen in series. Each answer waits in its endpoint for the check that asks the
same (``endpoints.reading_ahead``); the test modules call the very functions listed here, so the
requests match. A read that goes wrong here is not reported here: the check sends the same request
and meets the same error itself.

Only what a check would read anyway is read ahead, and only reads: a layer left out of the run
reads nothing ahead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from typing import Any

from meshcheck.addons import grafana as gf
from meshcheck.addons import grafana_query, kiali_health, kiali_validations, tls_metrics, traffic
from meshcheck.addons import kiali as kiali_api
from meshcheck.addons import prometheus as prom
from meshcheck.addons import tracing as tracing_api
from meshcheck.checks import grafana as grafana_checks
from meshcheck.endpoints import Endpoint, reading_ahead
from meshcheck.errors import SuiteError
from meshcheck.results import CheckResult
from meshcheck.suite import Suite

Read = Callable[[], Any]

KIALI_GRAPH_DURATION = "10m"  # Kiali's default window: the calls Prometheus saw in the last 10 minutes


def kiali_reads(kiali: Endpoint, status: kiali_api.KialiStatus, namespace: str) -> dict[str, Read]:
    """Kiali's graph, istio status, validations and apps' health: independent of each other once its
    status has said which version (which routes) and web root to ask."""
    root = status.web_root
    return {
        "graph": lambda: kiali_api.fetch_graph(kiali, namespace, duration=KIALI_GRAPH_DURATION, web_root=root),
        "istio_status": lambda: kiali_api.fetch_istio_status(kiali, root),
        "validations": lambda: kiali_validations.fetch_validations(kiali, namespace, root),
        "health": lambda: kiali_health.fetch_app_health(kiali, namespace, status.version, root),
    }


def grafana_entry_traffic(grafana: Endpoint, expr: str, window: str) -> grafana_query.GrafanaAnswer | CheckResult:
    """``expr`` asked through Grafana's Prometheus data source (what the Istio dashboards show), or the
    grafana check's own result when Grafana has no such data source."""
    sources = gf.datasources(grafana)
    source = gf.prometheus_datasource(sources)
    if source is None:
        return grafana_checks.prometheus_datasource_present(sources)
    return grafana_query.query_prometheus(grafana, source, expr, window)


def start(suite: Suite, layers: Iterable[str], pool: Executor, *, load_window: str) -> None:
    """Send the first reads of the wanted add-on layers into ``pool`` and return at once."""
    plans: dict[str, Callable[[Suite, str, Executor, str], list[Read]]] = {
        "telemetry": _telemetry,
        "kiali": _kiali,
        "tracing": _tracing,
        "grafana": _grafana,
        "load": _load,
    }
    wanted = [plans[layer] for layer in layers if layer in plans]
    if wanted:
        pool.submit(_ahead, lambda: _plan(suite, wanted, pool, load_window))


def _plan(suite: Suite, plans: list[Callable[..., list[Read]]], pool: Executor, load_window: str) -> None:
    namespace = suite.boutique_namespace  # waits for the Deployments list, under way with the others
    if namespace is None:
        return  # the add-on checks will be skipped: nothing to ask for
    for plan in plans:
        try:
            reads = plan(suite, namespace, pool, load_window)
        except SuiteError:
            continue  # the add-on cannot be found: its checks say so
        for read in reads:
            pool.submit(_ahead, read)


def _ahead(read: Read) -> None:
    with reading_ahead(), contextlib.suppress(Exception):  # the check sending the same request reports it
        read()


def _telemetry(suite: Suite, namespace: str, pool: Executor, load_window: str) -> list[Read]:
    p = suite.addon("prometheus")
    return [
        lambda: prom.readiness(p),
        lambda: prom.targets(p),
        lambda: prom.request_series(p, namespace),
        lambda: tls_metrics.edge_security(p, namespace),
    ]


def _kiali(suite: Suite, namespace: str, pool: Executor, load_window: str) -> list[Read]:
    k = suite.addon("kiali")

    def status_then_the_rest() -> None:
        status = kiali_api.fetch_status(k)
        for read in kiali_reads(k, status, namespace).values():
            pool.submit(_ahead, read)

    return [status_then_the_rest]


def _tracing(suite: Suite, namespace: str, pool: Executor, load_window: str) -> list[Read]:
    t = suite.addon("tracing")
    return [lambda: tracing_api.discover(t)]  # the traces' own reads name a time: not the same request later


def _grafana(suite: Suite, namespace: str, pool: Executor, load_window: str) -> list[Read]:
    g = suite.addon("grafana")

    def datasource_health() -> None:
        source = gf.prometheus_datasource(gf.datasources(g))
        if source is not None:
            gf.datasource_health(g, source)

    return [lambda: gf.health(g), datasource_health, lambda: gf.dashboards(g)]


def _load(suite: Suite, namespace: str, pool: Executor, load_window: str) -> list[Read]:
    entry = suite.profile.load.get("entry", "frontend")
    expr = traffic.rate_expr(namespace, entry, load_window)
    return [
        lambda: prom.query(suite.addon("prometheus"), expr),
        lambda: grafana_entry_traffic(suite.addon("grafana"), expr, load_window),
    ]
