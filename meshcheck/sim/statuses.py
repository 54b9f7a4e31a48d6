"""Failures as the Kubernetes API reports them: a ``Status`` object (kind Status, apiVersion v1,
status Failure) with the reason and code of apimachinery's StatusReason (NotFound, Forbidden,
AlreadyExists, Invalid, InternalError...) and, where the API gives them, details naming the object."""

from __future__ import annotations

from typing import Any

from meshcheck.sim.protocol import SimResponse

Obj = dict[str, Any]


def status(code: int, reason: str, message: str, details: Obj | None = None) -> SimResponse:
    body: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return SimResponse.json(body, code)
