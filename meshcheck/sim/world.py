"""The simulated cluster's state as the add-on and storefront handlers see it.

The scenario builder (``meshcheck.sim.scenario``) produces one ``World``: the Kubernetes objects
it serves and the facts the add-ons derive their answers from (which calls carry traffic, which
version runs), plus each add-on's knobs from the scenario file. Handlers read it and never
change it, so one world can serve many threads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

Edge = tuple[str, str]


@dataclass
class World:
    namespace: str                         # the boutique's namespace
    istio_namespace: str                   # where istiod and the add-ons run
    istio_version: str                     # e.g. "1.22.1"
    workloads: tuple[str, ...]             # boutique workloads that run (app label values)
    edges: tuple[Edge, ...]                # caller -> callee workloads that carry traffic
    addons: dict[str, dict[str, Any]]      # scenario knobs per handler: "kiali", "tracing", ...
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by plural: "pods"
    started: float = field(default_factory=lambda: time.time() - 3 * 3600)

    def knobs(self, addon: str) -> dict[str, Any]:
        return self.addons.get(addon) or {}

    def now(self) -> float:
        return time.time()

    def of_kind(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        items = self.objects.get(plural, [])
        if namespace is None:
            return list(items)
        return [o for o in items if o["metadata"].get("namespace") == namespace]

    def addon_version(self, addon: str, image: str, default: str) -> str:
        """An add-on's version: its scenario knob, else the tag of the ``image`` (repository path,
        e.g. "grafana/grafana" or "prom/prometheus") the add-on runs, else ``default``."""
        knob = self.knobs(addon).get("version")
        if knob:
            return str(knob)
        for deployment in self.of_kind("deployments", self.istio_namespace):
            for container in deployment["spec"]["template"]["spec"].get("containers") or []:
                repository, _, tag = str(container.get("image", "")).rpartition(":")
                if tag and (repository == image or repository.endswith("/" + image)):
                    return tag.lstrip("v")
        return default
