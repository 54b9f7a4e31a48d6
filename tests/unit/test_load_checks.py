"""The load layer's checks, each passing and failing with its message: the generator runs (missing, scaled to
zero, without a pod, crash-looping, initializing, restarting again and again), sends traffic (growing tables,
a young or silent Locust, a web UI, a stalled or stale one), keeps its error budget (the worst entries
quoted); Prometheus and Grafana count it; our own run holds its budgets and is counted."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from meshcheck import objects as o
from meshcheck.addons.grafana_query import GrafanaAnswer
from meshcheck.addons.locust import Failure, LogReading, Row, Table, parse_log
from meshcheck.addons.prometheus import Sample
from meshcheck.checks import load as checks
from meshcheck.load.run import LoadPlan, LoadRun
from meshcheck.sim import loadgen

NS = "online-boutique"


def now() -> datetime:
    return datetime.now(timezone.utc)


def stamp(seconds_ago: float) -> str:
    """A time the API would write, ``seconds_ago`` before now (read at once: ages are judged against the clock)."""
    return (now() - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def deployment(replicas: int = 1, created_ago: float = 7200) -> dict[str, Any]:
    return {"metadata": {"name": "loadgenerator", "namespace": NS, "creationTimestamp": stamp(created_ago)},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "loadgenerator"}}}, "status": {}}


def pod(main: dict[str, Any], *, phase: str = "Running", init: dict[str, Any] | None = None,
        started_ago: float = 7200) -> dict[str, Any]:
    statuses = [{"name": "main", "ready": "running" in main.get("state", {}), **main},
                {"name": "istio-proxy", "ready": True, "restartCount": 0, "state": {"running": {}}}]
    return {"metadata": {"name": "loadgenerator-abc-xyz", "namespace": NS, "labels": {"app": "loadgenerator"},
                         "creationTimestamp": stamp(started_ago)},
            "spec": {"containers": [{"name": "main"}, {"name": "istio-proxy"}]},
            "status": {"phase": phase, "startTime": stamp(started_ago), "containerStatuses": statuses,
                       "initContainerStatuses": [init] if init else []}}


def running(seconds: float = 7200, restarts: int = 0, last: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"state": {"running": {"startedAt": stamp(seconds)}}, "restartCount": restarts,
            "lastState": {"terminated": last} if last else {}}


def generator(main: dict[str, Any] | None = None, **kwargs: Any) -> checks.Generator:
    pods = [pod(main or running(), **kwargs)]
    return checks.locate([deployment()], pods, NS, "loadgenerator", "main")


# --- the generator runs --------------------------------------------------------------------------------


def test_a_running_generator_passes_and_names_its_pod():
    result = checks.generator_runs(generator())
    assert result.passed and "loadgenerator-abc-xyz runs Locust (container main up for 2h00m, 0 restarts)" \
        in result.message


def test_missing_scaled_to_zero_and_podless_generators_fail_with_their_fix():
    missing = checks.generator_runs(checks.locate([], [], NS, "loadgenerator", "main"))
    assert not missing.passed and "no Deployment loadgenerator in namespace online-boutique" in missing.message
    assert "--load" in missing.remediation
    zero = checks.generator_runs(checks.locate([deployment(0)], [], NS, "loadgenerator", "main"))
    assert "scaled to 0 replicas" in zero.message and "scale deployment loadgenerator --replicas=1" in zero.remediation
    young = checks.generator_runs(checks.locate([deployment(created_ago=10)], [], NS, "loadgenerator", "main"))
    assert "wants 1 replica but has no pod" in young.message and not young.settled
    old = checks.generator_runs(checks.locate([deployment()], [], NS, "loadgenerator", "main"))
    assert old.settled


def test_a_crash_looping_generator_names_its_state_and_last_exit():
    main = {"state": {"waiting": {"reason": "CrashLoopBackOff"}}, "restartCount": 9,
            "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": stamp(30)}}}
    result = checks.generator_runs(generator(main))
    assert not result.passed and result.settled
    assert "is crash-looping: CrashLoopBackOff, 9 restarts, last exit OOMKilled (exit code 137) 3" in result.message
    assert "memory limit" in result.remediation and "--previous" in result.remediation


def test_a_generator_that_keeps_crashing_while_it_runs_now_fails():
    last = {"reason": "OOMKilled", "exitCode": 137, "finishedAt": stamp(61)}
    result = checks.generator_runs(generator(running(60, restarts=4, last=last)))
    assert not result.passed and "keeps crashing: container main runs now, but has restarted 4 times" in result.message
    calm = checks.generator_runs(generator(running(3600, restarts=4, last={**last, "finishedAt": stamp(3601)})))
    assert calm.passed and "4 restarts" in calm.message


def test_a_generator_waiting_for_the_frontend_is_initializing_not_settled_while_young():
    init = {"name": "frontend-check", "state": {"running": {"startedAt": stamp(20)}}}
    main = {"state": {"waiting": {"reason": "PodInitializing"}}, "restartCount": 0}
    result = checks.generator_runs(generator(main, phase="Pending", init=init, started_ago=20))
    assert not result.passed and not result.settled
    assert "is not running Locust: init container frontend-check still runs" in result.message


# --- its traffic ---------------------------------------------------------------------------------------


def reading_of(seconds: float, *, tables: int = 6, version: str = "2.25.0", failures: dict[str, float] | None = None,
               stalled: bool = False, printed_ago: float = 0.0) -> LogReading:
    """What the last ``tables`` tables of a Locust that has run ``seconds`` look like, read with timestamps."""
    lines, at = [], now()
    for index in range(tables):
        elapsed = seconds - printed_ago - 2 * (tables - 1 - index)
        moment = at - timedelta(seconds=printed_ago + 2 * (tables - 1 - index))
        for line in loadgen.table(version, seconds if stalled else elapsed, failures or {}):
            lines.append(f"{moment:%Y-%m-%dT%H:%M:%S.%f}Z {line}")
    return parse_log("\n".join(lines))


def judge(reading: LogReading | None, gen: checks.Generator | None = None):
    gen = gen or generator()
    return checks.generator_sends_traffic(gen, checks.generator_runs(gen), reading, now())


def test_tables_whose_requests_grow_pass():
    result = judge(reading_of(7200))
    assert result.passed and "sent 17 requests in 10s" in result.message


def test_stalled_and_stale_tables_fail():
    stuck = judge(reading_of(7200, stalled=True))
    assert not stuck.passed and "is stuck at 12232 requests: its tables 10s apart show the same count" in stuck.message
    stale = judge(reading_of(7200, printed_ago=600))
    assert not stale.passed and "printed its last table 10m ago" in stale.message


def test_one_table_is_judged_by_the_containers_age():
    assert judge(reading_of(7200, tables=1)).passed
    idle = judge(parse_log("\n".join(loadgen.table("2.25.0", 1.0, {}))))
    assert not idle.passed and idle.settled and "has sent 0 requests in 2h00m" in idle.message


def test_no_table_yet_waits_while_young_and_is_final_when_old():
    startup = parse_log("[2026-05-01 12:00:00,100] lg/INFO/locust.main: Starting Locust 2.25.0\n")
    young = judge(startup, generator(running(20)))
    assert not young.passed and not young.settled and "has printed no statistics table yet (no Aggregated row" \
        in young.message
    old = judge(startup, generator(running(3600)))
    assert not old.passed and old.settled and "last line: '[2026-05-01 12:00:00,100]" in old.message


def test_a_web_ui_or_a_garbled_table_says_so():
    ui = judge(parse_log("x/INFO/locust.main: Starting web interface at http://0.0.0.0:8089\n"))
    assert "started its web UI instead of running headless" in ui.message and ui.settled
    garbled = judge(LogReading((), 3, problems=("GET / | x",)))
    assert "could not be read: 'GET / | x'" in garbled.message


def test_a_generator_that_does_not_run_cannot_be_read():
    gen = checks.locate([deployment(0)], [], NS, "loadgenerator", "main")
    result = checks.generator_sends_traffic(gen, checks.generator_runs(gen), None, now())
    assert result.message.startswith("Locust's statistics cannot be read: Deployment online-boutique/loadgenerator is "
                                      "scaled to 0 replicas")


def test_the_error_rate_passes_within_budget_and_quotes_the_worst_entries_over_it():
    gen = generator()
    runs = checks.generator_runs(gen)
    fine = checks.generator_error_rate(gen, runs, reading_of(7200), 0.01)
    assert fine.passed and "0 of 12232 requests failed (0.00%, budget 1.00%)" in fine.message
    bad = checks.generator_error_rate(gen, runs, reading_of(7200, failures={"POST /cart/checkout": 0.35,
                                                                            "POST /cart": 0.04}), 0.01)
    assert not bad.passed and "over the 1.00% budget; worst: POST /cart/checkout 186 of 532 failed (35.0%); " \
        "POST /cart 63 of 1596 failed (3.9%)" in bad.message
    none = checks.generator_error_rate(gen, runs, parse_log(""), 0.01)
    assert none.message.startswith("Locust's error rate cannot be judged: ")


# --- telemetry ---------------------------------------------------------------------------------------


EXPR = 'sum(rate(istio_requests_total{...}[5m]))'


def test_prometheus_rate_passes_above_the_least_a_generator_sends():
    assert checks.prometheus_counts_entry_traffic([Sample({}, 1.7)], EXPR, "frontend", NS, "5m").passed
    none = checks.prometheus_counts_entry_traffic([], EXPR, "frontend", NS, "5m")
    assert "Prometheus holds no istio_requests_total series for requests into online-boutique/frontend" in none.message
    zero = checks.prometheus_counts_entry_traffic([Sample({}, 0.0)], EXPR, "frontend", NS, "5m")
    assert "counts no requests into online-boutique/frontend over the last 5m" in zero.message
    few = checks.prometheus_counts_entry_traffic([Sample({}, 5 / 300)], EXPR, "frontend", NS, "5m")
    assert "counts only 0.017 requests/s" in few.message and not few.settled


def test_grafana_passes_with_the_rate_and_fails_with_its_error_or_no_traffic():
    assert checks.grafana_shows_entry_traffic(GrafanaAnswer("Prometheus", (1.7,)), EXPR, "frontend", NS, "5m").passed
    error = checks.grafana_shows_entry_traffic(GrafanaAnswer("Prometheus", error="context deadline exceeded",
                                                             status=500), EXPR, "frontend", NS, "5m")
    assert "Grafana's data source 'Prometheus' failed the query" in error.message and "deadline" in error.message
    empty = checks.grafana_shows_entry_traffic(GrafanaAnswer("Prometheus"), EXPR, "frontend", NS, "5m")
    assert "holds no istio_requests_total series" in empty.message


# --- our own load ------------------------------------------------------------------------------------


PLAN = LoadPlan(10, 5, 30, "http://172.18.255.200", "gateway EXTERNAL-IP 172.18.255.200:80")


def own(rows: list[Row], total: Row, failures: tuple[Failure, ...] = ()) -> LoadRun:
    return LoadRun(PLAN, Table(tuple(rows), total, "csv"), failures, started=1.0, ended=31.0)


GOOD = own([Row("GET", "/", 100, 0, 10, 12, 40)], Row("", "Aggregated", 100, 0, 10, 12, 40))
SLOW_AND_FAILING = own([Row("GET", "/", 80, 0, 10, 12, 40), Row("POST", "/cart/checkout", 20, 5, 2500, 2600, 3100)],
                       Row("", "Aggregated", 100, 5, 12, 500, 2900),
                       (Failure("POST", "/cart/checkout", "CatchResponseError('HTTP 500')", 5),))


def test_own_load_error_rate_and_p95_pass_and_fail_naming_entries():
    assert checks.own_load_error_rate(GOOD, 0.01).passed and checks.own_load_p95(GOOD, 2000).passed
    errors = checks.own_load_error_rate(SLOW_AND_FAILING, 0.01)
    assert "5 of 100 requests failed (5.00%), over the 1.00% budget; worst: POST /cart/checkout 5 of 20" \
        in errors.message and "CatchResponseError('HTTP 500') ×5" in errors.remediation
    slow = checks.own_load_p95(SLOW_AND_FAILING, 2000)
    assert "95th percentile response time is 2900 ms, over the 2000 ms budget; slowest: POST /cart/checkout p95 " \
        "3100 ms" in slow.message


def test_own_load_that_could_not_run_fails_every_check_with_why():
    broken = LoadRun(PLAN, error="Locust is not installed in /usr/bin/python3: pip install 'meshcheck[load]'")
    for result in (checks.own_load_error_rate(broken, 0.01), checks.own_load_p95(broken, 2000),
                   checks.own_load_counted(broken, 0, 0, 0.5, "frontend", NS, settled=True)):
        assert not result.passed and "did not run: Locust is not installed" in result.message


def test_own_load_counted_wants_a_fraction_of_what_was_sent():
    assert checks.own_load_counted(GOOD, 1000, 1060, 0.5, "frontend", NS, settled=False).passed
    short = checks.own_load_counted(GOOD, 1000, 1010, 0.5, "frontend", NS, settled=False)
    assert not short.passed and not short.settled
    assert "counted 10 more requests into online-boutique/frontend after our 100 requests" in short.message
    absent = checks.own_load_counted(GOOD, 0, None, 0.5, "frontend", NS, settled=True)
    assert "has no istio_requests_total series for online-boutique/frontend" in absent.message and absent.settled


@pytest.mark.parametrize("seconds, text", [(45, "45s"), (600, "10m"), (7500, "2h05m"), (200000, "2d7h")])
def test_durations_read_as_people_write_them(seconds, text):
    assert o.duration_text(seconds) == text
