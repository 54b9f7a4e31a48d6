"""The rubric's arithmetic: points per check, per layer, per goal, and the total.

Within a layer its points are shared by the checks that count, each by its weight: passed, failed and
blocked checks count (a failure or a block scores zero); skipped ones do not (a policy the profile
does not require, our own load not asked for), so nothing is passed vacuously and nothing is lost for
what was not asked. A layer none of whose checks ran is "not run": it has no maximum, so a run of
one layer (``pytest -m kiali``) is scored out of that layer's points.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from meshcheck import layers
from meshcheck.report.record import CheckRecord
from meshcheck.rubric import Rubric

COUNTED = ("passed", "failed", "blocked")


@dataclass(frozen=True)
class CheckScore:
    points: float
    max: float


@dataclass(frozen=True)
class LayerScore:
    layer: str
    title: str
    goal: str                 # "(4) Kiali", or "" when the rubric gives the layer no points
    points: float
    max: float
    passed: int
    failed: int
    blocked: int
    skipped: int
    cause: str                # the first failure, else the first block; "" only when nothing failed or was blocked

    @property
    def ran(self) -> bool:
        return self.passed + self.failed + self.blocked + self.skipped > 0

    @property
    def state(self) -> str:
        if not self.ran:
            return "not run"
        if self.failed:
            return "failed"
        if self.blocked:
            return "blocked"
        return "passed" if self.passed else "skipped"


@dataclass(frozen=True)
class Score:
    rubric: str
    layers: tuple[LayerScore, ...]
    checks: dict[str, CheckScore]  # record id -> its points

    @property
    def points(self) -> float:
        return round(sum(s.points for s in self.layers), 2)

    @property
    def max(self) -> float:
        return round(sum(s.max for s in self.layers), 2)


def score(records: Iterable[CheckRecord], rubric: Rubric) -> Score:
    records = list(records)
    checks: dict[str, CheckScore] = {}
    rows = []
    for layer in layers.LAYERS:
        mine = [r for r in records if r.layer == layer.name]
        counted = {r.id for r in mine if r.outcome in COUNTED}
        available = rubric.points.get(layer.name, 0.0) if counted else 0.0
        total_weight = sum(rubric.weight(r.check) for r in mine if r.id in counted)
        earned = 0.0
        for record in mine:
            share = available * rubric.weight(record.check) / total_weight if record.id in counted else 0.0
            won = share if record.outcome == "passed" else 0.0
            earned += won
            checks[record.id] = CheckScore(round(won, 2), round(share, 2))
        goal = rubric.goal_of(layer.name)
        first = next((r for r in mine if r.outcome == "failed"), None) or next(
            (r for r in mine if r.outcome == "blocked"), None)
        rows.append(LayerScore(
            layer=layer.name,
            title=layer.title,
            goal=f"({goal.id}) {goal.title}" if goal else "",
            points=round(earned, 2),
            max=round(available, 2),
            passed=sum(r.outcome == "passed" for r in mine),
            failed=sum(r.outcome == "failed" for r in mine),
            blocked=sum(r.outcome == "blocked" for r in mine),
            skipped=sum(r.outcome == "skipped" for r in mine),
            cause=first.cause if first else "",
        ))
    return Score(rubric.name, tuple(rows), checks)
