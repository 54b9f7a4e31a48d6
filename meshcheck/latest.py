"""The latest reading of an add-on's document, shared by a module's tests.

Fetched once and shared, so that a healthy run reads each document once; read again only by a
check that is waiting for it to change, so that waiting sees fresh data.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


class Latest:
    """The latest reading of a document: fetched once per module, again only while a check waits.

    ``first`` is a reading already under way (started with other independent reads, so that they
    cost one round trip together): the first look takes its result, or meets its error.
    """

    def __init__(self, fetch: Callable[[], Any], first: Future[Any] | None = None) -> None:
        self._fetch = fetch
        self._value: Any = None
        self._fetched = False
        self._first = first

    @property
    def value(self) -> Any:
        if not self._fetched and self._first is not None:
            first, self._first = self._first, None
            self._value, self._fetched = first.result(), True
        return self._value if self._fetched else self.refresh()

    def refresh(self) -> Any:
        self._value = self._fetch()
        self._fetched = True
        return self._value

    def reader(self) -> Callable[[], Any]:
        """A reader for one wait: the shared reading first, a fresh one on every later call."""
        first = [True]

        def read() -> Any:
            if first[0] and (self._fetched or self._first is not None):
                first[0] = False
                return self.value
            first[0] = False
            return self.refresh()

        return read
