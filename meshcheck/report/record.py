"""One check's record: its outcome in the suite's words, not pytest's.

pytest knows passed, failed and skipped; a grader and a CI log need a fourth, blocked: the check was
not tried because a layer (or a storefront step) it rests on failed in this run. A blocked check scores
zero like a failed one, but its cause is another check's failure, which is what a student must fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from meshcheck.results import CheckResult

Outcome = Literal["passed", "failed", "blocked", "skipped"]
OUTCOMES: tuple[Outcome, ...] = ("passed", "failed", "blocked", "skipped")
BLOCKED_PREFIX = "blocked by "
RECORD_ATTR = "meshcheck_record"  # set on the pytest report a record was made from, for the HTML rows


@dataclass
class CheckRecord:
    id: str                      # pytest's node id: suites/test_60_kiali.py::test_kiali_is_healthy
    layer: str
    check: str                   # the test function's name, which rubrics weigh
    outcome: Outcome
    message: str                 # what was seen (a pass's evidence too), or why it failed, was blocked or skipped
    remediation: str = ""
    blocked_by: str | None = None  # the layer or step whose failure blocked it
    duration: float = 0.0
    result: CheckResult | None = None
    diagnostics: str = ""        # Events, a describe-like summary, logs: failures only, redacted
    phase: str = "call"          # where it ended: "setup" for a check whose fixtures failed

    @property
    def cause(self) -> str:
        """The text a summary shows for this record: never blank."""
        if self.outcome == "blocked":
            return f"{BLOCKED_PREFIX}{self.blocked_by}: {self.message}" if self.blocked_by else self.message
        return self.message if not self.remediation else f"{self.message}: {self.remediation}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "layer": self.layer,
            "check": self.check,
            "outcome": self.outcome,
            "message": self.message,
            "remediation": self.remediation,
            "blocked_by": self.blocked_by,
            "duration_s": round(self.duration, 3),
            "phase": self.phase,
            "diagnostics": self.diagnostics,
        }


def parse_blocked(reason: str) -> tuple[str, str] | None:
    """("istio", "istiod …") from "blocked by istio: istiod …", the form every blocking skip takes."""
    if not reason.startswith(BLOCKED_PREFIX):
        return None
    blocker, _, cause = reason[len(BLOCKED_PREFIX):].partition(": ")
    return blocker, cause
