"""Tracing client for Jaeger's query API or Zipkin's v2 API, whichever serves behind one Endpoint.

Formats read from the upstream sources:
- Jaeger query (jaegertracing/jaeger cmd/query/app/http_handler.go, query_parser.go,
  model/json/model.go): ``GET <base>/api/services`` answers ``{"data": [names], "total", "limit",
  "offset", "errors"}``; ``GET <base>/api/traces?service=&start=&end=&limit=`` (start/end in epoch
  microseconds; the UI's ``lookback`` is not read by the server, which defaults start to two days
  back) answers ``{"data": [{"traceID", "spans": [{"traceID", "spanID", "operationName",
  "references": [{"refType": "CHILD_OF", "traceID", "spanID"}], "startTime", "duration", "tags":
  [{"key", "type", "value"}], "processID", ...}], "processes": {"p1": {"serviceName", "tags"}}}],
  "errors": null}``; errors are ``{"data": null, ..., "errors": [{"code", "msg"}]}``. The first
  releases also sent a span's parent as ``parentSpanID``, read here as well. Istio's add-on serves
  it with base path ``/jaeger`` (QUERY_BASE_PATH) behind Service ``tracing`` port 80; Jaeger 1.x
  answers any unknown path with its UI's index.html (cmd/query/app/static_handler.go), so an
  HTML answer means "not here", as a 404 does.
- Zipkin v2 (openzipkin/zipkin-api zipkin2-api.yaml): ``GET /api/v2/services`` answers a JSON list
  of lower-case names; ``GET /api/v2/traces?serviceName=&endTs=&lookback=&limit=`` (milliseconds)
  answers a list of traces, each a list of spans ``{"traceId", "id", "parentId", "kind":
  "CLIENT"|"SERVER", "shared", "localEndpoint": {"serviceName"}, "remoteEndpoint", "timestamp"
  (µs), "duration", "tags"}``.

Envoy names each sidecar's spans ``<app>.<namespace>`` (Istio's canonical service name); a call is
a CLIENT span of the caller's sidecar and a SERVER span of the callee's, the latter a child of the
former (Jaeger) or sharing its span id (Zipkin's ``shared`` spans, Envoy's default). Online
Boutique does not forward trace headers, so a trace usually holds one such hop.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from meshcheck.endpoints import Endpoint, describe_shape, snippet
from meshcheck.errors import AddonError

JAEGER = "jaeger"
ZIPKIN = "zipkin"

# (services path, traces path) of each API; see _probe_order for the order they are tried in.
JAEGER_PROBES = (("/jaeger/api/services", "/jaeger/api/traces"), ("/api/services", "/api/traces"))
ZIPKIN_PROBES = (("/api/v2/services", "/api/v2/traces"), ("/zipkin/api/v2/services", "/zipkin/api/v2/traces"))

Hop = tuple[str, str]


@dataclass(frozen=True)
class Backend:
    kind: str                       # "jaeger" or "zipkin"
    services_path: str
    traces_path: str


@dataclass(frozen=True)
class ServiceList:
    backend: Backend
    services: tuple[str, ...]


@dataclass(frozen=True)
class TraceSummary:
    """What the traces found for one service show: how many, the newest, and the hops in them."""
    service: str
    traces: int = 0
    hops: frozenset[Hop] = frozenset()       # (calling service, called service), as traced
    newest: float | None = None              # epoch seconds of the newest span start
    services: frozenset[str] = field(default_factory=frozenset)


# --- discovery and the services list -------------------------------------------------------------


def discover(endpoint: Endpoint) -> ServiceList:
    """Find the backend and list its services; the first answer that parses wins.

    Each probe is the backend's own services list, so on a Jaeger of Istio's add-on a single
    request both detects the backend and lists the services. Only a 404/405 or an HTML page (Jaeger
    1.x answers unknown paths with its UI) sends the search on; other answers are the tracer's own.
    """
    probes = _probe_order(endpoint)
    seen: list[str] = []
    for services_path, traces_path in probes:
        response = endpoint.get(services_path, headers={"Accept": "application/json"})
        if response.status_code in (404, 405) or (response.ok and _is_html(response)):
            seen.append(f"{services_path} answered {response.status_code}")
            continue
        if not response.ok:
            raise endpoint.refused("GET", services_path, response)
        if not _is_json(response):
            raise AddonError(
                f"{endpoint.name} answered GET {services_path} with a body that is not JSON ({endpoint.via}): "
                f"{snippet(response.text)}; check the tracing pod's logs and its version")
        doc = response.json()
        where = f"{endpoint.name} GET {services_path}"
        if isinstance(doc, list):
            return ServiceList(Backend(ZIPKIN, services_path, traces_path), parse_zipkin_services(doc, where))
        return ServiceList(Backend(JAEGER, services_path, traces_path), parse_jaeger_services(doc, where))
    raise AddonError(
        f"{endpoint.name} ({endpoint.via}) serves neither Jaeger's query API nor Zipkin's v2 API: "
        f"{'; '.join(seen)}; check that the tracing Service points at Jaeger's query port (16686, "
        "base path /jaeger) or at a Zipkin server (9411)")


def _probe_order(endpoint: Endpoint) -> list[tuple[str, str]]:
    """Jaeger of Istio's add-on first, unless the Service is named zipkin; the answer's shape decides."""
    name = (endpoint.service or "").rsplit("/", 1)[-1]
    if "zipkin" in name:
        return [*ZIPKIN_PROBES, *JAEGER_PROBES]
    return [*JAEGER_PROBES, *ZIPKIN_PROBES]


def parse_jaeger_services(doc: Any, where: str = "jaeger /api/services") -> tuple[str, ...]:
    """Jaeger wraps the list: ``{"data": [...], "errors": null}``; data is null when empty."""
    if not isinstance(doc, dict) or "data" not in doc:
        raise AddonError(f"{where} has an unexpected shape: expected {{\"data\": [service names]}}, "
                         f"saw {describe_shape(doc)}")
    _raise_jaeger_errors(doc, where)
    data = doc["data"] or []
    if not isinstance(data, list):
        raise AddonError(f"{where} has an unexpected shape: expected data to be a list, saw {describe_shape(data)}")
    return tuple(sorted(str(s) for s in data))


def parse_zipkin_services(doc: Any, where: str = "zipkin /api/v2/services") -> tuple[str, ...]:
    if not isinstance(doc, list):
        raise AddonError(f"{where} has an unexpected shape: expected a list of service names, "
                         f"saw {describe_shape(doc)}")
    return tuple(sorted(str(s) for s in doc))


def app_of(service: str, namespace: str) -> str | None:
    """The app of a traced service name: "frontend.online-boutique" → "frontend".

    A bare name (no namespace) is taken as it is; a name in another namespace is not ours.
    """
    suffix = "." + namespace
    if service.endswith(suffix):
        return service[: -len(suffix)]
    if "." not in service:
        return service
    return None


def service_for(app: str, services: Iterable[str], namespace: str) -> str | None:
    """The listed service name of an app, preferring Istio's ``<app>.<namespace>``."""
    listed = list(services)
    preferred = f"{app}.{namespace}"
    if preferred in listed:
        return preferred
    return next((s for s in listed if app_of(s, namespace) == app), None)


