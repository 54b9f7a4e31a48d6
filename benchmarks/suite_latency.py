"""Benchmark: the whole suite against the simulated cluster with latency added to every API request.

Prints the wall time of the run and the number of requests the API server served (the simulated
cluster's own record), per scenario and latency. Not a test: figures go in the README.

    python benchmarks/suite_latency.py --latency 0.05 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_once(scenario: str, latency: float) -> tuple[float, int, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        record = Path(tmp) / "served.jsonl"
        command = [sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider", "--cluster=sim",
                   f"--sim-scenario={scenario}", f"--sim-latency={latency}", f"--sim-record={record}"]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - start
        served = [json.loads(line) for line in record.read_text().splitlines()]
    api = [s for s in served if s["server"] == "api"]
    proxied = [s for s in api if "/proxy" in s["path"]]
    return wall, len(api), len(proxied), done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, action="append", help="seconds per API request (repeatable)")
    parser.add_argument("--scenario", action="append", help="scenario (repeatable; default healthy)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'scenario':<24} {'latency':>7} {'wall s (median)':>15} {'API requests':>12} {'of them proxied':>15} exit")
    for scenario in args.scenario or ["healthy"]:
        for latency in args.latency or [0.0, 0.05]:
            runs = [run_once(scenario, latency) for _ in range(args.repeat)]
            wall = statistics.median(r[0] for r in runs)
            _, requests, proxied, code = runs[-1]
            print(f"{scenario:<24} {latency * 1000:>5.0f}ms {wall:>15.2f} {requests:>12} {proxied:>15} {code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
