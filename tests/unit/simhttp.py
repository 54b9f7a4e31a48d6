"""Helpers for unit tests that meet the simulator: a requests adapter that answers from a handler, so
add-on clients meet the simulator's real formats without a socket (with a prefix it stands where the
API server's service proxy would), worlds with an add-on's knobs, and running simulated clusters."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from meshcheck.endpoints import Endpoint
from meshcheck.sim import scenario
from meshcheck.sim.build import build_world
from meshcheck.sim.protocol import SimRequest, SimResponse
from meshcheck.sim.server import SimCluster
from meshcheck.sim.world import World


class SimAdapter(requests.adapters.BaseAdapter):
    def __init__(self, handler: Callable[[SimRequest], SimResponse], prefix: str = "") -> None:
        super().__init__()
        self.handler, self.prefix = handler, prefix
        self.paths: list[str] = []      # every path asked for, without the prefix

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = urlsplit(request.url or "")
        path = url.path.removeprefix(self.prefix) or "/"
        self.paths.append(path)
        body = request.body.encode() if isinstance(request.body, str) else (request.body or b"")
        answer = self.handler(SimRequest(request.method or "GET", path, parse_qs(url.query, keep_blank_values=True),
                                         {k.lower(): v for k, v in request.headers.items()}, body))
        response = requests.Response()
        response.status_code = answer.status
        response._content = answer.body
        response.headers = CaseInsensitiveDict(answer.headers)
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


def sim_endpoint(name: str, handler: Callable[[SimRequest], SimResponse], prefix: str = "",
                 base: str = "http://sim") -> tuple[Endpoint, SimAdapter]:
    """An endpoint whose session is answered by ``handler``, and the adapter that counts its requests."""
    adapter = SimAdapter(handler, prefix)
    session = requests.Session()
    session.mount(base, adapter)
    return Endpoint(name, base + prefix, "a test adapter", session=session), adapter


def addon_world(addon: str, **knobs: Any) -> World:
    """The healthy world with one add-on's scenario knobs set."""
    return build_world(scenario.merge(scenario.load("healthy"), {"addons": {addon: knobs}}), None, 0)


def start_sim(name: str, workdir: Path, request: pytest.FixtureRequest) -> SimCluster:
    """A running simulated cluster, stopped when the requesting scope ends."""
    sim = SimCluster(name, workdir=workdir).start()
    request.addfinalizer(sim.stop)
    return sim
