"""What the simulated cluster's HTTP handlers receive and return.

Add-on and storefront handlers are plain functions ``handle(world, request) -> SimResponse`` so
they can be unit-tested without a socket; ``meshcheck.sim.server`` puts them behind the API
server's service-proxy path and the storefront's address.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SimRequest:
    method: str
    path: str                                   # path inside the service, starting with "/"
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)   # lower-case names
    body: bytes = b""
    # Who the API server authenticated: the transport sets it from a verified TLS client certificate
    # (its CN), the API server's authenticator from a valid bearer token; None until then.
    user: str | None = None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class SimResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: Any, status: int = 200) -> SimResponse:
        return cls(status, json.dumps(payload).encode(), {"Content-Type": "application/json"})

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8"
             ) -> SimResponse:
        return cls(status, text.encode(), {"Content-Type": content_type})
