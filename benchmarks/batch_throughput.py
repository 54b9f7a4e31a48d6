"""Benchmark: batch grading throughput. N simulated clusters (default 100) at 50 ms per API request, graded by
``meshcheck-grade`` as a grader runs it; then the same command with one ``python -m pytest`` per cluster
(``--runner=subprocess``) on fewer clusters, for comparison; and what starting one pytest process costs.

The simulated clusters run in helper processes of their own (``--sim-procs``), never in the batch's
process: the batch forks, and a process that forks must hold no threads. They share the machine's cores
with the batch, as a grader's cluster would not: the figures are a lower bound on a real batch's speed
in CPU, and real API servers' latency is what ``--latency`` stands for. Not a test: figures go in the
README and docs/batch.md.

    python benchmarks/batch_throughput.py                       # 100 clusters, then 20 with --runner=subprocess
    python benchmarks/batch_throughput.py --clusters 40 --compare 0 --scenario healthy --scenario istiod-down
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def serve(folder: Path, first: int, count: int, latency: float, scenarios: list[str]) -> int:
    """Helper process: start ``count`` simulated clusters, write their kubeconfigs, serve until stdin closes."""
    sys.path.insert(0, str(ROOT))
    from meshcheck.sim.server import SimCluster

    clusters = []
    with tempfile.TemporaryDirectory(prefix="meshcheck-bench-sim-") as work:
        for number in range(first, first + count):
            scenario = scenarios[number % len(scenarios)]
            sim = SimCluster(scenario, latency=latency, workdir=Path(work) / str(number)).start()
            clusters.append(sim)
            assert sim.kubeconfig is not None
            shutil.copyfile(sim.kubeconfig, folder / f"student-{number:03d}.yaml")
        print("ready", flush=True)
        sys.stdin.read()  # the benchmark closes our stdin when it is done
        for sim in clusters:
            sim.stop()
    return 0


def start_sims(folder: Path, clusters: int, procs: int, latency: float, scenarios: list[str]) -> list[subprocess.Popen]:
    helpers, first = [], 0
    for index in range(procs):
        count = clusters // procs + (1 if index < clusters % procs else 0)
        command = [sys.executable, __file__, "--serve", str(folder), "--first", str(first), "--count", str(count),
                   "--latency", str(latency), *(f"--scenario={s}" for s in scenarios)]
        helpers.append(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        first += count
    for helper in helpers:
        line = helper.stdout.readline() if helper.stdout else ""
        if line.strip() != "ready":
            raise SystemExit(f"a simulated-cluster helper did not start (said {line!r})")
    return helpers


def stop_sims(helpers: list[subprocess.Popen]) -> None:
    for helper in helpers:
        if helper.stdin:
            helper.stdin.close()
    for helper in helpers:
        helper.wait(timeout=60)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall seconds, CPU seconds (the command and everything it waited for), and what it said."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done


def grade(source: Path, out: Path, runner: str, jobs: int, env: dict[str, str], extra: list[str]) -> dict[str, float]:
    command = [sys.executable, "-m", "meshcheck.batch", str(source), f"--out={out}", f"--jobs={jobs}",
               f"--runner={runner}"]
    if extra:
        command += ["--", *extra]
    wall, cpu, done = timed(command, env)
    with (out / "scores.csv").open() as file:
        rows = list(csv.DictReader(file))
    if done.returncode not in (0, 1):
        print(done.stdout + done.stderr, file=sys.stderr)
        raise SystemExit(f"meshcheck-grade exited {done.returncode}")
    statuses = Counter(row["status"] for row in rows)
    for row in [r for r in rows if r["status"] != "ok"][:5]:  # a healthy cluster that did not pass says why
        print(f"    {row['name']}: {row['status']}: {row['reason']}", flush=True)
    return {"clusters": len(rows), "wall": wall, "cpu": cpu, **statuses}


def one_pytest(env: dict[str, str]) -> tuple[float, float]:
    """What starting one pytest process costs before it checks anything: collecting the suite, median of 5."""
    runs = sorted(timed([sys.executable, "-m", "pytest", "suites", "--collect-only", "-q"], env)[:2] for _ in range(5))
    return runs[2]


def report(label: str, figures: dict[str, float]) -> None:
    n, wall = figures["clusters"], figures["wall"]
    statuses = ", ".join(f"{figures.get(s, 0):g} {s}" for s in ("ok", "failed", "error", "timeout") if figures.get(s))
    print(f"  {label:<34} {n:>4.0f} clusters in {wall:6.1f} s = {n / wall * 60:6.1f} clusters/min; "
          f"{figures['cpu'] / n:.2f} CPU-s a cluster ({statuses})", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, default=100, help="simulated clusters to grade (default 100)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per API request (default 0.05)")
    parser.add_argument("--jobs", type=int, action="append", help="--jobs of the batch (repeatable; default 8)")
    parser.add_argument("--compare", type=int, default=20,
                        help="clusters graded with --runner=subprocess for comparison (default 20; 0: skip)")
    parser.add_argument("--scenario", action="append",
                        help="scenarios, given to the clusters in turn (repeatable; default healthy)")
    parser.add_argument("--sim-procs", type=int, default=2, help="helper processes serving the clusters (default 2)")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    scenarios = args.scenario or ["healthy"]
    if args.serve:
        return serve(args.serve, args.first, args.count, args.latency, scenarios)
    # As on a grader's machine: Python keeps its compiled bytecode (this workplace sets PYTHONDONTWRITEBYTECODE,
    # which makes every process compile the suite's modules again).
    env = {**os.environ}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory(prefix="meshcheck-bench-batch-") as tmp:
        work = Path(tmp)
        folder = work / "kubeconfigs"
        folder.mkdir()
        started = time.perf_counter()
        helpers = start_sims(folder, args.clusters, args.sim_procs, args.latency, scenarios)
        try:
            print(f"{args.clusters} simulated clusters ({', '.join(scenarios)}) at {args.latency * 1000:.0f} ms "
                  f"per API request, started in {time.perf_counter() - started:.1f} s in {args.sim_procs} helper "
                  f"processes; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} before", flush=True)
            one_pytest(env)  # warm: the first run writes the bytecode
            wall, cpu = one_pytest(env)
            print(f"  one python -m pytest --collect-only     {wall:.2f} s wall, {cpu:.2f} CPU-s (imports and "
                  "collection: what each subprocess pays before its first check)", flush=True)
            for jobs in args.jobs or [8]:
                figures = grade(folder, work / f"fork-{jobs}", "fork", jobs, env, [])
                report(f"meshcheck-grade --jobs={jobs} (fork)", figures)
            if args.compare:
                subset = work / "subset.csv"
                names = sorted(folder.iterdir())[: args.compare]
                subset.write_text("name,kubeconfig\n" + "".join(f"{p.stem},{p}\n" for p in names))
                jobs = (args.jobs or [8])[0]
                report(f"--jobs={jobs} --runner=subprocess",
                       grade(subset, work / "subprocess", "subprocess", jobs, env, []))
            print(f"  load average {os.getloadavg()[0]:.1f} after", flush=True)
        finally:
            stop_sims(helpers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
