"""Load checks: the in-cluster load generator runs and sends traffic within its error budget, telemetry
counts that traffic, and the suite's own Locust run (when asked for) holds its error and latency budgets.

Pure functions from what was read (objects, Locust's table or CSV, Prometheus's and Grafana's answers)
to a ``CheckResult``. Online Boutique's ``loadgenerator`` is Locust, headless, in container ``main``,
behind an init container (``frontend-check``) that waits until the frontend answers
(GoogleCloudPlatform/microservices-demo kubernetes-manifests/loadgenerator.yaml); Locust counts every
request since its container started (its statistics are never reset in a headless run without
``--reset-stats``), so a restart starts the counts again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from meshcheck import objects as o
from meshcheck.addons.grafana_query import GrafanaAnswer
from meshcheck.addons.locust import LogReading, Row, Table
from meshcheck.addons.prometheus import Sample
from meshcheck.load.run import LoadRun
from meshcheck.results import CheckResult, count, fail, ok

Obj = o.Obj

# A headless Locust prints its table every 2 s (CONSOLE_STATS_INTERVAL_SEC); a container younger than
# this may not have printed one, or sent a request, yet.
WARMUP_SECONDS = 60.0
# The least a working generator sends: one user waiting the longest the boutique's locustfile waits
# (between(1, 10)) sends about 0.1 requests a second; the release's 10 users send about 2.
MIN_RATE = 0.05
# Two tables this far apart must differ in their request counts.
GROWTH_SPAN_SECONDS = 10.0
# A table older than this, from a generator that still runs, means Locust stopped printing.
STALE_SECONDS = 120.0
# A container that restarted this often, the last time this recently, keeps crashing while it runs now.
RESTARTS_CRASHING, RECENT_RESTART_SECONDS = 3, 900.0


@dataclass(frozen=True)
class Generator:
    """The load generator as the cluster shows it: its Deployment and the pod whose log is read."""

    namespace: str
    name: str                     # the Deployment, e.g. loadgenerator
    container: str                # Locust's container, e.g. main
    deployment: Obj | None = None
    pod: Obj | None = None        # the newest pod the Deployment selects, running or not

    @property
    def pod_name(self) -> str:
        return o.name(self.pod) if self.pod else ""

    @property
    def where(self) -> str:
        return f"{self.namespace}/{self.pod_name or self.name}"

    def status(self) -> Obj:
        return o.container_statuses(self.pod).get(self.container, {}) if self.pod else {}

    def running_since(self) -> str | None:
        """When Locust's container last started (RFC 3339), if it runs."""
        return ((self.status().get("state") or {}).get("running") or {}).get("startedAt")

    def age(self) -> float | None:
        """Seconds Locust's current container has run: how long its statistics have counted."""
        return o.age_seconds(self.running_since())

    def logs(self) -> str:
        return f"kubectl -n {self.namespace} logs {self.pod_name or 'deploy/' + self.name} -c {self.container}"

    @property
    def objects(self) -> tuple[str, ...]:
        """What a failure about the generator names for reports: the pod whose log is read, its Deployment."""
        found = [f"Pod/{self.namespace}/{self.pod_name}"] if self.pod else []
        return (*found, *([f"Deployment/{self.namespace}/{self.name}"] if self.deployment is not None else []))

    def named(self, result: CheckResult) -> CheckResult:
        return result if result.passed else dataclasses.replace(result, objects=result.objects or self.objects)


def locate(deployments: list[Obj], pods: list[Obj], namespace: str, name: str, container: str) -> Generator:
    """The generator's Deployment in the namespace and its newest pod (a running one first)."""
    deployment = o.named(deployments, name, namespace)
    own = o.pods_of(deployment, pods) if deployment else []
    own.sort(key=lambda p: (o.pod_ready(p), (p.get("metadata") or {}).get("creationTimestamp") or ""), reverse=True)
    return Generator(namespace, name, container, deployment, own[0] if own else None)


# --- the generator runs ------------------------------------------------------------------------


def generator_runs(gen: Generator) -> CheckResult:
    """The generator's Deployment exists, wants a replica, and its Locust container runs without crashing."""
    return gen.named(_generator_runs(gen))


