"""The batch's loop: each cluster's run of the suite, so many at a time, each within its time, and what
each one came to (``Outcome``): graded (ok, or failed with its first failure), or not graded (error,
timeout) with the reason in one line.

The suite writes the reports itself (``--report-json``, ``--html``, ``--junitxml``); this module only
reads the JSON summary back for the scores table. A run that cannot be graded is an outcome like any
other: the loop goes on.
"""

from __future__ import annotations

import functools
import json
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from meshcheck.batch.inputs import Target
from meshcheck.batch.launch import CRASHED, Handle, Launcher, error_line
from meshcheck.report.summary import SCHEMA_FILE
from meshcheck.report.text import shorten

POLL = 0.02  # seconds between looks at the running children: small against a run's second or more
REASON_LIMIT = 300
OUTPUTS = ("report.html", "report.json", "junit.xml", "pytest.log")
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 4  # pytest's and the suite's exit codes
# Options the batch sets per cluster, or that would change a student's cluster: refused after "--".
OWN_OPTIONS = ("--kubeconfig", "--context", "--report-json", "--html", "--junitxml", "--junit-xml", "--cluster",
               "--deploy", "--deploy-layers", "--collect-only", "--co")
DEFAULT_RUBRIC = "lab-grader"


@dataclass(frozen=True)
class Job:
    """One cluster's run: who, where its files go, and the suite's command line."""

    target: Target
    folder: Path
    args: list[str]

    @property
    def log(self) -> Path:
        return self.folder / "pytest.log"

    @property
    def report_json(self) -> Path:
        return self.folder / "report.json"


@dataclass
class Outcome:
    """What one cluster's run came to, as the scores table and the index show it."""

    name: str
    status: str                     # ok, failed (both graded), error, timeout (not graded)
    reason: str                     # "" when ok; the first failure; or why it could not be graded
    seconds: float
    folder: Path
    points: float | None = None
    max_points: float | None = None
    layers: dict[str, float] = field(default_factory=dict)  # layer -> points, for the layers that ran
    layer_max: dict[str, float] = field(default_factory=dict)  # layer -> the points it could have won
    code: int | None = None         # the run's exit code (negative: the signal that ended it)

    @property
    def graded(self) -> bool:
        return self.status in ("ok", "failed")

    def has(self, file: str) -> bool:
        return (self.folder / file).is_file()


def own_option(extra: Sequence[str]) -> str | None:
    """The first option after ``--`` that the batch sets itself or that would write to a cluster, or None."""
    for arg in extra:
        if arg.split("=", 1)[0] in OWN_OPTIONS:
            return arg.split("=", 1)[0]
    return None


def option_value(extra: Sequence[str], option: str) -> str | None:
    """The value given to ``option`` after ``--`` (``--profile=FILE`` or ``--profile FILE``), the last one winning."""
    value = None
    for at, arg in enumerate(extra):
        if arg.startswith(f"{option}="):
            value = arg.split("=", 1)[1]
        elif arg == option and at + 1 < len(extra):
            value = extra[at + 1]
    return value


def common_args(suites: Path, extra: Sequence[str]) -> list[str]:
    """The suite's options every cluster shares: its folder, the graders' rubric unless another is named,
    and what came after ``--``."""
    rubric = [] if any(a == "--rubric" or a.startswith("--rubric=") for a in extra) else [f"--rubric={DEFAULT_RUBRIC}"]
    return [str(suites), "-W", "ignore::pytest.PytestAssertRewriteWarning", *rubric, *extra]


def shown_options(common: Sequence[str]) -> list[str]:
    """The suite options a person chose (or the batch chose for them), without the folder and the batch's own."""
    hidden = {"-W", "ignore::pytest.PytestAssertRewriteWarning"}
    return [arg for arg in common[1:] if arg not in hidden]


def job_for(target: Target, out: Path, common: Sequence[str]) -> Job:
    folder = out / target.name
    args = [*common, f"--kubeconfig={target.kubeconfig}"]
    if target.context:
        args.append(f"--context={target.context}")
    args += [f"--report-json={folder / 'report.json'}", f"--html={folder / 'report.html'}", "--self-contained-html",
             f"--junitxml={folder / 'junit.xml'}"]
    return Job(target, folder, args)


