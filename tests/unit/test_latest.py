"""Latest: a reading shared by a module's checks, read again only while one waits; a reading started with
others at once is taken by the first look, its error met there."""

from __future__ import annotations

from concurrent.futures import Future

import pytest

from meshcheck.errors import AddonError
from meshcheck.latest import Latest


def counter() -> tuple[list[int], Latest]:
    calls: list[int] = []

    def fetch() -> int:
        calls.append(1)
        return len(calls)

    return calls, Latest(fetch)


def test_the_shared_reading_is_fetched_once_and_a_waiting_reader_reads_again():
    calls, latest = counter()
    assert latest.value == 1 and latest.value == 1
    read = latest.reader()
    assert read() == 1 and read() == 2 and len(calls) == 2


def test_a_reading_under_way_is_taken_by_the_first_look():
    started: Future[int] = Future()
    started.set_result(41)
    latest = Latest(lambda: 42, started)
    read = latest.reader()
    assert read() == 41 and read() == 42


def test_the_error_of_a_reading_under_way_is_met_once_then_it_reads_again():
    started: Future[int] = Future()
    started.set_exception(AddonError("kiali did not answer"))
    latest = Latest(lambda: 7, started)
    with pytest.raises(AddonError, match="did not answer"):
        _ = latest.value
    assert latest.value == 7
