"""When the load layer reads: reads started together ahead of their checks, and looks repeated until
their answer settles.

The layer's reads (the generator's log, Prometheus's rate, Grafana's answer) do not depend on each
other, so they start at once in threads when the layer begins; each check then takes its read's answer.
A check that waits and looks again reads afresh; one that only needs what was last read (the error rate,
from the same table as the traffic check) takes that, so a healthy run reads the log once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

from meshcheck.results import CheckResult

T = TypeVar("T")


class Ahead(Generic[T]):
    """One read started now in ``pool``; ``fresh()`` reads again (the first call takes the started read),
    ``latest()`` gives the last answer without reading. A read's error is raised where its answer is taken."""

    def __init__(self, pool: ThreadPoolExecutor, read: Callable[[], T]) -> None:
        self._read = read
        self._last: Future[T] = pool.submit(read)
        self._taken = False

    def fresh(self) -> T:
        if self._taken:
            done: Future[T] = Future()
            try:
                done.set_result(self._read())
            except BaseException as exc:
                done.set_exception(exc)
            self._last = done
        self._taken = True
        return self._last.result()

    def latest(self) -> T:
        self._taken = True
        return self._last.result()


def until_settled(look: Callable[[], CheckResult], poll: float = 5.0) -> CheckResult:
    """Look again every ``poll`` seconds while the answer fails and says waiting may change it; the look
    itself says when to stop (it turns ``settled`` when its own deadline passes)."""
    result = look()
    while not result.passed and not result.settled:
        time.sleep(poll)
        result = look()
    return result
