"""Reading ahead: an answer sent ahead serves the one identical request that follows, and no other."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from meshcheck.endpoints import Endpoint, reading_ahead
from meshcheck.errors import AddonError
from tests.fileserver import FileServer


@pytest.fixture
def server() -> Iterator[FileServer]:
    files = FileServer({"/api/health": b'{"database": "ok"}', "/api/search?type=dash-db": b"[]"})
    yield files
    files.stop()


def _ahead(endpoint: Endpoint, path: str, params: dict[str, str] | None = None) -> None:
    with reading_ahead():
        endpoint.get_json(path, params)


def test_an_answer_read_ahead_serves_the_next_identical_request_once(server: FileServer) -> None:
    endpoint = Endpoint("grafana", server.url, "direct URL")
    _ahead(endpoint, "/api/health")
    assert server.served == ["/api/health"]
    assert endpoint.get_json("/api/health") == {"database": "ok"}
    assert server.served == ["/api/health"], "the kept answer, not a second request"
    endpoint.get_json("/api/health")
    assert server.served == ["/api/health"] * 2, "a later look (a wait) is fresh"


def test_a_different_query_is_a_different_request(server: FileServer) -> None:
    endpoint = Endpoint("grafana", server.url, "direct URL")
    _ahead(endpoint, "/api/search", {"type": "dash-db"})
    with pytest.raises(AddonError):
        endpoint.get_json("/api/search", {"type": "dash-folder"})  # 404 here: sent, not taken from the kept one
    assert endpoint.get_json("/api/search", {"type": "dash-db"}) == []
    assert server.served == ["/api/search?type=dash-db", "/api/search?type=dash-folder"]


def test_two_readers_ahead_of_the_same_request_share_one_answer_and_each_serve_one_request(server: FileServer) -> None:
    endpoint = Endpoint("grafana", server.url, "direct URL")
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda _: _ahead(endpoint, "/api/health"), range(2)))
    assert endpoint.get_json("/api/health") == endpoint.get_json("/api/health")
    assert server.served == ["/api/health"]
    endpoint.get_json("/api/health")
    assert server.served == ["/api/health"] * 2


def test_an_error_met_ahead_is_met_again_by_the_check(server: FileServer) -> None:
    endpoint = Endpoint("kiali", server.url, "direct URL")
    with pytest.raises(AddonError), reading_ahead():
        endpoint.get_json("/missing")
    with pytest.raises(AddonError, match="answered 404 to GET /missing"):
        endpoint.get_json("/missing")
    assert server.served == ["/missing"]
