"""The simulated Jaeger query service of Istio's add-on (all-in-one, QUERY_BASE_PATH=/jaeger).

What it serves (paths inside Service ``tracing`` port 80 → 16686) and where the shapes come from
(jaegertracing/jaeger cmd/query/app/http_handler.go, query_parser.go, model/json/model.go):
- ``/jaeger/api/services``: ``{"data": [names], "total": n, "limit": 0, "offset": 0, "errors": null}``;
  the tracer's own service (``jaeger-all-in-one``) is always there;
- ``/jaeger/api/traces?service=&start=&end=&limit=``: ``{"data": [traces], "total": 0, "limit": 0,
  "offset": 0, "errors": null}``, each trace ``{"traceID", "spans": [...], "processes": {"p1":
  {"serviceName", "tags"}}, "warnings": null}``; start/end are epoch microseconds, start defaults to
  two days before end (the server ignores the UI's ``lookback``), limit defaults to 100. Spans
  received from Envoy's Zipkin tracer carry ``span.kind`` and ``internal.span.format: zipkin``
  tags, and the SERVER span shares the client's id until Jaeger's span-id deduper gives it its own
  id with a CHILD_OF reference to the client (cmd/query/app/querysvc/adjuster), as served here;
- errors: ``{"data": null, "total": 0, "limit": 0, "offset": 0, "errors": [{"code": 400, "msg":
  "parameter 'service' is required"}]}`` and the parse errors of query_parser.go;
- any other path: the UI's index.html with status 200, as Jaeger 1.x's static handler answers
  every unmatched route (cmd/query/app/static_handler.go ``notFound``).

Knobs: see ``meshcheck.sim.addons.tracing``.
"""

from __future__ import annotations

import re
from typing import Any

from meshcheck.sim.addons.tracing import (
    Call,
    app_of_service,
    calls,
    operation,
    pod_ip,
    service_name,
    service_port,
    traced_services,
)
from meshcheck.sim.protocol import SimRequest, SimResponse
from meshcheck.sim.world import World

Obj = dict[str, Any]

BASE_PATH = "/jaeger"
OWN_SERVICE = "jaeger-all-in-one"
DEFAULT_LIMIT = 100
DEFAULT_LOOKBACK = 2 * 24 * 3600.0
INDEX_HTML = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><base href="/jaeger/">'
              "<title>Jaeger UI</title></head><body><div id=\"jaeger-ui-root\"></div></body></html>")


def handle(world: World, request: SimRequest) -> SimResponse:
    """Answer one request to Jaeger's query port as Jaeger 1.x would."""
    path = request.path.rstrip("/") or "/"
    if request.method.upper() == "GET":
        if path == f"{BASE_PATH}/api/services":
            return _services(world)
        if path == f"{BASE_PATH}/api/traces":
            return _traces(world, request)
    return SimResponse.text(INDEX_HTML, 200, "text/html; charset=utf-8")


def _structured(data: Any, total: int = 0, errors: list[Obj] | None = None, status: int = 200) -> SimResponse:
    return SimResponse.json({"data": data, "total": total, "limit": 0, "offset": 0, "errors": errors}, status)


def _bad_request(message: str) -> SimResponse:
    return _structured(None, errors=[{"code": 400, "msg": message}], status=400)


def _services(world: World) -> SimResponse:
    names = sorted({OWN_SERVICE, *traced_services(world)})
    return _structured(names, total=len(names))


def _traces(world: World, request: SimRequest) -> SimResponse:
    now = world.now()
    try:
        end = _micros_param(request, "end", now)
        start = _micros_param(request, "start", end - DEFAULT_LOOKBACK)
        limit = _limit(request)
    except ValueError as exc:
        return _bad_request(str(exc))
    service = request.arg("service") or ""
    if not service:
        return _bad_request("parameter 'service' is required")
    app = app_of_service(world, service)
    if app is None or service not in traced_services(world):
        return _structured([])
    return _structured([_trace(world, call) for call in calls(world, app, start, end, limit)])


def _micros_param(request: SimRequest, name: str, default: float) -> float:
    text = request.arg(name)
    if not text:
        return default
    if not re.fullmatch(r"-?\d+", text):
        raise ValueError(f"unable to parse param '{name}': strconv.ParseInt: parsing \"{text}\": invalid syntax")
    return int(text) / 1_000_000


def _limit(request: SimRequest) -> int:
    text = request.arg("limit")
    if not text:
        return DEFAULT_LIMIT
    if not re.fullmatch(r"-?\d+", text):
        raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    return int(text)


def _trace(world: World, call: Call) -> Obj:
    client = _span(world, call, "client")
    server = _span(world, call, "server")
    return {
        "traceID": call.trace_id,
        "spans": [client, server],
        "processes": {"p1": _process(world, call.caller), "p2": _process(world, call.callee)},
        "warnings": None,
    }


def _span(world: World, call: Call, kind: str) -> Obj:
    client = kind == "client"
    app = call.caller if client else call.callee
    start = call.start if client else call.server_start
    duration = call.duration_us if client else max(call.duration_us - 600, 100)
    callee_host = f"{call.callee}.{world.namespace}.svc.cluster.local"
    port = service_port(world, call.callee)
    tags = [
        ("component", "proxy"),
        ("node_id", f"sidecar~{pod_ip(world, app)}~{app}.{world.namespace}~{world.namespace}.svc.cluster.local"),
        ("guid:x-request-id", call.trace_id[:8] + "-" + call.trace_id[8:12] + "-" + call.trace_id[12:16]),
        ("http.url", f"http://{call.callee}:{port}/"),
        ("http.method", "POST"),
        ("downstream_cluster", "-"),
        ("http.protocol", "HTTP/2"),
        ("upstream_cluster", f"{'outbound' if client else 'inbound'}|{port}||{callee_host}"),
        ("http.status_code", "200"),
        ("response_flags", "-"),
        ("istio.canonical_service", app),
        ("istio.mesh_id", "cluster.local"),
        ("istio.namespace", world.namespace),
        ("span.kind", kind),
        ("internal.span.format", "zipkin"),
    ]
    references = [] if client else [{"refType": "CHILD_OF", "traceID": call.trace_id, "spanID": call.client_id}]
    return {
        "traceID": call.trace_id,
        "spanID": call.client_id if client else call.server_id,
        "flags": 1,
        "operationName": operation(world, call),
        "references": references,
        "startTime": int(start * 1_000_000),
        "duration": duration,
        "tags": [{"key": k, "type": "string", "value": v} for k, v in tags],
        "logs": [],
        "processID": "p1" if client else "p2",
        "warnings": None,
    }


def _process(world: World, app: str) -> Obj:
    return {"serviceName": service_name(world, app),
            "tags": [{"key": "ip", "type": "string", "value": pod_ip(world, app)}]}
