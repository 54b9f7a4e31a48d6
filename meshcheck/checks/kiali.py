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

from meshcheck.addons.kiali import (
    IstioStatus,
    KialiGraph,
    KialiStatus,
    TracingSettings,
    lists_healthy_components,
    observed_edges,
    tracing_keys,
)
from meshcheck.checks.reach import Network, Reach, example_urls, reach
from meshcheck.checks.refs import named
from meshcheck.results import CheckResult, fail, listing, ok

Edge = tuple[str, str]

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
        objects=named("Deployment", namespace, *sorted({b for _, b in unanswered})),
        **diagnostics,
    )


def check_tracing_url(
    status: KialiStatus,
    settings: TracingSettings,
    istio: IstioStatus,
    network: Network,
    tracing_services: Sequence[str],
) -> CheckResult:
    """Kiali's tracing link reaches the tracing Service, and so does the URL Kiali itself queries.

    The link (what Kiali's UI opens, from /api/status) is judged by ``reach``: any of the ways a
    browser or pod gets to the Service is right (the lab's node address and NodePort, a DNS name,
    a LoadBalancer address, a routed host), since graders meet all of them. The in-cluster URL is
    read from Kiali's ConfigMap or CR when this user may, and judged the same way; when it may not,
    the passing message says only the link was judged. Kiali's own istio status has the last word
    on whether its tracing integration answers, because Kiali queried that URL itself.
    """
    check = "kiali.tracing_url"
    namespace = settings.namespace
    external_key, internal_key = tracing_keys(status.version)
    where = _settings_place(settings)
    link = status.tracing_url or settings.external_url
    examples = example_urls(tracing_services, network, urlsplit(link).path if link else "/jaeger")
    link_example = examples.get("node_port") or examples.get("load_balancer") or examples.get("dns")
    link_fix = (f"set {_key(external_key)} {where} to a URL that reaches it"
                + (f", e.g. {link_example}" if link_example else "") + ", then restart Kiali")
    names = listing(tracing_services)
    diagnostics: dict[str, object] = {"url": link, "settings": settings.source or settings.problem or "none found",
                                      "kiali_version": status.version}
    if not status.tracing_enabled:
        why = f" ({settings.source} sets external_services.tracing.enabled: false)" if settings.enabled is False else ""
        return fail(check, f"Kiali has tracing disabled: /api/status lists no tracing service{why}",
                    f"set {_key('enabled')}: true and {link_fix.removeprefix('set ')}",
                    external_services=list(status.external_services), **diagnostics)
    if not link:
        return fail(check, f"Kiali's tracing integration ({status.tracing_provider}) has no tracing link: "
                           f"{_key(external_key)} is not set", link_fix,
                    provider=status.tracing_provider, **diagnostics)
    problems: list[tuple[str, str]] = []  # (what is wrong, what to do)
    found = reach(link, tracing_services, network, namespace)
    diagnostics.update(service=found.service, way=found.way)
    if not found.reached:
        problems.append((f"Kiali's tracing link {link} does not reach the tracing Service ({names}): {found.miss}",
                         link_fix))
    inside = reach(settings.in_cluster_url, tracing_services, network, namespace) if settings.read else None
    if inside is not None:
        diagnostics.update(in_cluster_url=inside.url, in_cluster_service=inside.service, in_cluster_way=inside.way)
        if not inside.reached:
            origin = (f"set by {settings.internal_key}" if settings.internal_key
                      else f"Kiali's default: {_key(internal_key)} is not set")
            problems.append((f"the URL Kiali queries in-cluster, {inside.url} ({origin}), does not reach the "
                             f"tracing Service: {inside.miss}",
                             f"set {_key(internal_key)} {where} to the tracing Service's DNS name and port, e.g. "
                             f"{examples.get('dns', 'http://tracing.istio-system/jaeger')}, then restart Kiali"))
    entry = istio.tracing
    diagnostics["istio_status_tracing"] = entry.status if entry else ("not asked" if not istio.asked else "not listed")
    zipkin = zipkin_backed((inside if inside is not None else found).service, network)
    if entry is not None and entry.status != "Healthy" and not (zipkin and (inside is None or inside.reached)):
        problems.append(_unanswered(entry.status, inside, namespace, _key(internal_key), where))
    if problems:
        fixes = dict.fromkeys(fix for _, fix in problems if fix)
        return fail(check, "; ".join(p for p, _ in problems), "; ".join(fixes), **diagnostics)
    message = f"Kiali's tracing link {link} reaches Service {found.service} {found.way}"
    if inside is not None:
        message += f"; Kiali reaches it in-cluster at {inside.url} ({inside.way})"
    else:
        message += (f"; only the link was judged, not the URL Kiali queries in-cluster: "
                    f"{settings.problem or f'no kiali ConfigMap or Kiali CR was found in {namespace}'}")
    return ok(check, message + _kiali_word(istio, status.version, zipkin), **diagnostics)


