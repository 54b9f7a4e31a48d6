"""The simulated cluster's controllers: what kube-controller-manager, the scheduler and kubelet, istiod
and MetalLB do with the objects a client writes.

Each controller is a function ``sync(context) -> seconds | None`` that looks at the objects as they
are now (level-triggered, as real controllers are), writes what follows from them through the
``Store``, and says when it wants to look again (a pod that will be ready in a second). The
``Reconciler`` (``meshcheck.sim.reconcile``) runs them after every write and when they asked to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from meshcheck.sim.resources import Registry
from meshcheck.sim.store import Store
from meshcheck.sim.world import World


class Addresses(Protocol):
    """Where a LoadBalancer address that this machine can serve (loopback) starts and stops answering."""

    def serve(self, namespace: str, service: str, ip: str, port: int) -> None: ...

    def keep_only(self, services: set[tuple[str, str]]) -> None:
        """Stop answering for every other Service (deleted, or no longer of type LoadBalancer)."""


@dataclass
class Context:
    world: World
    store: Store
    registry: Registry
    ready_after: float = 1.5                     # seconds from a pod's creation to Running and Ready
    addresses: Addresses | None = None
    born: dict[str, float] = field(default_factory=dict)  # uid -> creation time of the pods made here
    revisions: dict[tuple[str, str, str], tuple[str, str]] = field(default_factory=dict)
    # (kind, namespace, name) of a workload -> (its template's hash, the name of its current revision)