def _generator_runs(gen: Generator) -> CheckResult:
    check = "load.generator_runs"
    if gen.deployment is None:
        return fail(
            check,
            f"no Deployment {gen.name} in namespace {gen.namespace}: nothing in the cluster generates load",
            f"deploy Online Boutique's load generator (kubernetes-manifests/loadgenerator.yaml of its release, "
            f"or kubectl -n {gen.namespace} apply -f it), or run the suite's own load with --load",
        )
    replicas = (gen.deployment.get("spec") or {}).get("replicas", 1)
    if replicas == 0:
        return fail(
            check,
            f"Deployment {gen.namespace}/{gen.name} is scaled to 0 replicas: no load generator runs",
            f"kubectl -n {gen.namespace} scale deployment {gen.name} --replicas=1",
            replicas=0,
        )
    if gen.pod is None:
        return fail(
            check,
            f"Deployment {gen.namespace}/{gen.name} wants {count(replicas, 'replica')} but has no pod",
            f"see kubectl -n {gen.namespace} describe deployment {gen.name} and its ReplicaSet's events "
            "(a quota, a missing ServiceAccount, an admission webhook refusing the pod)",
            settled=o.stale((gen.deployment.get("metadata") or {}).get("creationTimestamp")),
        )
    return _pod_runs(check, gen)


def _pod_runs(check: str, gen: Generator) -> CheckResult:
    pod, status = gen.pod or {}, gen.status()
    crashing = o.crashing_container(pod)
    if crashing is not None:
        return fail(
            check,
            f"load generator pod {gen.where} is crash-looping: {o.pod_state(pod)}{_last_exit(crashing)}",
            _crash_fix(gen, crashing),
            settled=o.pod_settled(pod),
            state=o.pod_state(pod),
        )
    if gen.running_since() is None:
        waiting = o.waiting_reason(pod) or (pod.get("status") or {}).get("phase") or "not running"
        initializing = _running_init_container(pod)
        detail = f"init container {initializing} still runs (it waits until frontend answers)" if initializing \
            else f"container {gen.container} is {waiting}"
        return fail(
            check,
            f"load generator pod {gen.where} is not running Locust: {detail}",
            f"see kubectl -n {gen.namespace} describe pod {gen.pod_name}; frontend-check loops until "
            f"http://frontend:80 answers, so check the frontend first",
            settled=o.pod_settled(pod),
            state=waiting,
        )
    last = (status.get("lastState") or {}).get("terminated") or {}
    restarts = int(status.get("restartCount", 0))
    if restarts >= RESTARTS_CRASHING and (o.age_seconds(last.get("finishedAt")) or 1e9) < RECENT_RESTART_SECONDS:
        return fail(
            check,
            f"load generator pod {gen.where} keeps crashing: container {gen.container} runs now, but has "
            f"restarted {restarts} times{_last_exit(status)}; each restart starts Locust's statistics again",
            _crash_fix(gen, status),
            restarts=restarts,
        )
    return ok(check, f"load generator {gen.where} runs Locust (container {gen.container} up for "
                     f"{o.duration_text(gen.age())}, {count(restarts, 'restart')})", pod=gen.pod_name,
              restarts=restarts)


def _running_init_container(pod: Obj) -> str | None:
    for status in (pod.get("status") or {}).get("initContainerStatuses") or []:
        if (status.get("state") or {}).get("running"):
            return str(status.get("name"))
    return None


def _last_exit(status: Obj) -> str:
    last = (status.get("lastState") or {}).get("terminated") or (status.get("state") or {}).get("terminated") or {}
    if not last:
        return ""
    ago = o.age_seconds(last.get("finishedAt"))
    when = f" {o.duration_text(ago)} ago" if ago is not None else ""
    return f", last exit {last.get('reason') or 'Error'} (exit code {last.get('exitCode', '?')}){when}"


def _crash_fix(gen: Generator, status: Obj) -> str:
    last = (status.get("lastState") or {}).get("terminated") or {}
    previous = f"kubectl -n {gen.namespace} logs {gen.pod_name} -c {gen.container} --previous"
    if last.get("reason") == "OOMKilled":
        return (f"Locust ran out of memory: raise the {gen.container} container's memory limit in Deployment "
                f"{gen.name} (the release's is 512Mi) or lower its USERS; {previous} shows its last words")
    return f"read why it exits: {previous}"


# --- its traffic --------------------------------------------------------------------------------


def _not_readable(check: str, runs: CheckResult) -> CheckResult:
    return fail(check, f"Locust's statistics cannot be read: {runs.message}", runs.remediation or "see the check "
                "that the load generator runs", settled=runs.settled)


