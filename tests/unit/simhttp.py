"""A requests adapter that answers from a simulator handler, so add-on clients meet the simulator's
real formats without a socket; with a prefix it stands where the API server's service proxy would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests.structures import CaseInsensitiveDict

from meshcheck.sim.protocol import SimRequest, SimResponse


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
