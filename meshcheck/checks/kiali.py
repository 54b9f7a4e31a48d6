"""Kiali checks: Kiali runs, its graph shows the boutique's call graph, its tracing link is right.

Pure functions over what ``meshcheck.addons.kiali`` parsed. Kiali draws an edge only for calls that
Prometheus recorded within the graph's duration, so a missing edge may just mean the traffic has
not started yet: those failures are unsettled. A call Kiali draws into a service node with no
workload behind it was sent but never answered by a pod (Istio reports the destination workload
as unknown), which points at the callee rather than at the caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from meshcheck.addons.kiali import KialiGraph, KialiStatus, observed_edges
from meshcheck.results import CheckResult, fail, listing, ok

Edge = tuple[str, str]

CONFIGMAP_HINT = (
    "set external_services.tracing.enabled: true and the tracing URL (url in Kiali v1, "
    "external_url in Kiali v2) in the kiali ConfigMap (or Kiali CR), then restart Kiali"
)


def check_kiali_healthy(status: KialiStatus) -> CheckResult:
    """Kiali says it is running (the "Kiali state" of /api/status)."""
    check = "kiali.healthy"
    if status.state == "running":
        return ok(
            check,
            f"Kiali {status.version or '(version unknown)'} is running",
            version=status.version,
            external_services=list(status.external_services),
        )
    return fail(
        check,
        f"Kiali reports state {status.state or '(none)'} instead of running",
        "check the kiali pod's logs in istio-system: Kiali cannot reach the Kubernetes API or Prometheus",
        settled=False,
        version=status.version,
    )


def check_graph_edges(graph: KialiGraph, expected: Sequence[Edge], namespace: str) -> CheckResult:
    """Every expected caller→callee edge is in Kiali's graph and reaches a workload."""
    check = "kiali.graph_edges"
    seen = {(e.source, e.target): e.answered for e in observed_edges(graph, namespace)}
    missing = [e for e in expected if e not in seen]
    unanswered = [e for e in expected if seen.get(e) is False]
    diagnostics = {
        "graph_type": graph.graph_type,
        "observed": sorted(f"{a}→{b}" for a, b in seen),
        "missing": _arrows(missing),
        "unanswered": _arrows(unanswered),
    }
    if not missing and not unanswered:
        return ok(
            check, f"Kiali graph for namespace {namespace} has all {len(expected)} call-graph edges", **diagnostics
        )
    if not seen:
        return fail(
            check,
            f"Kiali graph for namespace {namespace} has no edges between its workloads "
            f"(expected {len(expected)}, e.g. {listing(_arrows(expected), 3)})",
            "generate traffic (the loadgenerator must be running), check that the pods have "
            "their istio-proxy sidecar and that Prometheus scrapes them; Kiali only draws calls "
            "Prometheus recorded in the graph's time window",
            settled=False,
            **diagnostics,
        )
    parts = []
    if missing:
        parts.append(f"lacks {len(missing)} of {len(expected)} call-graph edges: {listing(_arrows(missing))}")
    if unanswered:
        parts.append(
            f"shows {listing(_arrows(unanswered))} ending at the callee's service node: "
            "requests were sent but no workload answered"
        )
    remedies = []
    if missing:
        remedies.append(
            "check that the callers run with an istio-proxy sidecar and that the loadgenerator exercises these calls"
        )
    if unanswered:
        remedies.append(
            f"check that the pods of {listing(sorted({b for _, b in unanswered}))} are ready "
            "and selected by their Service"
        )
    return fail(
        check,
        f"Kiali graph for namespace {namespace} " + "; ".join(parts),
        "; ".join(remedies),
        settled=False,
        **diagnostics,
    )


def check_tracing_url(
    status: KialiStatus,
    tracing_services: Sequence[str],
    namespaces: Iterable[str] | None = None,
) -> CheckResult:
    """Kiali's tracing link names the tracing Service: short, namespaced or .svc.cluster.local form.

    ``namespaces``, when given, limits where the Service may be; None accepts any namespace.
    """
    check = "kiali.tracing_url"
    names = ", ".join(tracing_services)
    allowed = list(namespaces) if namespaces is not None else None
    example = f"http://{(list(tracing_services) or ['tracing'])[0]}.{(allowed or ['istio-system'])[0]}/jaeger"
    if not status.tracing_enabled:
        return fail(
            check,
            "Kiali has tracing disabled: /api/status lists no tracing service",
            f"{CONFIGMAP_HINT}; point it at the tracing Service ({names})",
            external_services=list(status.external_services),
        )
    if not status.tracing_url:
        return fail(
            check,
            f"Kiali's tracing integration ({status.tracing_provider}) has no tracing URL",
            f"{CONFIGMAP_HINT}, e.g. {example}",
            provider=status.tracing_provider,
        )
    target = service_of_url(status.tracing_url, tracing_services, allowed)
    if target is None:
        where = f" in namespace {listing(allowed)}" if allowed else ""
        return fail(
            check,
            f"Kiali's tracing URL {status.tracing_url} does not point at the tracing Service ({names}{where})",
            f"{CONFIGMAP_HINT}, with a URL such as {example}",
            url=status.tracing_url,
        )
    return ok(
        check,
        f"Kiali's tracing URL {status.tracing_url} points at the {target} Service",
        url=status.tracing_url,
        service=target,
    )


def service_of_url(url: str, names: Sequence[str], namespaces: Iterable[str] | None = None) -> str | None:
    """The Service a URL's host names ("name" or "name.namespace"), if it is one of ``names``.

    Accepts ``name``, ``name.ns``, ``name.ns.svc`` and ``name.ns.svc.cluster.local``.
    """
    host = urlsplit(url if "//" in url else f"//{url}").hostname or ""
    labels = host.lower().split(".")
    if not labels or labels[0] not in names:
        return None
    if len(labels) == 1:
        return labels[0]
    if labels[2:] not in ([], ["svc"], ["svc", "cluster", "local"]):
        return None
    allowed = None if namespaces is None else set(namespaces)
    if allowed is not None and labels[1] not in allowed:
        return None
    return f"{labels[0]}.{labels[1]}"


def _arrows(edges: Iterable[Edge]) -> list[str]:
    return [f"{a}→{b}" for a, b in edges]
