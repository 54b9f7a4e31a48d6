"""Load: Online Boutique's own Locust (loadgenerator) runs and sends traffic within its error budget, and
Prometheus and Grafana count that traffic at the frontend; with --load, our own Locust run against the
storefront holds the error and latency budgets and shows up in Prometheus.

Read-only by default: four requests on a healthy cluster, started together when the module begins (the
generator's log, Prometheus's rate, Grafana's data sources, then its answer to the same rate); the
traffic and error-rate checks judge the same read of the log. A check that reads what the telemetry or
grafana layer checks is blocked when that layer failed. Our own load places orders, so it only runs
with --load, says so before it starts, and puts its per-endpoint table in the report.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from meshcheck import first_reads, kube, layers
from meshcheck.addons import grafana_query, traffic
from meshcheck.addons import prometheus as prom
from meshcheck.checks import load as checks
from meshcheck.errors import SuiteError
from meshcheck.load.connection import connection_of
from meshcheck.load.generator import GeneratorReader
from meshcheck.load.options import COUNTED_FRACTION
from meshcheck.load.report import table_lines
from meshcheck.load.run import LoadPlan, LoadRun, run_locust
from meshcheck.load.timing import Ahead, until_settled
from meshcheck.plugin import STATE


@dataclass
class Reads:
    generator: GeneratorReader
    entry: str                   # the workload the traffic enters (frontend)
    namespace: str
    window: str
    log: Ahead
    rate: Ahead | None           # None when the telemetry layer failed: not sent
    grafana: Ahead | None        # None when the grafana layer failed: not sent

    @property
    def expr(self) -> str:
        return traffic.rate_expr(self.namespace, self.entry, self.window)


@pytest.fixture(scope="module")
def reads(suite, profile, boutique_namespace, load_options, request) -> Iterator[Reads]:
    state = request.config.stash[STATE]

    def blocked(layer: str) -> bool:
        return state.blocker((layer, *layers.prerequisites(layer))) is not None

    settings = profile.load
    reader = GeneratorReader(suite.cluster, boutique_namespace, settings.get("generator", "loadgenerator"),
                             settings.get("container", "main"))
    entry, window = settings.get("entry", "frontend"), load_options.window
    expr = traffic.rate_expr(boutique_namespace, entry, window)
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="meshcheck-load") as pool:
        yield Reads(
            reader, entry, boutique_namespace, window,
            log=Ahead(pool, reader.read),
            rate=None if blocked("telemetry") else Ahead(pool, lambda: prom.query(suite.addon("prometheus"), expr)),
            grafana=None if blocked("grafana") else Ahead(
                pool, lambda: first_reads.grafana_entry_traffic(suite.addon("grafana"), expr, window)),
        )


def test_loadgenerator_runs(reads, wait, require):
    require(wait(lambda: checks.generator_runs(reads.generator.locate()), kube.DEPLOYMENTS, kube.PODS))


def test_loadgenerator_sends_traffic(reads, wait, require):
    def look():
        generator, reading = reads.log.fresh()
        return checks.generator_sends_traffic(generator, checks.generator_runs(generator), reading)

    require(wait(look, kube.PODS))


def test_loadgenerator_error_rate_within_budget(reads, load_options, require):
    generator, reading = reads.log.latest()
    require(checks.generator_error_rate(generator, checks.generator_runs(generator), reading,
                                        load_options.max_error_rate))


def test_prometheus_counts_frontend_traffic(reads, rests_on, wait, require):
    rests_on("telemetry")
    assert reads.rate is not None
    require(wait(lambda: checks.prometheus_counts_entry_traffic(reads.rate.fresh(), reads.expr, reads.entry,
                                                                reads.namespace, reads.window)))


def test_grafana_shows_frontend_traffic(reads, rests_on, wait, require):
    rests_on("grafana")
    assert reads.grafana is not None

    def look():
        answer = reads.grafana.fresh()
        if not isinstance(answer, grafana_query.GrafanaAnswer):
            return answer  # no Prometheus data source: the grafana check's own result says so
        return checks.grafana_shows_entry_traffic(answer, reads.expr, reads.entry, reads.namespace, reads.window)

    require(wait(look))


# --- our own load (--load) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnLoad:
    run: LoadRun
    before: float | None         # Prometheus's count at the entry workload before our run; None: not read
    lines: tuple[str, ...]


def _counted(suite, namespace: str, entry: str) -> float | None:
    return traffic.requests_counted(suite.addon("prometheus"), namespace, entry)


@pytest.fixture(scope="module")
def own_load(suite, profile, boutique_namespace, load_options, announce, report_section, request) -> OwnLoad:
    if not load_options.own:
        pytest.skip("our own load was not asked for: it places orders in the shop, so it runs only with --load")
    entry = profile.load.get("entry", "frontend")
    endpoint = suite.storefront()
    plan = LoadPlan(load_options.users, load_options.spawn_rate, load_options.duration, endpoint.base_url,
                    endpoint.via)
    before = None
    if "telemetry" not in request.config.stash[STATE].broken:
        try:
            before = _counted(suite, boutique_namespace, entry) or 0.0
        except SuiteError:
            before = None
    announce(f"meshcheck: our own load starts now: {load_options.describe()} against the storefront through "
             f"{endpoint.via}; it places real orders in the shop")
    with tempfile.TemporaryDirectory(prefix="meshcheck-load-") as workdir:
        run = run_locust(plan, connection_of(endpoint, profile.storefront.get("checkout", {})), Path(workdir))
    lines = tuple(table_lines(run))
    report_section("meshcheck own load", list(lines))
    return OwnLoad(run, before, lines)


@pytest.fixture
def own(own_load, request) -> OwnLoad:
    request.node.user_properties.append(("own_load", "\n".join(own_load.lines)))
    return own_load


def test_own_load_error_rate_within_budget(own, load_options, require):
    require(checks.own_load_error_rate(own.run, load_options.max_error_rate))


def test_own_load_p95_within_budget(own, load_options, require):
    require(checks.own_load_p95(own.run, load_options.p95_ms))


def test_own_load_counted_by_prometheus(own, suite, profile, boutique_namespace, load_options, rests_on, require):
    rests_on("telemetry")
    entry = profile.load.get("entry", "frontend")
    deadline = own.run.ended + load_options.scrape_wait

    def look():
        return checks.own_load_counted(own.run, own.before, _counted(suite, boutique_namespace, entry),
                                       COUNTED_FRACTION, entry, boutique_namespace, settled=time.time() >= deadline)

    require(until_settled(look))
