"""Waiting for a layer's workloads to roll out, bounded, with progress a person can follow.

A layer is only done when its Deployments and DaemonSets run the applied spec and are available:
the next layer rests on it (Online Boutique's pods need istiod's injector, the pool needs MetalLB's
webhook). Waits poll fresh reads, print what is still pending every few seconds, and end in an
error that names the layer, each workload still pending and why, as its pods say.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from meshcheck import objects as o
from meshcheck.errors import DeployError

Obj = dict[str, Any]
WORKLOADS = (("apps/v1", "deployments", "Deployment"), ("apps/v1", "daemonsets", "DaemonSet"))


def pending(workload: Obj, kind: str) -> str | None:
    """Why a Deployment or DaemonSet has not finished rolling out, or None when it has."""
    status, spec = workload.get("status") or {}, workload.get("spec") or {}
    generation = (workload.get("metadata") or {}).get("generation", 0)
    if status.get("observedGeneration", 0) < generation:
        return "its controller has not seen the new spec yet"
    if kind == "DaemonSet":
        desired = status.get("desiredNumberScheduled", 0)
        updated, available = status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0)
        if updated < desired or available < desired:
            return f"{available}/{desired} pods available, {updated} updated"
        return None
    wanted = spec.get("replicas", 1)
    updated, available = status.get("updatedReplicas", 0), status.get("availableReplicas", 0)
    if updated < wanted or available < wanted:
        return f"{available}/{wanted} replicas available, {updated} updated"
    return None


def wait_for_rollout(
    read: Callable[[str], Obj | None],
    layer: str,
    namespaces: Iterable[str],
    timeout: float,
    *,
    progress: Callable[[str], None] = print,
    poll: float = 1.0,
    every: float = 10.0,
) -> None:
    """Wait until every Deployment and DaemonSet in ``namespaces`` has rolled out, within ``timeout``.

    ``read(path)`` is a fresh GET (the writer's), so each poll sees the cluster as it is now.
    """
    namespaces = list(namespaces)
    start = time.monotonic()
    last_said = start
    while True:
        waiting = _pending_in(read, namespaces)
        elapsed = time.monotonic() - start
        if not waiting:
            progress(f"  {layer}: rolled out in {', '.join(namespaces)} ({elapsed:.0f}s)")
            return
        if elapsed >= timeout:
            details = "; ".join(f"{name} ({why})" for name, why in waiting.items())
            raise DeployError(
                f"layer {layer} did not roll out within {timeout:.0f}s: {details}: see 'kubectl -n NAMESPACE "
                "describe pod' for the pods' events, or raise --deploy-timeout if the cluster is slow to pull images"
            )
        if time.monotonic() - last_said >= every:
            progress(f"  {layer}: waiting for {', '.join(waiting)} ({elapsed:.0f}s)")
            last_said = time.monotonic()
        time.sleep(poll)


def _pending_in(read: Callable[[str], Obj | None], namespaces: list[str]) -> dict[str, str]:
    waiting: dict[str, str] = {}
    for namespace in namespaces:
        pods = (read(f"/api/v1/namespaces/{namespace}/pods") or {}).get("items") or []
        for api_version, plural, kind in WORKLOADS:
            listed = read(f"/apis/{api_version}/namespaces/{namespace}/{plural}") or {}
            for workload in listed.get("items") or []:
                why = pending(workload, kind)
                if why:
                    selector = ((workload.get("spec") or {}).get("selector") or {}).get("matchLabels")
                    mine = [p for p in pods if o.selector_matches(selector, o.labels(p))]
                    stuck = [reason for p in mine if (reason := o.waiting_reason(p))]
                    waiting[f"{kind} {namespace}/{o.name(workload)}"] = why + (f", pods {stuck[0]}" if stuck else "")
    return waiting
