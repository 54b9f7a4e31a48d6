"""The result of one check: what the suite, the rubric and the reports all speak.

A check never raises for a failed expectation; it returns a ``CheckResult`` that carries the
message (object, expectation, observation), the remediation a student or engineer can act on,
and diagnostics for reports. ``settled`` tells the waiting logic whether looking again could
change the answer, so that a wait is only spent where it can help.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CheckResult:
    check: str
    passed: bool
    message: str
    remediation: str = ""
    diagnostics: dict[str, Any] = field(default_factory=dict)
    settled: bool = True
    # The objects a result is about, as "Kind/namespace/name" ("Node//kind-worker" for a cluster-scoped
    # one): where reports look for Events, a describe-like summary and container logs on a failure.
    objects: tuple[str, ...] = ()

    def text(self) -> str:
        """The one-line text a person reads: what is wrong, then what to do about it."""
        if self.passed or not self.remediation:
            return self.message
        return f"{self.message}: {self.remediation}"


def ok(check: str, message: str, **diagnostics: Any) -> CheckResult:
    return CheckResult(check, True, message, diagnostics=diagnostics)


def fail(
    check: str,
    message: str,
    remediation: str,
    *,
    settled: bool = True,
    objects: tuple[str, ...] = (),
    **diagnostics: Any,
) -> CheckResult:
    return CheckResult(check, False, message, remediation, diagnostics, settled, objects)


def listing(items: Iterable[str], limit: int = 6) -> str:
    """Name a few items and count the rest, so long lists stay readable in one line."""
    items = list(items)
    shown = ", ".join(items[:limit])
    if len(items) > limit:
        shown += f" and {len(items) - limit} more"
    return shown


def count(n: int, noun: str, plural: str | None = None, verb: tuple[str, str] | None = None) -> str:
    """'1 pod is', not '1 pods are': messages are read by students. ``verb`` is (singular, plural)."""
    text = f"{n} {noun if n == 1 else plural or noun + 's'}"
    return f"{text} {verb[n != 1]}" if verb else text