def run_all(jobs: Sequence[Job], launcher: Launcher, *, parallel: int, timeout: float,
            on_done: Callable[[Outcome], None]) -> list[Outcome]:
    """Run every job, at most ``parallel`` at once, each killed after ``timeout`` seconds; ``on_done`` hears of
    each as it ends. Whatever ends this loop early (Ctrl-C) ends the runs still going too."""
    pending = deque(jobs)
    running: list[tuple[Job, Handle, float]] = []
    outcomes: list[Outcome] = []

    def finish(outcome: Outcome) -> None:
        outcomes.append(outcome)
        on_done(outcome)

    try:
        while pending or running:
            while pending and len(running) < parallel:
                job = pending.popleft()
                started = time.monotonic()
                try:
                    _clear(job.folder)
                    running.append((job, launcher.start(job.args, job.log), started))
                except OSError as exc:
                    finish(Outcome(job.target.name, "error", f"crashed: could not start its run ({exc})", 0.0,
                                   job.folder))
            still = []
            for job, handle, started in running:
                code = handle.poll()
                elapsed = time.monotonic() - started
                if code is None and elapsed > timeout:
                    handle.kill()
                    finish(judge(job, None, elapsed, timed_out=timeout))
                elif code is None:
                    still.append((job, handle, started))
                else:
                    finish(judge(job, code, elapsed))
            if len(still) == len(running):
                time.sleep(POLL)
            running = still
    finally:
        for _, handle, _ in running:
            handle.kill()
    return outcomes


def _clear(folder: Path) -> None:
    """The cluster's folder, without the files of an earlier batch: a stale report must not pass for this one."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        (folder / name).unlink(missing_ok=True)


def judge(job: Job, code: int | None, seconds: float, timed_out: float | None = None) -> Outcome:
    """What a finished (or killed) run came to, from its exit code, its JSON summary and its log.

    A run that could not grade leaves no report behind, only its log: pytest-html and JUnit write their
    files even for a run that refused its kubeconfig, and an empty report must not pass for a grade.
    """
    outcome = _judged(job, code, seconds, timed_out)
    if not outcome.graded:
        for name in OUTPUTS[:3]:
            (job.folder / name).unlink(missing_ok=True)
    return outcome


def interrupted(job: Job) -> Outcome:
    """A cluster whose run the batch's interruption ended (or never started): not graded, no report."""
    for name in OUTPUTS[:3]:
        (job.folder / name).unlink(missing_ok=True)
    return Outcome(job.target.name, "error", "interrupted before it was graded", 0.0, job.folder)


def _judged(job: Job, code: int | None, seconds: float, timed_out: float | None) -> Outcome:
    outcome = Outcome(job.target.name, "error", "", round(seconds, 1), job.folder, code=code)
    if timed_out is not None:
        outcome.status, outcome.reason = "timeout", f"timed out after {timed_out:g} s"
        return outcome
    if code == EXIT_USAGE:
        outcome.reason = _log_error(job.log) or "the suite refused its input (exit code 4)"
        return outcome
    summary = _summary(job.report_json) if code in (EXIT_OK, EXIT_FAILED) else None
    if summary is None:
        outcome.reason = f"crashed: {_crash(job, code)}"
        return outcome
    score = summary["score"]
    outcome.points, outcome.max_points = float(score["points"]), float(score["max_points"])
    ran = [row for row in score["layers"] if row["state"] != "not run"]
    outcome.layers = {row["layer"]: float(row["points"]) for row in ran}
    outcome.layer_max = {row["layer"]: float(row["max_points"]) for row in ran}
    if code == EXIT_OK:
        outcome.status = "ok"
    else:
        outcome.status = "failed"
        first = next((row for row in score["layers"] if row["state"] == "failed"), None)
        first = first or next((row for row in score["layers"] if row["cause"]), None)
        outcome.reason = shorten(f"{first['layer']}: {first['cause']}", REASON_LIMIT) if first else "some checks failed"
    return outcome


def _summary(path: Path) -> dict[str, Any] | None:
    """The run's JSON summary when it follows its published schema (so it can be scored from), else None."""
    try:
        summary = json.loads(path.read_text())
        jsonschema.validate(summary, _schema())
    except (OSError, ValueError, jsonschema.ValidationError):
        return None
    return summary


@functools.cache
def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text())


def _crash(job: Job, code: int | None) -> str:
    """Why a run that neither graded nor refused its input ended: a signal, pytest's own error, no report."""
    if code is not None and code < 0:
        import signal

        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    said = _log_error(job.log)
    if code in (EXIT_OK, EXIT_FAILED):
        return f"exit code {code} but no readable report.json" + (f" ({said})" if said else "")
    if code == CRASHED:
        return said or "the run could not start (see its log)"
    return said or f"exit code {code}"


def _log_error(log: Path) -> str:
    try:
        with log.open("rb") as file:
            file.seek(0, 2)
            file.seek(max(0, file.tell() - 65536))
            text = file.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return shorten(error_line(text), REASON_LIMIT)
