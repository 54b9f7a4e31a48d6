"""The simulated tracer behind Service ``tracing``/``zipkin``: which calls were traced, and when.

``handle`` dispatches to the backend the scenario names (``world.knobs("tracing")["backend"]``:
"jaeger", the default, as Istio's samples/addons/jaeger.yaml; or "zipkin", as
samples/addons/extras/zipkin.yaml), and both backends answer from the same traced calls here.

How Istio's sidecars trace (istio.io docs/tasks/observability/distributed-tracing; Envoy's Zipkin
tracer): the caller's sidecar records a CLIENT span and the callee's sidecar a SERVER span of the
same call, each under the service name ``<app>.<namespace>``. Online Boutique does not forward
trace headers, so every call starts its own trace holding that one hop. Plain TCP (Redis) is not
traced at all.

Calls are generated from ``world.edges`` without randomness: each traced edge is called every
``PERIOD`` seconds at a fixed phase since ``world.started``, and each call's ids are hashes of the
edge and its time, so the same query answers the same traces.

Knobs (``world.knobs("tracing")``): ``backend``; ``traces: false`` (nothing of the boutique was
traced: only the tracer's own service is listed); ``missing_hops: [[src, dst], ...]`` and
``untraced: [[src, dst], ...]`` (edges carrying traffic that never show up in a trace);
``stopped: seconds`` (nothing was traced since that long ago: the services stay listed, as Jaeger
keeps them, but recent traces are gone).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

from meshcheck.sim.protocol import SimRequest, SimResponse
from meshcheck.sim.world import World

Edge = tuple[str, str]

PERIOD = 30.0                      # seconds between two traced calls of one edge


def handle(world: World, request: SimRequest) -> SimResponse:
    """Answer as the configured backend (Jaeger's query service or a Zipkin server)."""
    from meshcheck.sim.addons import jaeger, zipkin  # both import the call model below

    if str(world.knobs("tracing").get("backend") or "jaeger").lower() == "zipkin":
        return zipkin.handle(world, request)
    return jaeger.handle(world, request)


@dataclass(frozen=True)
class Call:
    """One traced call: a CLIENT span of the caller and a SERVER span of the callee."""
    caller: str                    # app names
    callee: str
    start: float                   # epoch seconds of the client span
    trace_id: str                  # 32 hex
    client_id: str                 # 16 hex
    server_id: str                 # 16 hex
    duration_us: int

    @property
    def server_start(self) -> float:
        return self.start + 0.0004


def service_name(world: World, app: str) -> str:
    """Istio's canonical service name of a sidecar's spans."""
    return f"{app}.{world.namespace}"


def traced_edges(world: World) -> list[Edge]:
    """The world's calls that a tracer sees, in a stable order."""
    knobs = world.knobs("tracing")
    if knobs.get("traces") is False:
        return []
    hidden = {(str(a), str(b)) for a, b in [*(knobs.get("missing_hops") or ()), *(knobs.get("untraced") or ())]}
    return sorted({e for e in world.edges if e not in hidden})


def traced_services(world: World) -> list[str]:
    """The boutique service names that appear in any trace."""
    return sorted({service_name(world, app) for edge in traced_edges(world) for app in edge})


def app_of_service(world: World, service: str) -> str | None:
    suffix = "." + world.namespace
    return service[: -len(suffix)] if service.endswith(suffix) else None


def calls(world: World, app: str | None, start: float, end: float, limit: int) -> list[Call]:
    """The newest ``limit`` calls involving ``app`` (None: any) that started within [start, end]."""
    end = min(end, world.now() - max(1.0, float(world.knobs("tracing").get("stopped") or 0)))
    start = max(start, world.started)
    edges = [e for e in traced_edges(world) if app is None or app in e]
    merged = sorted((c for e in edges for c in _edge_calls(e, start, end, limit)), key=lambda c: -c.start)
    return merged[:max(limit, 0)]


def _edge_calls(edge: Edge, start: float, end: float, limit: int) -> Iterator[Call]:
    phase = _hash_int(f"{edge[0]}->{edge[1]}") % int(PERIOD * 1000) / 1000.0
    moment = math.floor((end - phase) / PERIOD) * PERIOD + phase
    for _ in range(max(limit, 0)):
        if moment < start:
            return
        yield _call(edge, moment)
        moment -= PERIOD


def _call(edge: Edge, moment: float) -> Call:
    key = f"{edge[0]}->{edge[1]}@{int(moment * 1000)}"
    digest = hashlib.sha256(key.encode()).hexdigest()
    return Call(edge[0], edge[1], moment, digest[:32], digest[32:48], digest[48:64],
                800 + _hash_int(key) % 9000)


def _hash_int(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def pod_ip(world: World, app: str) -> str:
    """The pod IP of an app (from the simulated pods), or a stable made-up one."""
    for pod in world.of_kind("pods", world.namespace):
        if (pod["metadata"].get("labels") or {}).get("app") == app and (pod.get("status") or {}).get("podIP"):
            return str(pod["status"]["podIP"])
    value = _hash_int(app)
    return f"10.244.{value % 200 + 1}.{value // 200 % 250 + 2}"


def service_port(world: World, app: str) -> int:
    for svc in world.of_kind("services", world.namespace):
        if ((svc.get("spec") or {}).get("selector") or {}).get("app") == app:
            ports = svc["spec"].get("ports") or []
            if ports:
                return int(ports[0].get("port", 80))
    return 80


def operation(world: World, call: Call) -> str:
    """Envoy's default span name: the called host and port."""
    return f"{call.callee}.{world.namespace}.svc.cluster.local:{service_port(world, call.callee)}/*"
