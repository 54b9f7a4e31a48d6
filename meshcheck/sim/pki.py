"""The simulated cluster's own certificate authority, made fresh each time a cluster starts.

A real API server speaks HTTPS with a certificate its cluster's CA signed, and clients trust that
CA through the kubeconfig's ``certificate-authority-data``; client-go (so kubectl) will not even
send a bearer token over plain HTTP. The simulator does the same, so a kubeconfig it writes works
with kubectl as a kind or kubeadm one does. Nothing here is written to the repository: the keys
live in memory (and in the kubeconfig the cluster writes to its own work directory).

``trustme`` (built on ``cryptography``) makes the certificates: a maintained library for exactly
this job, so the project carries no X.509 code of its own.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any

import trustme

# What the API server's certificate is valid for: the kubeconfig names 127.0.0.1; localhost is a
# convenience for people typing the address by hand.
SERVER_NAMES = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class ClientCredentials:
    """A client certificate and its key, both PEM, as a kubeconfig carries them."""

    certificate: bytes
    key: bytes


class ClusterAuthority:
    """One cluster's CA: it signs the API server's certificate and its users' client certificates."""

    def __init__(self) -> None:
        self._ca = trustme.CA(organization_name="meshcheck-sim", organization_unit_name="simulated cluster CA")
        self._server = self._ca.issue_cert(*SERVER_NAMES, common_name="kube-apiserver")

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate clients must trust (the kubeconfig's certificate-authority-data)."""
        return self._ca.cert_pem.bytes()

    def server_context(self) -> ssl.SSLContext:
        """TLS for the API server: its own certificate, and client certificates asked for but optional.

        kube-apiserver verifies a client certificate when one is offered (against its client CA, here
        the same CA) and otherwise lets the request on to the token authenticators; CERT_OPTIONAL is
        that behaviour.
        """
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server.configure_cert(context)
        self._ca.configure_trust(context)
        context.verify_mode = ssl.CERT_OPTIONAL
        return context

    def issue_client(self, user: str, group: str | None = None) -> ClientCredentials:
        """A client certificate as kubeadm and kind write for their admin: the user is the CN, the group
        the O (kube-apiserver's x509 authenticator reads them so)."""
        leaf = self._ca.issue_cert(
            common_name=user,
            organization_name=group,
            organization_unit_name="meshcheck-sim user",
        )
        return ClientCredentials(b"".join(p.bytes() for p in leaf.cert_chain_pems), leaf.private_key_pem.bytes())


def peer_user(certificate: dict[str, Any] | None) -> str | None:
    """The user a verified peer certificate names (its subject's common name), as ``ssl`` reports it."""
    for rdn in (certificate or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None