# --- traces ---------------------------------------------------------------------------------------


def fetch_traces(
    endpoint: Endpoint,
    backend: Backend,
    service: str,
    *,
    lookback: float = 3600.0,
    limit: int = 100,
    now: float | None = None,
) -> TraceSummary:
    """Find the recent traces of one service (``lookback`` seconds back from ``now``)."""
    end = time.time() if now is None else now
    where = f"{endpoint.name} GET {backend.traces_path}"
    if backend.kind == ZIPKIN:
        params = {"serviceName": service, "endTs": int(end * 1000), "lookback": int(lookback * 1000),
                  "limit": limit}
        return parse_zipkin_traces(endpoint.get_json(backend.traces_path, params), service, where)
    params = {"service": service, "start": int((end - lookback) * 1_000_000), "end": int(end * 1_000_000),
              "limit": limit, "lookback": _duration_text(lookback)}
    return parse_jaeger_traces(endpoint.get_json(backend.traces_path, params), service, where)


def fetch_traces_for(
    endpoint: Endpoint,
    backend: Backend,
    services: Sequence[str],
    *,
    lookback: float = 3600.0,
    limit: int = 100,
) -> dict[str, TraceSummary]:
    """Query several services in parallel: each caller's hops live in its own traces."""
    if not services:
        return {}
    now = time.time()
    with ThreadPoolExecutor(max_workers=min(8, len(services))) as pool:
        futures = {s: pool.submit(fetch_traces, endpoint, backend, s, lookback=lookback, limit=limit, now=now)
                   for s in services}
        return {s: f.result() for s, f in futures.items()}


