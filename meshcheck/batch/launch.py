"""How one cluster's run starts, is watched and is killed: a fork of a process that has imported the suite
once, or a ``python -m pytest`` of its own.

Starting Python, pytest, its plugins, the Kubernetes client and the suite's modules costs about a second
of CPU per process (see docs/batch.md), more than grading a simulated cluster itself. The fork launcher
pays it once: the parent collects the suite once (``pytest.main --collect-only``, which imports exactly
what a run imports, assertion rewriting included), then forks a child per cluster that calls
``pytest.main`` afresh. Each child is its own process: nothing a run learns (its connection, its stash,
its records) can reach another run, and a run that hangs is killed with everything it started (its own
process group).

Fork is used where it is safe: on Linux, in a process with no other thread running (a thread holding a
lock when the process forks leaves that lock held forever in the child). On macOS the system's
frameworks that ``requests`` asks for proxy settings are not fork-safe (Python's ``multiprocessing``
stopped forking there in 3.8), and Windows has no fork: there the subprocess launcher runs each cluster
in its own ``python -m pytest``, slower and otherwise the same.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from meshcheck.batch.inputs import BatchInputError

CRASHED = 70  # a forked child's exit code when it failed outside pytest (os.EX_SOFTWARE)
PR_SET_PDEATHSIG = 1  # linux/prctl.h: the signal a process gets when its parent dies
USAGE, NO_TESTS = 4, 5  # pytest's ExitCode.USAGE_ERROR (the suite's bad input too), NO_TESTS_COLLECTED


class Handle(Protocol):
    """A running cluster's run."""

    def poll(self) -> int | None:
        """Its exit code once it ended (negative: killed by that signal), else None."""

    def kill(self) -> None:
        """End it and whatever it started, and wait for it."""


class Launcher(Protocol):
    name: str

    def prepare(self, collect_args: list[str]) -> None:
        """Check the suite's options once, before any cluster (``BatchInputError`` when they cannot be used)."""

    def start(self, args: list[str], log: Path) -> Handle:
        """Start one run of the suite with ``args``, its output going to ``log``."""


def fork_is_safe() -> str | None:
    """Why this process should not fork runs, or None when it may."""
    if not hasattr(os, "fork"):
        return f"{sys.platform} has no fork"
    if sys.platform == "darwin":
        return "on macOS a forked process may crash in the system's proxy lookup (as Python's multiprocessing knows)"
    if threading.active_count() > 1:
        return "other threads run in this process"
    return None


def choose(name: str) -> tuple[Launcher, str]:
    """The launcher for ``--runner`` (auto, fork or subprocess), and a note when auto could not fork."""
    if name == "subprocess":
        return SubprocessLauncher(), ""
    unsafe = fork_is_safe()
    if name == "fork" and not hasattr(os, "fork"):
        raise BatchInputError(f"--runner=fork: {unsafe}")
    if name == "fork" or unsafe is None:
        return ForkLauncher(), ""
    return SubprocessLauncher(), f"{unsafe}: each cluster runs in its own python -m pytest (slower)"


# --- fork ------------------------------------------------------------------------------------------


class ForkLauncher:
    """Imports once (``prepare``), then one forked child per cluster calling ``pytest.main``."""

    name = "fork"

    def prepare(self, collect_args: list[str]) -> None:
        """Collect the suite in this process: its imports are then shared by every child, and options a
        run would refuse are refused once, here."""
        import pytest

        with tempfile.TemporaryFile(mode="w+b") as captured:
            with _output_to(captured.fileno()):
                code = int(pytest.main(collect_args))
            captured.seek(0)
            output = captured.read().decode("utf-8", "replace")
        _refuse(code, output)

    def start(self, args: list[str], log: Path) -> Handle:
        sys.stdout.flush()
        sys.stderr.flush()
        # What the parent imported is never garbage: out of the collector's sight, a child's collections
        # (pytest forces some at its end) walk only its own objects, not the 900 modules' (0.3 s a run).
        gc.freeze()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            _child(args, log)
        with contextlib.suppress(OSError):  # the child does the same; whichever comes first
            os.setpgid(pid, pid)
        return ForkHandle(pid)


