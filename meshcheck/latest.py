"""The latest reading of an add-on's document, shared by a module's tests.

Fetched once and shared, so that a healthy run reads each document once; read again only by a
check that is waiting for it to change, so that waiting sees fresh data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Latest:
    """The latest reading of a document: fetched once per module, again only while a check waits."""

    def __init__(self, fetch: Callable[[], Any]) -> None:
        self._fetch = fetch
        self._value: Any = None
        self._fetched = False

    @property
    def value(self) -> Any:
        return self._value if self._fetched else self.refresh()

    def refresh(self) -> Any:
        self._value = self._fetch()
        self._fetched = True
        return self._value

    def reader(self) -> Callable[[], Any]:
        """A reader for one wait: the shared reading first, a fresh one on every later call."""
        first = [True]

        def read() -> Any:
            if first[0] and self._fetched:
                first[0] = False
                return self._value
            first[0] = False
            return self.refresh()

        return read