def fetch_app_traces(
    endpoint: Endpoint,
    listed: ServiceList,
    apps: Iterable[str],
    namespace: str,
    *,
    lookback: float = 3600.0,
    limit: int = 100,
) -> dict[str, TraceSummary]:
    """Traces per app, querying only the apps the tracer lists (an unlisted app has no traces)."""
    names = {app: service_for(app, listed.services, namespace) for app in apps}
    queried = sorted({s for s in names.values() if s})
    found = fetch_traces_for(endpoint, listed.backend, queried, lookback=lookback, limit=limit)
    return {app: found[s] if s else TraceSummary(f"{app}.{namespace}") for app, s in names.items()}


def parse_jaeger_traces(doc: Any, service: str, where: str = "jaeger /api/traces") -> TraceSummary:
    if not isinstance(doc, dict) or "data" not in doc:
        raise AddonError(f"{where} has an unexpected shape: expected {{\"data\": [traces]}}, saw {describe_shape(doc)}")
    _raise_jaeger_errors(doc, where)
    traces = doc["data"] or []
    if not isinstance(traces, list):
        raise AddonError(f"{where} has an unexpected shape: expected data to be a list of traces, "
                         f"saw {describe_shape(traces)}")
    hops: set[Hop] = set()
    names: set[str] = set()
    newest: float | None = None
    for trace in traces:
        spans = _jaeger_spans(trace, where)
        hops |= _hops(spans) | _shared_hops(spans)
        names |= {s.service for s in spans}
        newest = _max(newest, max((s.start for s in spans), default=None))
    return TraceSummary(service, len(traces), frozenset(hops), newest, frozenset(names))


def parse_zipkin_traces(doc: Any, service: str, where: str = "zipkin /api/v2/traces") -> TraceSummary:
    if not isinstance(doc, list) or not all(isinstance(t, list) for t in doc):
        raise AddonError(f"{where} has an unexpected shape: expected a list of traces (lists of spans), "
                         f"saw {describe_shape(doc)}")
    hops: set[Hop] = set()
    names: set[str] = set()
    newest: float | None = None
    for trace in doc:
        spans = [_zipkin_span(s, where) for s in trace]
        hops |= _hops(spans) | _shared_hops(spans)
        names |= {s.service for s in spans if s.service}
        newest = _max(newest, max((s.start for s in spans if s.start), default=None))
    return TraceSummary(service, len(doc), frozenset(hops), newest, frozenset(names))


# --- span model -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Span:
    id: str
    parent: str | None
    service: str
    kind: str                # "client", "server" or ""
    start: float             # epoch seconds


