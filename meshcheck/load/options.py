"""The load layer's settings: its budgets, and whether and how the suite runs its own load."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from meshcheck.errors import ConfigError

# The share of our own requests Prometheus must have counted at the entry workload after our run: every
# request reaches its sidecar (a redirect followed even counts twice), but a scrape may not have run yet.
COUNTED_FRACTION = 0.5
# Seconds after our run within which Prometheus must have scraped what it sent: Istio's add-on scrapes
# every 15 s (samples/addons/prometheus.yaml scrape_interval), so two intervals and a margin.
SCRAPE_ALLOWANCE = 35.0


@dataclass(frozen=True)
class LoadOptions:
    own: bool = False             # --load: run our own Locust against the storefront (it places orders)
    users: int = 10
    spawn_rate: float = 5.0
    duration: float = 30.0        # seconds
    max_error_rate: float = 0.01  # a fraction; given in percent on the command line
    p95_ms: float = 2000.0
    window: str = "5m"            # how far back Prometheus's rate looks at the generator's traffic
    scrape_wait: float = SCRAPE_ALLOWANCE  # seconds after our load within which Prometheus must have counted it

    def describe(self) -> str:
        return f"{self.users} users (spawned {self.spawn_rate:g}/s) for {self.duration:g}s"


def from_options(option: Callable[[str], Any]) -> LoadOptions:
    """The settings from the command line (pytest's ``config.getoption``); values no run can use are a
    ``ConfigError``, so a mistyped budget ends the run before a check runs rather than judging with it."""
    chosen = LoadOptions(
        own=bool(option("load")),
        users=int(option("load_users")),
        spawn_rate=float(option("load_spawn_rate")),
        duration=float(option("load_duration")),
        max_error_rate=float(option("load_max_error_rate")) / 100.0,
        p95_ms=float(option("load_p95_ms")),
        scrape_wait=float(option("load_scrape_wait")),
    )
    problems = [
        ("--load-users", "at least 1", chosen.users >= 1),
        ("--load-spawn-rate", "above 0", chosen.spawn_rate > 0),
        ("--load-duration", "above 0 seconds", chosen.duration > 0),
        ("--load-max-error-rate", "a percentage from 0 to 100", 0 <= chosen.max_error_rate <= 1),
        ("--load-p95-ms", "above 0", chosen.p95_ms > 0),
        ("--load-scrape-wait", "0 or more seconds", chosen.scrape_wait >= 0),
    ]
    for name, wanted, fine in problems:
        if not fine:
            raise ConfigError(f"{name} must be {wanted}")
    return chosen
