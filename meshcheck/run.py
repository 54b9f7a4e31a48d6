"""What one run of the suite learns as it goes, kept in pytest's stash: shared by the plugin's gating,
the fixtures and the reports, so none of them has to import another to read it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pytest

from meshcheck.deploy.plan import Deployment
from meshcheck.diagnostics import Diagnoser
from meshcheck.report.record import BLOCKED_PREFIX, CheckRecord
from meshcheck.report.score import Score
from meshcheck.report.summary import About
from meshcheck.results import CheckResult
from meshcheck.rubric import Rubric, load_rubric
from meshcheck.suite import Suite


@dataclass
class RunState:
    """What the plugin learns during a run: broken layers (for gating) and results (for reports)."""

    suite: Suite | None = None
    rubric: Rubric = field(default_factory=load_rubric)
    broken: dict[str, str] = field(default_factory=dict)  # layer -> first blocking failure
    records: dict[str, CheckRecord] = field(default_factory=dict)  # node id -> its record, in run order
    results: list[tuple[str, CheckResult]] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    stop: list[Callable[[], None]] = field(default_factory=list)
    deployed: Deployment | None = None  # what the deploy step applied, when it ran
    sections: list[tuple[str, list[str]]] = field(default_factory=list)  # more terminal sections: (title, lines)
    figures: list[tuple[str, str]] = field(default_factory=list)  # (title, inline SVG or HTML) for the HTML report
    diagnoser: Diagnoser | None = None  # failures' Events, summaries and logs, sharing reads across the run
    finished: tuple[About, Score] | None = None  # what the reports show, computed once at the session's end


    def blocker(self, names: Iterable[str]) -> str | None:
        """The first of these layers whose failure blocks what rests on it, or None."""
        return next((name for name in names if name in self.broken), None)

    def skip_if_blocked(self, names: Iterable[str]) -> None:
        """Skip the running check as blocked by the first of these layers that is broken: in the one form
        (``blocked by LAYER: ITS FAILURE``) the records and reports read (``report.record.parse_blocked``)."""
        blocker = self.blocker(names)
        if blocker is not None:
            pytest.skip(f"{BLOCKED_PREFIX}{blocker}: {self.broken[blocker]}")


STATE = pytest.StashKey[RunState]()
