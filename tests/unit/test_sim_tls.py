"""The simulated API server over HTTPS: its own CA, bearer tokens and client certificates, handshakes that
cannot stall it, keep-alive, and a kubeconfig that says all of it."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import time
from pathlib import Path

import pytest
import requests
import trustme
import yaml

from meshcheck import kube
from meshcheck.sim.server import SimCluster
from tests.unit.simhttp import start_sim


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> SimCluster:
    return start_sim("healthy", tmp_path_factory.mktemp("tls"), request)


@pytest.fixture(scope="module")
def cert_sim(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> SimCluster:
    return start_sim("healthy-client-cert", tmp_path_factory.mktemp("client-cert"), request)


def kubeconfig_of(sim: SimCluster) -> dict:
    assert sim.kubeconfig is not None
    return yaml.safe_load(sim.kubeconfig.read_text())


def ca_file(sim: SimCluster, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    path.write_bytes(base64.b64decode(kubeconfig_of(sim)["clusters"][0]["cluster"]["certificate-authority-data"]))
    return str(path)


def client_cert_files(sim: SimCluster, tmp_path: Path) -> tuple[str, str]:
    user = kubeconfig_of(sim)["users"][0]["user"]
    cert, key = tmp_path / "client.pem", tmp_path / "client-key.pem"
    cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
    key.write_bytes(base64.b64decode(user["client-key-data"]))
    return str(cert), str(key)


def test_the_kubeconfig_names_an_https_server_and_its_ca(sim: SimCluster):
    cluster = kubeconfig_of(sim)["clusters"][0]["cluster"]
    assert sim.url.startswith("https://127.0.0.1:") and cluster["server"] == sim.url
    assert base64.b64decode(cluster["certificate-authority-data"]).startswith(b"-----BEGIN CERTIFICATE-----")
    assert kubeconfig_of(sim)["users"][0]["user"] == {"token": sim.token}


def test_the_server_certificate_is_verified_against_the_ca_only(sim: SimCluster, tmp_path: Path):
    assert requests.get(sim.url + "/version", verify=ca_file(sim, tmp_path), timeout=5).status_code == 401
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(sim.url + "/version", timeout=5)  # the system's CAs do not know it
    port = sim.url.rsplit(":", 1)[1]
    assert requests.get(f"https://localhost:{port}/version", verify=ca_file(sim, tmp_path), timeout=5).status_code


def test_no_credentials_is_401_unauthorized_status(sim: SimCluster, tmp_path: Path):
    response = requests.get(sim.url + "/api/v1/pods", verify=ca_file(sim, tmp_path), timeout=5)
    body = response.json()
    assert response.status_code == 401
    assert body["kind"] == "Status" and body["reason"] == "Unauthorized" and body["code"] == 401


def test_the_bearer_token_authenticates(sim: SimCluster, tmp_path: Path):
    headers = {"Authorization": f"Bearer {sim.token}"}
    response = requests.get(sim.url + "/api/v1/nodes", headers=headers, verify=ca_file(sim, tmp_path), timeout=5)
    assert response.status_code == 200 and response.json()["kind"] == "NodeList"


def test_the_client_certificate_authenticates_its_cn(cert_sim: SimCluster, tmp_path: Path):
    user = kubeconfig_of(cert_sim)["users"][0]
    assert user["name"] == "kubernetes-admin" and "token" not in user["user"]
    verify, cert = ca_file(cert_sim, tmp_path), client_cert_files(cert_sim, tmp_path)
    assert requests.get(cert_sim.url + "/api/v1/nodes", verify=verify, cert=cert, timeout=5).status_code == 200
    assert cert_sim.api_requests()[-1].user == "kubernetes-admin"
    write = requests.delete(cert_sim.url + "/api/v1/namespaces/default/pods/x", verify=verify, cert=cert, timeout=5)
    assert write.status_code == 403  # the read-only role, whatever the certificate's group
    assert 'User "kubernetes-admin" cannot delete' in write.json()["message"]


def test_a_certificate_from_another_ca_is_refused_at_the_handshake(cert_sim: SimCluster, tmp_path: Path):
    stranger = trustme.CA().issue_cert(common_name="kubernetes-admin")
    stranger.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "stranger.pem"))
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(cert_sim.url + "/api/v1/nodes", verify=ca_file(cert_sim, tmp_path),
                     cert=str(tmp_path / "stranger.pem"), timeout=5)
    assert requests.get(cert_sim.url + "/version", verify=ca_file(cert_sim, tmp_path), timeout=5).status_code == 401


def test_the_suite_client_uses_the_certificate_for_the_service_proxy_too(cert_sim: SimCluster):
    cluster = kube.Cluster.connect(str(cert_sim.kubeconfig))
    assert cluster.list(kube.NODES)
    kiali = cluster.service_proxy("kiali", "istio-system", "kiali", 20001)
    answer = kiali.session.get(kiali.base_url + "/kiali/api/status", verify=kiali.verify, timeout=5)
    assert answer.status_code == 200 and "Kiali state" in answer.text
    assert cert_sim.api_requests()[-1].user == "kubernetes-admin"


def test_a_client_that_never_handshakes_stalls_nobody(sim: SimCluster, tmp_path: Path):
    host, port = "127.0.0.1", int(sim.url.rsplit(":", 1)[1])
    silent = [socket.create_connection((host, port)) for _ in range(3)]  # connect, then say nothing
    try:
        start = time.perf_counter()
        response = requests.get(sim.url + "/version", verify=ca_file(sim, tmp_path), timeout=5)
        assert response.status_code == 401 and time.perf_counter() - start < 2
    finally:
        for connection in silent:
            connection.close()


def test_plain_http_on_the_https_port_is_refused_and_the_server_goes_on(sim: SimCluster, tmp_path: Path):
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(sim.url.replace("https://", "http://") + "/version", timeout=5)
    assert requests.get(sim.url + "/version", verify=ca_file(sim, tmp_path), timeout=5).status_code == 401


def test_keep_alive_serves_several_requests_on_one_connection(sim: SimCluster, tmp_path: Path):
    context = ssl.create_default_context(cafile=ca_file(sim, tmp_path))
    connection = http.client.HTTPSConnection("127.0.0.1", int(sim.url.rsplit(":", 1)[1]), context=context, timeout=5)
    try:
        sockets = []
        for _ in range(3):
            connection.request("GET", "/api/v1/namespaces", headers={"Authorization": f"Bearer {sim.token}"})
            response = connection.getresponse()
            assert response.status == 200 and json.loads(response.read())["kind"] == "NamespaceList"
            sockets.append(connection.sock)
        assert sockets[0] is not None and all(s is sockets[0] for s in sockets)
    finally:
        connection.close()
