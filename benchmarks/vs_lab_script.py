"""Benchmark: the whole suite side by side with the lab's own checks (shared/bench/lab-checks.sh, kubectl + curl),
against the same simulated cluster at the same latency per API request, runs alternating, and the ratio.

The lab script is what a user would write instead of the suite: 13 checks, one kubectl or curl after
another. The suite checks far more (every layer's checks); the target is that it takes no longer.
Needs kubectl and curl on PATH. Not a test: figures go in the README.

    python benchmarks/vs_lab_script.py --latency 0.05 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAB_SCRIPT = ROOT.parent / "shared" / "bench" / "lab-checks.sh"


def timed(command: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    return time.perf_counter() - start, done.returncode, done.stdout + done.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per API request (default 0.05)")
    parser.add_argument("--scenario", default="healthy")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--script", type=Path, default=LAB_SCRIPT, help="the lab's script (shared/bench/)")
    args = parser.parse_args()
    missing = [tool for tool in ("kubectl", "curl", "bash") if not shutil.which(tool)]
    if missing or not args.script.exists():
        print(f"needs {', '.join(missing) or args.script} to run", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    from meshcheck.sim.server import SimCluster

    with tempfile.TemporaryDirectory() as tmp, SimCluster(args.scenario, latency=args.latency, workdir=tmp) as sim:
        env = {**os.environ, "HOME": tmp, "KUBECACHEDIR": str(Path(tmp) / "cache")}
        env.pop("KUBECONFIG", None)
        # As on a user's machine: Python keeps its compiled bytecode (this workplace sets
        # PYTHONDONTWRITEBYTECODE, which makes every run compile every module again).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        suite = [sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider",
                 f"--kubeconfig={sim.kubeconfig}"]
        timed(suite, env)  # warm: the first run writes the bytecode
        lab = ["bash", str(args.script), str(sim.kubeconfig), sim.world.namespace if sim.world else "online-boutique"]
        suite_times, lab_times = [], []
        for _ in range(args.repeat):  # alternating, so drift on a shared machine hits both alike
            seconds, code, output = timed(lab, env)
            lab_times.append(seconds)
            lab_code, lab_output = code, output
            before = len(sim.api_requests())
            seconds, code, output = timed(suite, env)
            suite_times.append(seconds)
            suite_requests = len(sim.api_requests()) - before
        lab_median, suite_median = statistics.median(lab_times), statistics.median(suite_times)
        passed = sum(line.startswith("PASS") for line in lab_output.splitlines())
        print(f"scenario {args.scenario}, {args.latency * 1000:.0f} ms per API request, "
              f"median of {args.repeat}:")
        print(f"  lab script  {lab_median:6.2f} s  ({passed} of 13 checks pass, exit {lab_code})")
        summary = output.strip().splitlines()[-1]
        print(f"  suite       {suite_median:6.2f} s  ({summary}, {suite_requests} API requests)")
        print(f"  ratio suite/lab {suite_median / lab_median:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
