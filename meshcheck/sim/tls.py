"""HTTPS for the simulated API server: the TLS handshake per connection, in the connection's own thread.

The listening socket is wrapped with ``do_handshake_on_connect=False``, so accepting a connection
costs nothing and the accept loop never waits on a client; the handshake runs in the worker thread
``ThreadingHTTPServer`` starts for each connection, bounded by a timeout, so one slow or silent
client stalls only itself. Connections stay open between requests (HTTP/1.1 keep-alive) as before.
"""

from __future__ import annotations

import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from meshcheck.sim.pki import peer_user

HANDSHAKE_TIMEOUT = 10.0  # seconds a client may take to finish its TLS handshake


class HTTPSServer(ThreadingHTTPServer):
    """A threading HTTP server whose connections are TLS; handlers should derive from ``TLSRequestHandler``."""

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], context: ssl.SSLContext
    ) -> None:
        super().__init__(address, handler)
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that fails or drops its handshake (wrong CA, plain HTTP, a client certificate the CA
        did not sign) is the client's problem, as kube-apiserver only logs it: no traceback here."""
        if isinstance(sys.exc_info()[1], OSError):  # ssl.SSLError, resets and timeouts are all OSErrors
            return
        super().handle_error(request, client_address)


class TLSRequestHandler(BaseHTTPRequestHandler):
    """Finishes the handshake before reading requests, and knows who the verified client certificate names."""

    disable_nagle_algorithm = True  # headers and body go out as separate TLS records; do not delay the second
    peer_user: str | None = None

    def setup(self) -> None:
        connection = self.request
        if isinstance(connection, ssl.SSLSocket):
            connection.settimeout(HANDSHAKE_TIMEOUT)
            connection.do_handshake()
            connection.settimeout(None)
            self.peer_user = peer_user(connection.getpeercert())
        super().setup()