def _jaeger_spans(trace: Any, where: str) -> list[_Span]:
    if not isinstance(trace, dict) or not isinstance(trace.get("spans"), list):
        raise AddonError(f"{where} has an unexpected shape: expected each trace to have a spans list, "
                         f"saw {describe_shape(trace)}")
    processes = trace.get("processes") or {}
    spans = []
    for raw in trace["spans"]:
        if not isinstance(raw, dict) or "spanID" not in raw:
            raise AddonError(f"{where} has an unexpected shape: expected spans with spanID, saw {describe_shape(raw)}")
        process = raw.get("process") or processes.get(raw.get("processID"), {})
        spans.append(_Span(
            id=str(raw["spanID"]),
            parent=_jaeger_parent(raw),
            service=str(process.get("serviceName", "")) if isinstance(process, dict) else "",
            kind=_jaeger_kind(raw.get("tags")),
            start=_micros(raw.get("startTime")),
        ))
    return spans


def _jaeger_parent(raw: Mapping[str, Any]) -> str | None:
    for ref in raw.get("references") or []:
        if isinstance(ref, dict) and ref.get("refType", "CHILD_OF") == "CHILD_OF" and ref.get("spanID"):
            return str(ref["spanID"])
    parent = raw.get("parentSpanID")          # the first Jaeger releases
    return str(parent) if parent and str(parent).strip("0") else None


def _jaeger_kind(tags: Any) -> str:
    for tag in tags or []:
        if isinstance(tag, dict) and tag.get("key") == "span.kind":
            return str(tag.get("value", "")).lower()
    return ""


def _zipkin_span(raw: Any, where: str) -> _Span:
    if not isinstance(raw, dict) or "id" not in raw:
        raise AddonError(f"{where} has an unexpected shape: expected spans with an id, saw {describe_shape(raw)}")
    local = raw.get("localEndpoint") or {}
    return _Span(
        id=str(raw["id"]),
        parent=str(raw["parentId"]) if raw.get("parentId") else None,
        service=str(local.get("serviceName", "")) if isinstance(local, dict) else "",
        kind=str(raw.get("kind", "")).lower(),
        start=_micros(raw.get("timestamp")),
    )


def _hops(spans: Sequence[_Span]) -> set[Hop]:
    """A span whose parent belongs to another service is a hop from that service to its own."""
    by_id: dict[str, _Span] = {}
    for span in spans:
        by_id.setdefault(span.id, span)
    hops = set()
    for span in spans:
        parent = by_id.get(span.parent) if span.parent else None
        if parent is not None and parent.service and span.service and parent.service != span.service:
            hops.add((parent.service, span.service))
    return hops


def _shared_hops(spans: Sequence[_Span]) -> set[Hop]:
    """Zipkin's shared spans: the client and the server half of one call carry the same id."""
    hops = set()
    for client in (s for s in spans if s.kind == "client"):
        for server in (s for s in spans if s.kind == "server" and s.id == client.id):
            if client.service and server.service and client.service != server.service:
                hops.add((client.service, server.service))
    return hops


# --- helpers --------------------------------------------------------------------------------------


def _raise_jaeger_errors(doc: Mapping[str, Any], where: str) -> None:
    errors = doc.get("errors")
    if errors and not doc.get("data"):
        first = errors[0] if isinstance(errors, list) and errors else errors
        msg = first.get("msg", first) if isinstance(first, dict) else first
        raise AddonError(f"{where} answered an error: {msg!s}; check the Jaeger pod's logs and its storage")


def _micros(value: Any) -> float:
    return float(value) / 1_000_000 if isinstance(value, int | float) else 0.0


def _max(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else max(a, b)


def _duration_text(seconds: float) -> str:
    return f"{int(seconds // 3600)}h" if seconds % 3600 == 0 else f"{int(seconds)}s"


def _is_html(response: Any) -> bool:
    return "html" in response.headers.get("Content-Type", "").lower()


def _is_json(response: Any) -> bool:
    try:
        response.json()
    except ValueError:
        return False
    return True
