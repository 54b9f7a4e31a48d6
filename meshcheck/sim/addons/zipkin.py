"""The simulated Zipkin server of Istio's extras/zipkin.yaml (Service ``zipkin`` port 9411).

What it serves and where the shapes come from (openzipkin/zipkin-api zipkin2-api.yaml):
- ``/api/v2/services`` (also under ``/zipkin``): a JSON list of lower-case service names; a
  Zipkin server records no spans of its own, so with nothing traced the list is empty;
- ``/api/v2/traces?serviceName=&endTs=&lookback=&limit=``: a list of traces, each a list of v2
  spans ``{"traceId", "id", "parentId"?, "kind", "name", "timestamp", "duration",
  "localEndpoint": {"serviceName", "ipv4"}, "remoteEndpoint", "tags", "shared"?}``; endTs and
  lookback are epoch milliseconds (endTs defaults to now, lookback to QUERY_LOOKBACK, one day),
  limit defaults to 10. Envoy's Zipkin tracer shares the span context between the two sides of a
  call, so the SERVER span has the CLIENT span's id and ``"shared": true``;
- a parameter that is not a number: 400 with a plain-text reason;
- ``/zipkin/...`` otherwise: the Lens UI's index.html; anything else: 404.

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

DEFAULT_LIMIT = 10
DEFAULT_LOOKBACK_MS = 86_400_000
INDEX_HTML = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><base href="/zipkin/">'
              "<title>Zipkin</title></head><body><div id=\"root\"></div></body></html>")


def handle(world: World, request: SimRequest) -> SimResponse:
    """Answer one request to the Zipkin server as Zipkin would."""
    path = request.path.rstrip("/") or "/"
    api = path.removeprefix("/zipkin")
    if request.method.upper() == "GET":
        if api == "/api/v2/services":
            return SimResponse.json([s.lower() for s in traced_services(world)])
        if api == "/api/v2/traces":
            return _traces(world, request)
        if path == "/zipkin" or (path.startswith("/zipkin/") and not api.startswith("/api/")):
            return SimResponse.text(INDEX_HTML, 200, "text/html; charset=utf-8")
    return SimResponse.text("404 Not Found", 404)


def _traces(world: World, request: SimRequest) -> SimResponse:
    try:
        end_ms = _number(request, "endTs", int(world.now() * 1000))
        lookback_ms = _number(request, "lookback", DEFAULT_LOOKBACK_MS)
        limit = _number(request, "limit", DEFAULT_LIMIT)
    except ValueError as exc:
        return SimResponse.text(str(exc), 400)
    if limit <= 0:
        return SimResponse.text("limit should be greater than 0", 400)
    service = (request.arg("serviceName") or "").lower()
    if service:
        app = app_of_service(world, service)
        if app is None or service not in traced_services(world):
            return SimResponse.json([])
    else:
        app = None
    found = calls(world, app, (end_ms - lookback_ms) / 1000, end_ms / 1000, limit)
    return SimResponse.json([_trace(world, call) for call in found])


def _number(request: SimRequest, name: str, default: int) -> int:
    text = request.arg(name)
    if not text:
        return default
    if not re.fullmatch(r"-?\d+", text):
        raise ValueError(f"Invalid value for parameter {name}: {text}")
    return int(text)


def _trace(world: World, call: Call) -> list[Obj]:
    port = service_port(world, call.callee)
    base = {"traceId": call.trace_id, "id": call.client_id, "name": operation(world, call).lower()}
    tags = {"component": "proxy", "http.method": "POST", "http.protocol": "HTTP/2", "http.status_code": "200",
            "http.url": f"http://{call.callee}:{port}/", "response_flags": "-",
            "istio.mesh_id": "cluster.local", "istio.namespace": world.namespace}
    client = {**base, "kind": "CLIENT", "timestamp": int(call.start * 1_000_000), "duration": call.duration_us,
              "localEndpoint": {"serviceName": service_name(world, call.caller), "ipv4": pod_ip(world, call.caller)},
              "remoteEndpoint": {"ipv4": pod_ip(world, call.callee), "port": port},
              "tags": {**tags, "istio.canonical_service": call.caller,
                       "upstream_cluster": f"outbound|{port}||{call.callee}.{world.namespace}.svc.cluster.local"}}
    server = {**base, "kind": "SERVER", "timestamp": int(call.server_start * 1_000_000),
              "duration": max(call.duration_us - 600, 100),
              "localEndpoint": {"serviceName": service_name(world, call.callee), "ipv4": pod_ip(world, call.callee)},
              "remoteEndpoint": {"ipv4": pod_ip(world, call.caller)},
              "tags": {**tags, "istio.canonical_service": call.callee,
                       "upstream_cluster": f"inbound|{port}||"},
              "shared": True}
    return [client, server]
