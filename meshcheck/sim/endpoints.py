"""Which pods back a Service, as the EndpointSlice controller decides it: the Running, ready pods of
the Service's namespace that its selector matches (pkg/controller/endpointslice; a Service without
a selector has no endpoints here). The service proxy, webhook calls and in-cluster clients (Kiali,
Grafana) reach a Service only through them.
"""

from __future__ import annotations

from typing import Any

from meshcheck.sim.world import World

Obj = dict[str, Any]


def pod_ready(pod: Obj) -> bool:
    """Running, with a Ready condition that is True (kubelet sets it once every container is ready)."""
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def selects(selector: dict[str, str] | None, labels: dict[str, str] | None) -> bool:
    """A Service's (equality-based) selector matches these labels; an empty selector matches nothing."""
    return bool(selector) and all((labels or {}).get(k) == v for k, v in (selector or {}).items())


def service(world: World, namespace: str, name: str) -> Obj | None:
    return next(
        (s for s in world.of_kind("services", namespace) if s["metadata"]["name"] == name), None
    )


def ready_pods(world: World, svc: Obj) -> list[Obj]:
    """The pods that are the Service's endpoints."""
    selector = (svc.get("spec") or {}).get("selector")
    namespace = svc["metadata"].get("namespace", "")
    return [
        p for p in world.of_kind("pods", namespace)
        if selects(selector, p["metadata"].get("labels")) and pod_ready(p)
    ]


def has_endpoints(world: World, namespace: str, name: str) -> bool:
    found = service(world, namespace, name)
    return found is not None and bool(ready_pods(world, found))


def resolve(world: World, host: str, from_namespace: str) -> Obj | None:
    """The Service a cluster DNS name names, from a pod in ``from_namespace``: ``name``, ``name.ns``,
    ``name.ns.svc`` or ``name.ns.svc.cluster.local``."""
    labels = host.split(".")
    if len(labels) > 2 and labels[2] != "svc":
        return None
    namespace = labels[1] if len(labels) > 1 else from_namespace
    return service(world, namespace, labels[0])