def _no_table(check: str, gen: Generator, reading: LogReading) -> CheckResult:
    """Why a read of the log holds no complete table, and whether waiting can change that."""
    age = gen.age()
    if reading.web_ui:
        return fail(
            check,
            f"Locust in {gen.where} started its web UI instead of running headless: it prints no statistics "
            "and sends nothing until someone presses Start",
            f"run it as Online Boutique does (locust --headless -u USERS, the loadgenerator image's "
            f"entrypoint): check the command and args of container {gen.container}",
            lines=reading.lines,
        )
    if reading.problems:
        return fail(
            check,
            f"Locust's table in {gen.where} could not be read: {reading.problems[-1]!r}",
            f"compare {gen.logs()} with Locust's table layout (Name … # reqs # fails | … | req/s failures/s); "
            "this suite reads the layouts of Locust 1.x to 2.x",
            problems=list(reading.problems),
        )
    young = age is not None and age < WARMUP_SECONDS
    return fail(
        check,
        f"Locust in {gen.where} has printed no statistics table yet (no Aggregated row in its last "
        f"{count(reading.lines, 'log line')}; container {gen.container} up for {o.duration_text(age)}); last line: "
        f"{reading.last_line[:120]!r}",
        f"a headless Locust prints its table every 2 s: read {gen.logs()} for what keeps it from starting",
        settled=not young,
        lines=reading.lines,
    )


def generator_sends_traffic(gen: Generator, runs: CheckResult, reading: LogReading | None,
                            now: datetime | None = None) -> CheckResult:
    """Locust's Aggregated requests grow between its tables, or (one table) match how long it has run."""
    return gen.named(_sends_traffic(gen, runs, reading, now))


def _sends_traffic(gen: Generator, runs: CheckResult, reading: LogReading | None, now: datetime | None) -> CheckResult:
    check = "load.generator_sends_traffic"
    if not runs.passed or reading is None:
        return _not_readable(check, runs)
    table = reading.latest
    if table is None:
        return _no_table(check, gen, reading)
    now = now or datetime.now(timezone.utc)
    total, age = table.total, gen.age()
    young = age is not None and age < WARMUP_SECONDS
    where = f"Locust in {gen.where}"
    if table.at is not None and (now - table.at).total_seconds() > STALE_SECONDS:
        return fail(
            check,
            f"{where} printed its last table {o.duration_text((now - table.at).total_seconds())} ago "
            f"({total.requests} requests): it has stopped reporting while its container runs",
            f"Locust hangs: read {gen.logs()} and restart it (kubectl -n {gen.namespace} rollout restart "
            f"deployment {gen.name})",
        )
    first = reading.earliest
    if first is not None and first is not table and first.at and table.at:
        span = (table.at - first.at).total_seconds()
        if span >= GROWTH_SPAN_SECONDS or total.requests > first.total.requests:
            if total.requests > first.total.requests:
                return ok(check, f"{where} sent {total.requests - first.total.requests} requests in "
                                 f"{span:.0f}s ({total.requests} since it started {o.duration_text(age)} ago)",
                          requests=total.requests, layout=table.layout)
            return fail(
                check,
                f"{where} is stuck at {total.requests} requests: its tables {span:.0f}s apart show the same count",
                f"its users send nothing: read {gen.logs()}, and check that the frontend answers",
                settled=not young,
                requests=total.requests,
            )
    expected = MIN_RATE * max((age or 0.0) - WARMUP_SECONDS, 0.0)
    if total.requests == 0 or total.requests < expected:
        return fail(
            check,
            f"{where} has sent {count(total.requests, 'request')} in {o.duration_text(age)} (a working generator sends "
            f"at least {MIN_RATE} a second, {expected:.0f} by now)",
            f"its users send (almost) nothing: read {gen.logs()}, and check the USERS and RATE of Deployment "
            f"{gen.name}",
            settled=not young,
            requests=total.requests,
        )
    return ok(check, f"{where} has sent {total.requests} requests in {o.duration_text(age)}", requests=total.requests,
              layout=table.layout)


def describe_rows(rows: Sequence[Row]) -> str:
    """'POST /cart/checkout 120 of 400 failed (30.0%)' for each row, for messages that quote the worst."""
    return "; ".join(f"{r.label} {r.failures} of {r.requests} failed ({r.failure_ratio:.1%})" for r in rows)


