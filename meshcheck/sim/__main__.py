"""Run a simulated cluster by hand: ``python -m meshcheck.sim --scenario istiod-down``.

It prints the kubeconfig to use (with kubectl, or with ``pytest --kubeconfig``) and serves until
interrupted, so the suite can be tried against a broken cluster without writing any code.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from meshcheck.errors import SuiteError
from meshcheck.sim import scenario as scenarios
from meshcheck.sim.server import SimCluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="meshcheck-sim", description=__doc__)
    parser.add_argument("--scenario", default="healthy", help="a bundled scenario name or a YAML file")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every API request")
    parser.add_argument("--list", action="store_true", help="list the bundled scenarios and exit")
    args = parser.parse_args(argv)
    if args.list:
        try:
            for name in scenarios.available():
                description = scenarios.load(name).get("description", "")
                print(f"{name:32} {' '.join(str(description).split())[:100]}", flush=True)
        except BrokenPipeError:  # `--list | head`: the reader has seen enough (as the Python docs advise)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    try:
        cluster = SimCluster(args.scenario, latency=args.latency, workdir=tempfile.mkdtemp(prefix="meshcheck-sim-"))
        cluster.start()
    except SuiteError as exc:
        print(f"meshcheck-sim: {exc}", file=sys.stderr)
        return 2
    print(f"simulated cluster '{args.scenario}' serving at {cluster.url}")
    print(f"export KUBECONFIG={cluster.kubeconfig}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
