"""meshcheck-grade: grade every student's cluster, several at a time, into one folder of reports.

SOURCE is a folder of kubeconfigs (one file a student, named by its stem) or a CSV file of
name,kubeconfig[,context]. Each cluster gets DIR/<name>/report.html, report.json, junit.xml and
pytest.log; DIR/scores.csv and DIR/index.html list them all. Options after "--" go to the suite
(the graders' rubric lab-grader unless --rubric names another).

Exit codes: 0 every cluster was graded (whatever its score), 1 some could not be graded (their rows
say why), 2 the batch's own input cannot be used.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

from meshcheck.batch import index, inputs, launch, runner
from meshcheck.batch.inputs import BatchInputError
from meshcheck.batch.progress import Progress
from meshcheck.report.summary import timestamp

PROG = "meshcheck-grade"
EXIT_GRADED, EXIT_NOT_GRADED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line, as every other bad input of the batch: what is wrong, and where to read more."""
        self.exit(EXIT_BAD_INPUT, f"{PROG}: {message} (see {PROG} --help)\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                usage=f"{PROG} SOURCE --out DIR [--jobs N] [--cluster-timeout SECONDS] [--runner RUNNER] "
                "[--suites PATH] [-- SUITE OPTIONS...]",
                epilog="Example: meshcheck-grade students/ --out grades -- --wait=60 --profile=hardened "
                "(more in docs/batch.md)")
    p.add_argument("source", type=Path, metavar="SOURCE",
                   help="a folder of kubeconfigs, or a CSV of name,kubeconfig[,context]")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="the folder for the reports, scores.csv and index.html")
    p.add_argument("--jobs", type=_positive_int, default=8, metavar="N", help="clusters graded at once (default 8)")
    p.add_argument("--cluster-timeout", type=_positive_float, default=300.0, metavar="SECONDS",
                   help="seconds one cluster's run may take before it is killed (default 300)")
    p.add_argument("--runner", choices=("auto", "fork", "subprocess"), default="auto",
                   help="auto (default): fork runs from one process that imported the suite once, where that is "
                   "safe (Linux); subprocess: one python -m pytest per cluster")
    p.add_argument("--suites", type=Path, default=None, metavar="PATH",
                   help="the suite's folder (default: suites/ beside the meshcheck package)")
    return p


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def split_argv(argv: list[str]) -> tuple[list[str], list[str]]:
    """The batch's own arguments, and the suite's: everything after the first ``--``."""
    if "--" in argv:
        at = argv.index("--")
        return argv[:at], argv[at + 1:]
    return argv, []


def default_suites() -> Path:
    import meshcheck

    return Path(meshcheck.__file__).resolve().parent.parent / "suites"


def main(argv: list[str] | None = None) -> int:
    own, extra = split_argv(list(sys.argv[1:] if argv is None else argv))
    args = parser().parse_args(own)
    with _terminate_as_interrupt():
        try:
            return grade(args, extra)
        except BatchInputError as exc:
            print(f"{PROG}: {exc}", file=sys.stderr, flush=True)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted", file=sys.stderr, flush=True)
            return EXIT_INTERRUPTED


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a cancelled CI job) ends the batch as Ctrl-C does: the runs still going are killed with what
    they started, and what finished is written. The runs live in process groups of their own, so a signal
    sent to the batch's group does not reach them by itself."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _check_profile(extra: list[str]) -> None:
    """A profile that cannot be read is the batch's bad input, said once: each run reads it only when it starts."""
    from meshcheck.errors import SuiteError
    from meshcheck.profile import load_profile

    profile = runner.option_value(extra, "--profile")
    if profile is None:
        return
    try:
        load_profile(profile)
    except SuiteError as exc:
        raise BatchInputError(f"--profile after --: {exc}") from None


def grade(args: argparse.Namespace, extra: list[str]) -> int:
    targets = inputs.read_targets(args.source)
    suites = (args.suites or default_suites()).resolve()
    if not suites.is_dir():
        raise BatchInputError(f"{suites}: the suite's folder is not there (pass --suites=PATH, the suites/ folder "
                              "of a meshcheck checkout)")
    refused = runner.own_option(extra)
    if refused:
        raise BatchInputError(f"{refused} after --: the batch sets it itself for each cluster, or it would change "
                              "a student's cluster; grading only reads")
    _check_profile(extra)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BatchInputError(f"{args.out}: cannot create the output folder ({exc.strerror or exc})") from None
    common = runner.common_args(suites, extra)
    progress = Progress(len(targets), [t.name for t in targets])
    chosen = _launcher(args.runner, common, progress)
    jobs = [runner.job_for(target, args.out.resolve(), common) for target in targets]
    progress.say(f"{PROG}: {len(jobs)} clusters from {args.source}, {args.jobs} at a time, up to "
                 f"{args.cluster_timeout:g} s each ({chosen.name} runner); reports in {args.out}")
    started_at, started = time.time(), time.monotonic()
    done: list[runner.Outcome] = []

    def finished(outcome: runner.Outcome) -> None:
        done.append(outcome)
        progress.finished(outcome)

    interrupted = False
    try:
        runner.run_all(jobs, chosen, parallel=args.jobs, timeout=args.cluster_timeout, on_done=finished)
    except KeyboardInterrupt:
        interrupted = True
        finished_names = {o.name for o in done}
        done += [runner.interrupted(job) for job in jobs if job.target.name not in finished_names]
    seconds = time.monotonic() - started
    about = index.BatchAbout(source=str(args.source), options=" ".join(runner.shown_options(common)),
                             started=timestamp(started_at), seconds=seconds, runner=chosen.name)
    missed = _write(args.out, done, about, progress)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_NOT_GRADED if missed else EXIT_GRADED


def _launcher(name: str, common: list[str], progress: Progress) -> launch.Launcher:
    """The runner asked for, ready: the suite collected once (its options checked), fork only where safe."""
    chosen, note = launch.choose(name)
    if note:
        progress.say(f"{PROG}: {note}")
    chosen.prepare([*common, "--collect-only", "-q"])
    if chosen.name == "fork" and name == "auto" and launch.fork_is_safe() is not None:
        progress.say(f"{PROG}: collecting the suite left threads running: each cluster runs in its own "
                     "python -m pytest (slower)")
        chosen = launch.SubprocessLauncher()
    return chosen


def _write(out: Path, done: list[runner.Outcome], about: index.BatchAbout, progress: Progress) -> list[runner.Outcome]:
    """scores.csv, index.html and the closing lines; the clusters that could not be graded."""
    seconds = about.seconds
    scores = index.write_scores(out, done)
    page = index.write_index(out, done, about)
    missed = sorted((o for o in done if not o.graded), key=lambda o: o.name.casefold())
    rate = len(done) / seconds * 60 if seconds > 0 else 0.0
    summary = f"{PROG}: graded {len(done) - len(missed)} of {len(done)} clusters in {seconds:.1f} s ({rate:.0f}/min)"
    if missed:
        summary += f"; not graded: {', '.join(f'{o.name} ({o.status})' for o in missed[:10])}"
        summary += f" and {len(missed) - 10} more" if len(missed) > 10 else ""
    progress.say(summary)
    progress.say(f"{PROG}: {scores}, {page}")
    return missed


if __name__ == "__main__":
    sys.exit(main())