def generator_error_rate(gen: Generator, runs: CheckResult, reading: LogReading | None,
                         budget: float) -> CheckResult:
    """The Aggregated row's failure ratio is within the budget; the worst entries are quoted when not."""
    return gen.named(_error_rate(gen, runs, reading, budget))


def _error_rate(gen: Generator, runs: CheckResult, reading: LogReading | None, budget: float) -> CheckResult:
    check = "load.generator_error_rate"
    if not runs.passed or reading is None:
        return _not_readable(check, runs)
    table = reading.latest
    if table is None:
        early = _no_table(check, gen, reading)
        return fail(check, f"Locust's error rate cannot be judged: {early.message}", early.remediation,
                    settled=early.settled)
    return _error_budget(check, f"Locust in {gen.where}", table, budget,
                         f"read Locust's failures in {gen.logs()}, and the logs of the frontend and the "
                         f"services the failing pages call (kubectl -n {gen.namespace} logs deploy/frontend "
                         "-c server)")


def _error_budget(check: str, who: str, table: Table, budget: float, fix: str) -> CheckResult:
    total = table.total
    ratio = total.failure_ratio
    if total.requests and ratio <= budget:
        return ok(check, f"{who}: {total.failures} of {total.requests} requests failed ({ratio:.2%}, budget "
                         f"{budget:.2%})", ratio=ratio, requests=total.requests)
    if not total.requests:
        return fail(check, f"{who} has sent no request: there is no error rate to judge", fix)
    worst = table.worst()
    return fail(
        check,
        f"{who}: {total.failures} of {total.requests} requests failed ({ratio:.2%}), over the "
        f"{budget:.2%} budget; worst: {describe_rows(worst) or 'no entry names its failures'}",
        fix,
        ratio=ratio,
        worst=[r.label for r in worst],
    )


# --- telemetry sees it ---------------------------------------------------------------------------


def _too_little(who: str, found: Sequence[object], rate: float, expr: str, where: str, window: str) -> str:
    """What a rate that is no load says: no series, nothing over the window, or a few shoppers' requests."""
    if not found:
        return f"{who} holds no istio_requests_total series for requests into {where} ({expr} is empty)"
    if not rate > 0:
        return f"{who} counts no requests into {where} over the last {window} ({expr} = {rate:g})"
    return (f"{who} counts only {rate:.3f} requests/s into {where} over the last {window} ({expr}), less than the "
            f"{MIN_RATE}/s the slowest working load generator sends: a few shoppers' requests (this suite's "
            "storefront checks) are not load")


def prometheus_counts_entry_traffic(samples: Sequence[Sample], expr: str, workload: str, namespace: str,
                                    window: str) -> CheckResult:
    """Prometheus's rate of requests into the entry workload (reporter destination) is at least what the
    slowest working generator sends: above zero, and above the handful of requests the storefront layer's
    own shopper sent through the gateway (five in the rate's window)."""
    check = "load.prometheus_counts_entry_traffic"
    rate = sum(s.value for s in samples)
    if samples and rate >= MIN_RATE:
        return ok(check, f"Prometheus counts {rate:.2f} requests/s into {namespace}/{workload} over the last "
                         f"{window}", rate=rate, query=expr)
    return fail(
        check,
        _too_little("Prometheus", samples, rate, expr, f"{namespace}/{workload}", window),
        f"traffic that reaches {workload}'s sidecar is counted (istio_requests_total, reporter=destination): "
        f"check that the load generator sends (this layer's first checks), that {workload}'s pods carry "
        "istio-proxy, and that Prometheus scrapes them (the telemetry layer)",
        settled=False,
        query=expr,
        rate=rate,
    )


def grafana_shows_entry_traffic(answer: GrafanaAnswer, expr: str, workload: str, namespace: str,
                                window: str) -> CheckResult:
    """Grafana answers the same rate through its Prometheus data source, as its dashboards would."""
    check = "load.grafana_shows_entry_traffic"
    where = f"Grafana's data source {answer.source!r}"
    if answer.error:
        return fail(
            check,
            f"{where} failed the query {expr} with {answer.status}: {answer.error}",
            "the Istio dashboards run this kind of query: check the data source's URL and that Grafana reaches "
            "Prometheus (Connections → Data sources → Test), and the grafana pod's logs",
            settled=answer.status not in (502, 503, 504),
            status=answer.status,
        )
    rate = sum(answer.values)
    if answer.values and rate >= MIN_RATE:
        return ok(check, f"{where} shows {rate:.2f} requests/s into {namespace}/{workload} over the last {window}",
                  rate=rate)
    return fail(
        check,
        _too_little(where, answer.values, rate, expr, f"{namespace}/{workload}", window),
        "Grafana shows what its data source's Prometheus holds: if Prometheus counts this traffic, the data "
        "source points at another Prometheus (check its URL)",
        settled=False,
        rate=rate,
    )


