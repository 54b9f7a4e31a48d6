"""The simulated cluster's state as the add-on and storefront handlers see it.

The scenario builder (``meshcheck.sim.scenario``) produces one ``World``: the Kubernetes objects
it serves and the facts the add-ons derive their answers from (which calls carry traffic, which
version runs), plus each add-on's knobs from the scenario file.

A real cluster also changes by itself: a rollout completes a few seconds after it started. The
world holds such changes with the time they are due (``Change``), and the server applies the due
ones before it serves each request (``advance``). A change swaps in new lists of objects instead
of editing the ones a handler may be reading, under one lock, so one world serves many threads;
the same two operations (``put``, ``remove``) are where writes land (``store``), and a change may
also ``run`` a step of the reconciler (``reconcile``) when its time has come: a pod that becomes
ready a moment after its Deployment was applied.

A world built from a scenario keeps the facts the builder gave it. A world the API writes to is
``live``: its facts are worked out again from its objects after every write and every step of the
reconciler (``facts``), so the add-ons answer for what was actually deployed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Edge = tuple[str, str]
Obj = dict[str, Any]


@dataclass(frozen=True)
class Change:
    """What the cluster does by itself ``after`` seconds from its start: objects put in place (replacing
    any of the same kind, namespace and name) and objects removed, as (plural, namespace, name)."""

    after: float
    put: tuple[tuple[str, Obj], ...] = ()
    remove: tuple[tuple[str, str, str], ...] = ()
    what: str = ""
    run: Callable[[], None] | None = field(default=None, compare=False)  # called last, under the world's lock


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
    changes: list[Change] = field(default_factory=list)  # not yet applied, in any order
    born: float = field(default_factory=time.monotonic)  # when the cluster started: changes count from here
    calls: tuple[Edge, ...] = ()           # the apps' call graph, whichever of them run (live worlds)
    live: bool = False                     # facts follow the objects (a cluster the API writes to)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def knobs(self, addon: str) -> dict[str, Any]:
        return self.addons.get(addon) or {}

    def now(self) -> float:
        return time.time()

    def of_kind(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        items = self.objects.get(plural, [])
        if namespace is None:
            return list(items)
        return [o for o in items if o["metadata"].get("namespace") == namespace]

    # --- the cluster changing by itself -------------------------------------------------------

    def advance(self) -> list[Change]:
        """Apply the changes that are due, oldest first; returns them. Cheap when nothing is pending."""
        if not self.changes:
            return []
        with self._lock:
            elapsed = time.monotonic() - self.born
            due = sorted((c for c in self.changes if c.after <= elapsed), key=lambda c: c.after)
            self.changes = [c for c in self.changes if c.after > elapsed]
            for change in due:
                for plural, namespace, name in change.remove:
                    self._remove(plural, namespace, name)
                for plural, obj in change.put:
                    self._put(plural, obj)
                if change.run is not None:
                    change.run()
            return due

    def at(self, delay: float, run: Callable[[], None], what: str = "") -> None:
        """Have ``run`` called before the first request served ``delay`` seconds from now."""
        with self._lock:
            self.changes.append(Change(time.monotonic() - self.born + delay, what=what, run=run))

    @property
    def lock(self) -> threading.RLock:
        """Held while the world changes: a write and the reconciling that follows it happen as one."""
        return self._lock

    def put(self, plural: str, obj: Obj) -> None:
        """Store an object in place of the one of the same kind, namespace and name, or add it."""
        with self._lock:
            self._put(plural, obj)

    def remove(self, plural: str, namespace: str, name: str) -> None:
        with self._lock:
            self._remove(plural, namespace, name)

    def _put(self, plural: str, obj: Obj) -> None:
        key = _key(obj)
        items = self.objects.get(plural, [])
        if any(_key(o) == key for o in items):
            self.objects[plural] = [obj if _key(o) == key else o for o in items]
        else:
            self.objects[plural] = [*items, obj]

    def _remove(self, plural: str, namespace: str, name: str) -> None:
        items = self.objects.get(plural, [])
        self.objects[plural] = [o for o in items if _key(o) != (namespace, name)]

    # --- facts derived from the objects -------------------------------------------------------

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


def _key(obj: Obj) -> tuple[str, str]:
    metadata = obj.get("metadata") or {}
    return metadata.get("namespace", ""), metadata.get("name", "")