def _end_with_parent() -> None:
    """Linux: a run gets SIGTERM when the batch dies, even by SIGKILL, which leaves it no chance to end its runs."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() == 1:  # the batch died before prctl took hold
            os._exit(CRASHED)


def _child(args: list[str], log: Path) -> None:
    """One run in the forked child: its own process group, its output in its log, its exit code its own."""
    code = CRASHED
    try:
        os.setpgid(0, 0)
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # the parent ends its children itself (Ctrl-C, timeout)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _end_with_parent()
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        nothing = os.open(os.devnull, os.O_RDONLY)
        os.dup2(nothing, 0)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        os.close(nothing)
        import pytest

        code = int(pytest.main(args))
    except BaseException:  # whatever escapes, the child must not go on as a copy of the parent
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


class ForkHandle:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.code: int | None = None

    def poll(self) -> int | None:
        if self.code is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.code = os.waitstatus_to_exitcode(status)
        return self.code

    def kill(self) -> None:
        if self.code is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        _, status = os.waitpid(self.pid, 0)
        self.code = os.waitstatus_to_exitcode(status)


# --- subprocess ------------------------------------------------------------------------------------


class SubprocessLauncher:
    """One ``python -m pytest`` per cluster: works everywhere, pays the imports every time."""

    name = "subprocess"

    def prepare(self, collect_args: list[str]) -> None:
        done = subprocess.run([sys.executable, "-m", "pytest", *collect_args], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, errors="replace")
        _refuse(done.returncode, done.stdout + done.stderr)

    def start(self, args: list[str], log: Path) -> Handle:
        with log.open("wb") as out:
            process = subprocess.Popen([sys.executable, "-m", "pytest", *args], stdin=subprocess.DEVNULL,
                                       stdout=out, stderr=subprocess.STDOUT, start_new_session=os.name == "posix")
        return PopenHandle(process)


class PopenHandle:
    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    def poll(self) -> int | None:
        return self.process.poll()

    def kill(self) -> None:
        if self.process.poll() is not None:
            return
        if os.name == "posix":
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
        else:
            self.process.kill()
        self.process.wait()


# --- shared ----------------------------------------------------------------------------------------


def _refuse(code: int, output: str) -> None:
    """The options after ``--`` are bad input for the whole batch when collecting the suite refuses them."""
    if code == 0:
        return
    if code == NO_TESTS:
        raise BatchInputError("the options after -- select none of the suite's checks")
    said = error_line(output) or f"exit code {code}"
    if code == USAGE:
        raise BatchInputError(f"the suite refused the options after --: {said}")
    raise BatchInputError(f"collecting the suite failed (exit code {code}): {said}")


def error_line(output: str) -> str:
    """The line that says what went wrong in a run's output: pytest's and the suite's ``ERROR: …`` line (the
    first, which is the suite's one line for bad input, or pytest's usage message), else the last internal
    error or traceback line."""
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("ERROR: usage:"):  # argparse's: the usage, then "<prog>: error: <what>"
            what = next((x.split(": error: ", 1)[1] for x in lines if ": error: " in x), "")
            return f"pytest: {what}" if what else line.removeprefix("ERROR: ").strip()
        if line.startswith("ERROR: "):
            return line.removeprefix("ERROR: ").strip()
    internal = [line.removeprefix("INTERNALERROR>").strip() for line in lines if line.startswith("INTERNALERROR>")]
    internal = [line for line in internal if line]
    if internal:
        return internal[-1]
    plain = [line for line in lines if not line.startswith("=") and not set(line) <= set("-_ ")]
    return plain[-1].strip() if plain else ""


@contextlib.contextmanager
def _output_to(fd: int) -> Iterator[None]:
    """This process's stdout and stderr (the file descriptors, so C code and pytest's capture agree) go to
    ``fd`` for a while."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
