"""What the simulated mesh carried beyond its steady background: the requests the storefront served, and
when the load generator stopped.

The simulated Prometheus derives Istio's counters from time (every call of the call graph at a steady
rate since the cluster started, ``meshcheck.sim.addons.prometheus``): that is the traffic of Online
Boutique's load generator. Two things change it. Requests the simulated storefront serves (the
storefront layer's shopper, our own Locust) enter the frontend through the ingress gateway and are
counted on top (``served``). A load generator scaled to zero stops that background at the moment it
stopped (``generator_stopped_at``), so its counters stay where they were and their rate falls to zero.

The ledger belongs to one ``World`` and is kept beside it (``ledger``) rather than in it, so the world's
own shape stays as the simulator's core defines it.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field

from meshcheck.sim.world import World

_ATTRIBUTE = "_meshcheck_traffic"
_CREATE = threading.Lock()


@dataclass
class Ledger:
    """Requests the storefront served, in the order served: (unix time, status code)."""

    times: list[float] = field(default_factory=list)
    codes: list[int] = field(default_factory=list)
    generator_stopped_at: float | None = None   # unix time; None while the generator runs
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def served(self, status: int) -> None:
        """Count one request served now (timed under the lock, so the times stay in order)."""
        with self._lock:
            self.times.append(time.time())
            self.codes.append(status)

    def by_code(self, until: float) -> Counter[int]:
        """How many requests the storefront had served by ``until``, per status code."""
        with self._lock:
            end = bisect_right(self.times, until)
            return Counter(self.codes[:end])


def ledger(world: World) -> Ledger:
    """The ledger of this world, made on first use."""
    found = world.__dict__.get(_ATTRIBUTE)
    if found is None:
        with _CREATE:
            found = world.__dict__.setdefault(_ATTRIBUTE, Ledger())
    return found
