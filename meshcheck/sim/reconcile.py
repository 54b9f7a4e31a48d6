"""The reconciler: runs the simulated cluster's controllers after every write, and again when one of them
has something due (a pod that becomes ready a moment after its Deployment was applied).

Controllers run in the order their work feeds each other (namespaces, CRDs, workloads and their pods,
istiod's gateways, MetalLB) and again while a pass still changed something (a gateway Deployment that
istiod just created gets its pods in the same step). When they are done the world's facts are worked
out again (``facts``). A wake-up they ask for is a timed ``Change`` of the world, applied before the
request that comes after it, as the scenarios' own changes are.
"""

from __future__ import annotations

import time
from typing import Any

from meshcheck.sim import facts
from meshcheck.sim.controllers import Addresses, Context, crds, gateways, loadbalancer, namespaces, workloads
from meshcheck.sim.resources import Registry
from meshcheck.sim.store import Store
from meshcheck.sim.world import World

PASSES = 4  # enough for a Gateway → its Deployment → its pods → its Service's address


class Reconciler:
    def __init__(self, world: World, store: Store, registry: Registry, *, ready_after: float = 1.5,
                 addresses: Addresses | None = None, scenario_knobs: dict[str, dict[str, Any]] | None = None) -> None:
        self.context = Context(world, store, registry, ready_after=ready_after, addresses=addresses)
        self.scenario_knobs = dict(scenario_knobs if scenario_knobs is not None else world.addons)
        self._wake_at: float | None = None

    @property
    def world(self) -> World:
        return self.context.world

    def sync(self) -> None:
        """Let every controller catch up with the objects as they are now."""
        ctx = self.context
        with ctx.world.lock:
            ctx.world.live = True
            waits: list[float] = []
            for _ in range(PASSES):
                before = ctx.store.revision
                namespaces.sync(ctx)
                crds.sync(ctx)
                wait = workloads.sync(ctx)
                waits += [wait] if wait is not None else []
                gateways.sync(ctx)
                loadbalancer.sync(ctx)
                if ctx.store.revision == before:
                    break
            facts.refresh(ctx.world, self.scenario_knobs)
            if waits:
                self._wake(min(waits))

    def _wake(self, delay: float) -> None:
        due = time.monotonic() + max(delay, 0.0) + 0.01
        if self._wake_at is not None and self._wake_at <= due and self._wake_at > time.monotonic():
            return
        self._wake_at = due

        def wake() -> None:
            self._wake_at = None
            self.sync()

        self.world.at(due - time.monotonic(), wake, what="the controllers look again")