def zipkin_backed(service: str, network: Network) -> bool:
    """Whether the Service ("namespace/name") selects Zipkin pods (Istio's extras/zipkin.yaml, as the lab used).

    Kiali queries the Jaeger API, which Zipkin does not serve: with Zipkin behind the tracing
    Service, Kiali's istio status says Unreachable however right its URLs are, and only its link works.
    """
    found = next((s for s in network.services if f"{s['metadata'].get('namespace')}/{s['metadata'].get('name')}"
                  == service), None)
    return found is not None and "zipkin" in ((found.get("spec") or {}).get("selector") or {}).values()


def _unanswered(status: str, inside: Reach | None, namespace: str, key: str, where: str) -> tuple[str, str]:
    """Kiali says it cannot query its tracing backend: where it looked, and what to do about it.

    When the in-cluster URL does reach the tracing Service by its name and port, the backend itself
    is at fault: its pods, or an API Kiali does not speak (Kiali queries the Jaeger or Tempo API,
    over gRPC unless use_grpc: false, so a Zipkin server never answers it).
    """
    at = f" at its in-cluster URL {inside.url}" if inside is not None else ""
    problem = f"Kiali's istio status says its tracing backend is {status or 'not healthy'}{at}"
    if inside is not None and not inside.reached:
        return problem, ""  # the in-cluster URL's own fix says what to do
    return problem, (f"check that the tracing pods in {namespace} are ready and serve the Jaeger query API Kiali "
                     f"uses at {inside.url if inside is not None else 'its in-cluster URL'} (over gRPC unless "
                     f"use_grpc: false; a Zipkin server does not), or set {key} {where} to one that does")


def _settings_place(settings: TracingSettings) -> str:
    if settings.read and settings.source.startswith("Kiali CR"):
        return f"under spec of {settings.source}"
    if settings.read:
        return f"in config.yaml of {settings.source}"
    return f"in config.yaml of the kiali ConfigMap in {settings.namespace} (or the Kiali CR)"


def _key(key: str) -> str:
    return f"external_services.tracing.{key}"


def _kiali_word(istio: IstioStatus, version: str, zipkin: bool = False) -> str:
    entry = istio.tracing
    if entry is not None and entry.status != "Healthy" and zipkin:
        return (f"; Kiali's istio status says tracing is {entry.status}, as it always is with Zipkin behind the "
                "tracing Service: Kiali queries the Jaeger API, which Zipkin does not serve, so Kiali shows no "
                "traces itself while its link opens Zipkin")
    if entry is not None:
        return f"; Kiali's istio status says tracing is {entry.status}"
    if not istio.asked:
        return " (this Kiali has no istio status API to ask)"
    if istio.problem:
        return f" (Kiali's istio status could not be read: {istio.problem})"
    if not lists_healthy_components(version):
        return f"; Kiali's istio status lists no problem with tracing (Kiali {version} lists only problems)"
    return "; Kiali's istio status has no tracing entry"


def _arrows(edges: Iterable[Edge]) -> list[str]:
    return [f"{a}→{b}" for a, b in edges]
