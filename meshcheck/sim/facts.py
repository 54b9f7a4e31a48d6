"""The facts the add-ons answer from, worked out from what a live cluster actually runs.

A built world gets its facts from the scenario; a world the API writes to (``World.live``) has them
worked out again after every change, so Prometheus, Kiali, Jaeger or Zipkin, Grafana and the shop
answer for what was deployed:

- the boutique's namespace: the one holding Deployment ``frontend``;
- Istio's namespace and version: istiod's, the tag of its ``discovery`` image;
- the workloads that run with a sidecar: boutique Deployments available with a ready pod that has an
  ``istio-proxy`` container (only those report telemetry and traces);
- the calls that carry traffic: the apps' call graph (``World.calls``) between such workloads;
- each add-on's knobs: present when its Service exists in Istio's namespace (``prometheus``,
  ``kiali``, ``tracing``, ``grafana``), ``available`` when ready pods back it; the tracing backend
  read from the ``tracing`` Service (Zipkin's port 9411 behind it, else Jaeger); Kiali's version from
  its image. A knob the scenario set itself (a fault) still applies.
"""

from __future__ import annotations

from typing import Any

from meshcheck.sim.endpoints import pod_ready, ready_pods, selects, service
from meshcheck.sim.world import World

Obj = dict[str, Any]
ADDON_SERVICES = {"prometheus": "prometheus", "kiali": "kiali", "tracing": "tracing", "grafana": "grafana"}
ANCHOR = "frontend"


def refresh(world: World, scenario_knobs: dict[str, dict[str, Any]]) -> None:
    """Recompute the world's facts from its objects (the caller holds the world's lock)."""
    deployments = world.of_kind("deployments")
    frontend = next((d for d in deployments if d["metadata"]["name"] == ANCHOR), None)
    if frontend is not None:
        world.namespace = frontend["metadata"].get("namespace", world.namespace)
    istiod = next((d for d in deployments if (d["metadata"].get("labels") or {}).get("app") == "istiod"
                   or d["metadata"]["name"] == "istiod"), None)
    if istiod is not None:
        world.istio_namespace = istiod["metadata"].get("namespace", world.istio_namespace)
        containers = istiod["spec"].get("template", {}).get("spec", {}).get("containers") or [{}]
        image = next((c for c in containers if c.get("name") == "discovery"), containers[0]).get("image", "")
        tag = str(image).rsplit("/", 1)[-1].partition(":")[2].split("@")[0]
        if tag:
            world.istio_version = tag
    meshed = tuple(sorted(_meshed(world, deployments)))
    world.workloads = meshed
    world.edges = tuple((a, b) for a, b in world.calls if a in meshed and b in meshed)
    world.addons = _knobs(world, scenario_knobs)


def _meshed(world: World, deployments: list[Obj]) -> set[str]:
    """The app names of boutique Deployments that have a ready pod with a sidecar."""
    found = set()
    pods = world.of_kind("pods", world.namespace)
    for deployment in deployments:
        if deployment["metadata"].get("namespace") != world.namespace:
            continue
        selector = (deployment["spec"].get("selector") or {}).get("matchLabels")
        for pod in pods:
            if selects(selector, pod["metadata"].get("labels")) and pod_ready(pod) and _has_sidecar(pod):
                found.add((pod["metadata"].get("labels") or {}).get("app") or deployment["metadata"]["name"])
                break
    return found


def _has_sidecar(pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    return any(c.get("name") == "istio-proxy" for c in [*(spec.get("containers") or []),
                                                         *(spec.get("initContainers") or [])])


def _knobs(world: World, scenario_knobs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    knobs: dict[str, dict[str, Any]] = {name: dict(v or {}) for name, v in scenario_knobs.items()
                                        if name not in ADDON_SERVICES}
    for addon, name in ADDON_SERVICES.items():
        found = service(world, world.istio_namespace, name)
        if found is None:
            continue
        given = dict(scenario_knobs.get(addon) or {})
        derived: dict[str, Any] = {"available": bool(ready_pods(world, found)) and given.get("available", True)
                                   is not False}
        if addon == "tracing":
            targets = {p.get("targetPort", p.get("port")) for p in found["spec"].get("ports") or []}
            derived["backend"] = "zipkin" if 9411 in targets and 16686 not in targets else "jaeger"
        if addon == "kiali":
            tag = _image_tag(world, "kiali/kiali")
            if tag:
                derived["version"] = tag
        knobs[addon] = {**given, **derived}
    return knobs


def _image_tag(world: World, image: str) -> str:
    for deployment in world.of_kind("deployments", world.istio_namespace):
        for container in deployment["spec"].get("template", {}).get("spec", {}).get("containers") or []:
            repository, _, tag = str(container.get("image", "")).rpartition(":")
            if tag and (repository == image or repository.endswith("/" + image)):
                return tag
    return ""