# --- our own load ---------------------------------------------------------------------------------


def _own_failed(check: str, run: LoadRun) -> CheckResult | None:
    if run.error or run.stats is None:
        return fail(check, f"our own load through {run.plan.via} did not run: {run.error or 'no statistics'}",
                    "see the message: Locust must be installed and able to start (pip install 'meshcheck[load]')")
    return None


def own_load_error_rate(run: LoadRun, budget: float) -> CheckResult:
    """Our Locust run's failure ratio is within the budget; the failing entries and their errors are named."""
    check = "load.own_error_rate"
    early = _own_failed(check, run)
    if early:
        return early
    assert run.stats is not None
    plan = run.plan
    who = (f"our own load ({plan.users} users for {plan.duration:g}s through {plan.via})")
    errors = "; ".join(f"{f.method} {f.name}: {f.error} ×{f.occurrences}" for f in run.failures[:3])
    fix = (f"the shop fails under load: errors seen: {errors}; check the frontend's logs and the services the "
           "failing pages call" if errors else "the shop fails under load: check the frontend's logs")
    return _error_budget(check, who, run.stats, budget, fix)


def own_load_p95(run: LoadRun, budget_ms: float) -> CheckResult:
    """Our Locust run's 95th percentile response time (Aggregated) is within the budget."""
    check = "load.own_p95"
    early = _own_failed(check, run)
    if early:
        return early
    assert run.stats is not None
    total = run.stats.total
    p95 = total.p95_ms
    who = f"our own load through {run.plan.via}"
    if p95 is None:
        return fail(check, f"{who}: Locust reported no 95th percentile ({total.requests} requests)",
                    "no request completed: see the error rate check")
    if p95 <= budget_ms:
        return ok(check, f"{who}: 95% of {total.requests} requests answered within {p95:.0f} ms (budget "
                         f"{budget_ms:.0f} ms)", p95_ms=p95)
    slowest = sorted((r for r in run.stats.rows if r.p95_ms is not None), key=lambda r: -(r.p95_ms or 0))[:3]
    named = "; ".join(f"{r.label} p95 {r.p95_ms:.0f} ms" for r in slowest)
    return fail(
        check,
        f"{who}: the 95th percentile response time is {p95:.0f} ms, over the {budget_ms:.0f} ms budget; "
        f"slowest: {named}",
        "the shop is slow under load: check the frontend's and its backends' CPU limits and throttling "
        "(kubectl top pods), and the latency panels of Istio's Workload dashboard",
        p95_ms=p95,
        slowest=[r.label for r in slowest],
    )


def own_load_counted(run: LoadRun, before: float | None, after: float | None, fraction: float, workload: str,
                     namespace: str, *, settled: bool) -> CheckResult:
    """After our run, Prometheus's count of requests into the entry workload rose by a fraction of what we sent."""
    check = "load.own_load_counted"
    early = _own_failed(check, run)
    if early:
        return early
    sent = run.sent
    wanted = fraction * sent
    if before is None or after is None:
        return fail(check, f"Prometheus has no istio_requests_total series for {namespace}/{workload} to count "
                           f"our {sent} requests by", "see the telemetry layer: Prometheus must scrape the "
                    f"sidecar of {workload}", settled=settled)
    rose = after - before
    if rose >= wanted and sent:
        return ok(check, f"Prometheus counted {rose:.0f} more requests into {namespace}/{workload} after our "
                         f"{sent} (at least {fraction:.0%} expected)", rose=rose, sent=sent)
    return fail(
        check,
        f"Prometheus counted {rose:.0f} more requests into {namespace}/{workload} after our {sent} requests "
        f"through {run.plan.via}; expected at least {wanted:.0f} ({fraction:.0%})",
        f"our requests did not all reach {workload}'s sidecar, or Prometheus has not scraped it since: check "
        "that the route sends the storefront's traffic to this workload, and the scrape interval",
        settled=settled,
        rose=rose,
        sent=sent,
    )
