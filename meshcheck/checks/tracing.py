"""Tracing checks: the boutique's services are traced, recently, and their calls show up as hops.

Pure functions over what ``meshcheck.addons.tracing`` parsed. Envoy names each sidecar's spans
``<app>.<namespace>``; Online Boutique does not forward trace headers, so each call is its own short
trace and the hops are gathered across the traces of every calling service rather than expected
in one trace. Everything here can be "too early" (sampling, traffic just started, spans still
being flushed) except a tracer that answers with no boutique service after traffic ran for long:
the waiting logic bounds that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from meshcheck.addons.tracing import ServiceList, TraceSummary, app_of
from meshcheck.results import CheckResult, fail, listing, ok

Edge = tuple[str, str]

SAMPLING_HINT = (
    "check that the loadgenerator runs, that the pods have their istio-proxy sidecar, and that "
    "Istio sends spans to this tracer (meshConfig.defaultConfig.tracing / an extensionProvider "
    "with a Telemetry resource) with a sampling rate above 0"
)


def traced_apps(edges: Iterable[Edge]) -> list[str]:
    """Every app at either end of a traced edge: the services the tracer must know."""
    return sorted({name for edge in edges for name in edge})


def callers(edges: Iterable[Edge]) -> list[str]:
    """The calling apps, whose traces hold the hops (one query per caller)."""
    return sorted({a for a, _ in edges})


def check_services_listed(services: ServiceList, expected: Sequence[str], namespace: str) -> CheckResult:
    """The tracer lists every expected app as ``<app>.<namespace>`` (or the bare app name)."""
    check = "tracing.services_listed"
    apps = {app_of(s, namespace) for s in services.services} - {None}
    missing = [a for a in expected if a not in apps]
    diagnostics = {"backend": services.backend.kind, "services": list(services.services)}
    if not missing:
        return ok(
            check,
            f"{_title(services)} lists all {len(expected)} boutique services of namespace {namespace}",
            **diagnostics,
        )
    if len(missing) == len(expected):
        seen = listing(list(services.services)) or "none"
        return fail(
            check,
            f"{_title(services)} lists none of the boutique services of namespace {namespace} "
            f"(expected e.g. {expected[0]}.{namespace}; lists {seen})",
            SAMPLING_HINT,
            settled=False,
            **diagnostics,
        )
    return fail(
        check,
        f"{_title(services)} lacks {len(missing)} of {len(expected)} boutique services: "
        f"{listing([f'{a}.{namespace}' for a in missing])}",
        f"send traffic through these services; {SAMPLING_HINT}",
        settled=False,
        **diagnostics,
    )


def check_recent_traces(summary: TraceSummary | None, app: str, namespace: str, lookback: float) -> CheckResult:
    """The tracer holds traces of ``app`` (the frontend) from the last ``lookback`` seconds."""
    check = "tracing.recent_traces"
    service = summary.service if summary else f"{app}.{namespace}"
    window = _window(lookback)
    if summary is None or summary.traces == 0:
        return fail(
            check,
            f"The tracer holds no traces of {service} from the last {window}",
            SAMPLING_HINT,
            settled=False,
            service=service,
        )
    return ok(
        check,
        f"The tracer holds {summary.traces} traces of {service} from the last {window}",
        service=service,
        traces=summary.traces,
        newest=summary.newest,
    )


def check_traced_hops(
    summaries: Mapping[str, TraceSummary],
    expected: Sequence[Edge],
    namespace: str,
) -> CheckResult:
    """The caller→callee hops seen across the callers' traces cover every expected traced edge."""
    check = "tracing.traced_hops"
    seen = observed_hops(summaries.values(), namespace)
    missing = [e for e in expected if e not in seen]
    diagnostics = {
        "observed": sorted(f"{a}→{b}" for a, b in seen),
        "missing": [f"{a}→{b}" for a, b in missing],
        "traces": {s: t.traces for s, t in summaries.items()},
    }
    if not missing:
        return ok(
            check, f"Traces show all {len(expected)} traced call-graph hops of namespace {namespace}", **diagnostics
        )
    empty = sorted(s for s, t in summaries.items() if t.traces == 0)
    note = f" (no traces at all for {listing(empty)})" if empty else ""
    return fail(
        check,
        f"Traces of namespace {namespace} lack {len(missing)} of {len(expected)} call-graph hops: "
        f"{listing([f'{a}→{b}' for a, b in missing])}{note}",
        f"check that the callee pods have their istio-proxy sidecar and that these calls carry "
        f"traffic; {SAMPLING_HINT}",
        settled=False,
        **diagnostics,
    )


def observed_hops(summaries: Iterable[TraceSummary], namespace: str) -> set[Edge]:
    """The hops of the summaries, by app, keeping only calls between services of ``namespace``."""
    hops: set[Edge] = set()
    for summary in summaries:
        for caller, callee in summary.hops:
            a, b = app_of(caller, namespace), app_of(callee, namespace)
            if a and b:
                hops.add((a, b))
    return hops


def _title(services: ServiceList) -> str:
    return "Jaeger" if services.backend.kind == "jaeger" else "Zipkin"


def _window(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 60)}m" if seconds % 60 == 0 else f"{int(seconds)}s"
