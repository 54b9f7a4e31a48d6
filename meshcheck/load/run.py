"""Running Locust headless in a process of its own, and reading what it measured from its CSV.

Locust must never be imported here (it patches the standard library with gevent on import): it runs
as ``python -m locust`` with ``meshcheck.load.shopper`` as its locustfile, in a temporary working
directory (so no ``locust.conf`` or ``pyproject.toml`` of the caller's directory is read), with a
run-time limit, ``--csv`` for machine-readable statistics (read with ``meshcheck.addons.locust``) and
``--exit-code-on-error 0`` so that its exit code only says whether Locust itself worked: failed
requests are for the checks to judge. Options as documented by Locust (docs/configuration.rst,
locust/argument_parser.py): ``--headless``, ``--users``, ``--spawn-rate``, ``--run-time``, ``--host``,
``--csv``, ``--only-summary``, ``--stop-timeout``, ``--exit-code-on-error``.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from meshcheck.addons.locust import Failure, Table, parse_failures_csv, parse_stats_csv

SHOPPER = Path(__file__).with_name("shopper.py")
INSTALL_HINT = "pip install 'meshcheck[load]' (or pip install 'locust>=2.20')"
# Seconds Locust may take beyond its run time: starting (imports, spawning) and stopping its users.
GRACE = 60.0


@dataclass(frozen=True)
class LoadPlan:
    users: int
    spawn_rate: float
    duration: float               # seconds
    base_url: str                 # where the shop is, as the suite reached it
    via: str                      # how, for messages: "gateway EXTERNAL-IP 172.18.255.200:80"


@dataclass(frozen=True)
class LoadRun:
    """What one run of our own load did: Locust's statistics, or why there are none."""

    plan: LoadPlan
    stats: Table | None = None
    failures: tuple[Failure, ...] = ()
    error: str = ""               # Locust could not run, or wrote no statistics
    started: float = 0.0          # wall-clock time.time() around the run
    ended: float = 0.0
    output: str = field(default="", repr=False)  # the end of Locust's own output, for diagnostics

    @property
    def sent(self) -> int:
        return self.stats.total.requests if self.stats else 0


def write_connection(document: Mapping[str, Any], path: Path) -> Path:
    """Write how to reach the shop where only its owner can read it (it may carry the kubeconfig's token)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(dict(document), file)
    return path


def locust_installed() -> bool:
    """Whether Locust can be run by this Python, found without importing it."""
    return importlib.util.find_spec("locust") is not None


def locust_command(plan: LoadPlan, csv_prefix: Path, python: str = sys.executable) -> list[str]:
    """The command line: headless, time-limited, CSV statistics, failed requests not an error."""
    return [
        python, "-m", "locust", "-f", str(SHOPPER), "--headless",
        "--users", str(plan.users), "--spawn-rate", f"{plan.spawn_rate:g}",
        "--run-time", f"{math.ceil(plan.duration)}s", "--host", plan.base_url,
        "--csv", str(csv_prefix), "--only-summary", "--stop-timeout", "2",
        "--exit-code-on-error", "0",
    ]


def run_locust(plan: LoadPlan, connection: Mapping[str, Any], workdir: Path) -> LoadRun:
    """Run Locust once, wait for it, and read its CSV; every way this fails is a ``LoadRun`` with an error."""
    if not locust_installed():
        return LoadRun(plan, error=f"Locust is not installed in {sys.executable}: {INSTALL_HINT}")
    workdir.mkdir(parents=True, exist_ok=True)
    connection_file = write_connection(connection, workdir / "connection.json")
    prefix = workdir / "load"
    environment = {**os.environ, "MESHCHECK_LOAD_CONNECTION": str(connection_file), "PYTHONUNBUFFERED": "1"}
    started = time.time()
    try:
        done = subprocess.run(locust_command(plan, prefix), cwd=workdir, env=environment, capture_output=True,
                              text=True, timeout=plan.duration + GRACE, check=False)
    except subprocess.TimeoutExpired:
        return LoadRun(plan, error=f"Locust did not finish within {plan.duration + GRACE:.0f}s and was stopped",
                       started=started, ended=time.time())
    ended = time.time()
    output = (done.stdout + done.stderr)[-3000:]
    stats_file = prefix.with_name(prefix.name + "_stats.csv")
    if done.returncode != 0 or not stats_file.exists():
        last = next((line for line in reversed(output.splitlines()) if line.strip()), "no output")
        error = f"Locust exited with code {done.returncode} without statistics: {last.strip()[:240]}"
        return LoadRun(plan, error=error, started=started, ended=ended, output=output)
    try:
        stats = parse_stats_csv(stats_file.read_text(encoding="utf-8"))
    except ValueError as exc:
        return LoadRun(plan, error=f"Locust's statistics could not be read ({exc})", started=started, ended=ended,
                       output=output)
    failures_file = prefix.with_name(prefix.name + "_failures.csv")
    failures = parse_failures_csv(failures_file.read_text(encoding="utf-8")) if failures_file.exists() else ()
    return LoadRun(plan, stats, failures, started=started, ended=ended, output=output)
