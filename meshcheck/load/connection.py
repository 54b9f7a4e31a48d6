"""How Locust reaches the storefront: the same way the suite reached it, written down for another process.

The suite's ``Endpoint`` for the shop is either the gateway's EXTERNAL-IP (a plain session) or the API
server's service proxy, whose session carries the kubeconfig's credentials: a bearer token added per
request, a client certificate, the cluster's CA. Locust cannot be handed a session, so this module
renders one request's worth of it into a small JSON document (``headers``, ``verify``, ``cert``,
``trust_env``) that ``meshcheck.load.shopper`` applies to Locust's own session. It may hold the
kubeconfig's token, so ``meshcheck.load.run`` writes it readable by its owner only, in the run's
temporary directory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from meshcheck.endpoints import Endpoint

# Headers of the endpoint's session worth passing on: credentials. Cookies belong to one shopper each.
PASSED_HEADERS = frozenset({"authorization"})


def connection_of(endpoint: Endpoint, checkout: Mapping[str, Any]) -> dict[str, Any]:
    """What Locust needs to send the requests this endpoint's session would send."""
    session = endpoint.session
    prepared = session.prepare_request(requests.Request("GET", endpoint.url("/")))
    headers = {k: v for k, v in prepared.headers.items() if k.lower() in PASSED_HEADERS}
    document: dict[str, Any] = {
        "base_url": endpoint.base_url,
        "headers": headers,
        "verify": endpoint.verify,
        "trust_env": session.trust_env,
        "checkout": dict(checkout),
    }
    if session.cert:
        document["cert"] = list(session.cert) if isinstance(session.cert, tuple) else [session.cert]
    return document
