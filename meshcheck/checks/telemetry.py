"""Telemetry checks: Prometheus is ready, scrapes the boutique's sidecars, and holds their metrics.

Pure functions from what ``meshcheck.addons.prometheus`` parsed to a ``CheckResult``. They judge
the mesh as Istio's Prometheus add-on sees it (istio/istio samples/addons/prometheus.yaml): each
sidecar is a ``kubernetes-pods`` target (pod annotations prometheus.io/port 15020, path
/stats/prometheus), and ``istio_requests_total`` counts each HTTP/gRPC call as reported by the
caller's and the callee's proxy (istio.io docs/reference/config/metrics/). Plain TCP hops such as
cartservice→redis-cart only show in ``istio_tcp_*`` metrics, so they are not expected here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from meshcheck.addons.prometheus import Readiness, Sample, Target
from meshcheck.checks.refs import named
from meshcheck.results import CheckResult, fail, listing, ok

Edge = tuple[str, str]


def prometheus_ready(readiness: Readiness) -> CheckResult:
    """Prometheus answers /-/ready with 200; a 503 while it replays its WAL may pass with time."""
    check = "telemetry.prometheus_ready"
    if readiness.ready:
        return ok(check, "Prometheus is ready", status=readiness.status)
    return fail(
        check,
        f"Prometheus is not ready: GET /-/ready answered {readiness.status} {readiness.text!r}",
        "check the prometheus pod in the add-ons namespace (kubectl get pods -l "
        "app.kubernetes.io/name=prometheus) and its logs; it answers 503 while it starts",
        settled=readiness.status not in (502, 503, 504),
        status=readiness.status,
        text=readiness.text,
    )


def request_workloads(edges: Iterable[Edge]) -> tuple[str, ...]:
    """Workloads that send or receive HTTP/gRPC calls: both ends of the (non-TCP) call edges."""
    found: list[str] = []
    for caller, callee in edges:
        for workload in (caller, callee):
            if workload not in found:
                found.append(workload)
    return tuple(found)


def mesh_targets_up(targets: Sequence[Target], namespace: str, workloads: Iterable[str]) -> CheckResult:
    """Every boutique workload has a scrape target in the namespace, and all of them are up."""
    check = "telemetry.mesh_targets_up"
    expected = list(workloads)
    mine = [t for t in targets if t.namespace == namespace]
    if not mine:
        return fail(
            check,
            f"Prometheus has no scrape target for any pod in namespace {namespace} ({len(targets)} targets elsewhere)",
            "Istio's Prometheus add-on scrapes sidecars through the kubernetes-pods job, which keeps "
            "pods annotated prometheus.io/scrape=true: check the pods have istio-proxy sidecars "
            "(namespace labelled istio-injection=enabled, pods restarted after) and that Prometheus "
            "is the one from samples/addons/prometheus.yaml",
            pools=sorted({t.pool for t in targets}),
        )
    missing = [w for w in expected if not any(t.app == w for t in mine)]
    judged = [t for t in mine if t.app in expected]
    down = [t for t in judged if t.health == "down"]
    unknown = [t for t in judged if t.health not in ("up", "down")]
    if not (missing or down or unknown):
        return ok(
            check, f"Prometheus scrapes {len(judged)} sidecar targets in {namespace}, all up", targets=len(judged)
        )
    return _targets_failure(check, namespace, missing, down, unknown)


def _targets_failure(
    check: str, namespace: str, missing: list[str], down: list[Target], unknown: list[Target]
) -> CheckResult:
    parts: list[str] = []
    if down:
        parts.append("down: " + listing(f"{t.pod or t.instance} ({t.last_error or 'no error given'})" for t in down))
    if unknown:
        parts.append("not scraped yet: " + listing(t.pod or t.instance for t in unknown))
    if missing:
        parts.append("no target at all for " + listing(missing))
    return fail(
        check,
        f"Prometheus scrape targets for namespace {namespace} are not all up; " + "; ".join(parts),
        "a down target means Prometheus cannot reach the sidecar's merged metrics on port 15020 "
        "(/stats/prometheus): check that the pod is running with a ready istio-proxy and that no "
        "NetworkPolicy blocks the prometheus pod; a missing target means the pod lacks a sidecar "
        "or its prometheus.io annotations",
        settled=False,
        objects=(*named("Pod", namespace, *(t.pod for t in down)), *named("Deployment", namespace, *missing)),
        down={t.pod or t.instance: t.last_error for t in down},
        unknown=[t.pod or t.instance for t in unknown],
        missing=missing,
    )


def istio_requests_series(samples: Sequence[Sample], namespace: str, workloads: Iterable[str]) -> CheckResult:
    """Each workload that sends or receives HTTP/gRPC calls has istio_requests_total series."""
    check = "telemetry.istio_requests_series"
    expected = list(workloads)
    present = {s.labels.get(key, "") for s in samples for key in ("source_workload", "destination_workload")}
    missing = [w for w in expected if w not in present]
    if not missing:
        return ok(
            check,
            f"istio_requests_total has series for all {len(expected)} workloads that "
            f"send or receive calls in {namespace}",
            series=len(samples),
        )
    if not samples:
        message = (
            f"Prometheus holds no istio_requests_total series for calls into namespace "
            f"{namespace}: expected series for {listing(expected)}"
        )
    else:
        message = (
            f"istio_requests_total in namespace {namespace} has no series for "
            f"{listing(missing)} (series seen for {listing(sorted(present & set(expected)))})"
        )
    return fail(
        check,
        message,
        "series appear once traffic flows through the sidecars: check that loadgenerator is "
        "running and the storefront answers, that these pods have istio-proxy sidecars, that "
        "their scrape targets are up, and that Istio's telemetry (Telemetry API / meshConfig "
        "defaultProviders) was not disabled",
        settled=False,
        missing=missing,
        present=sorted(present - {""}),
    )
