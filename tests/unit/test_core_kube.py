"""meshcheck.kube.Cluster against a running simulated cluster: retries, lists once, CRDs, secrets, auth."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
import yaml

from meshcheck import kube
from meshcheck.errors import ClusterError
from meshcheck.sim.server import SimCluster
from tests.unit.simhttp import start_sim


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> SimCluster:
    """One healthy cluster for the module (stopping one takes a second); tests count from a mark."""
    return start_sim("healthy", tmp_path_factory.mktemp("sim"), request)


@pytest.fixture
def cluster(sim: SimCluster) -> kube.Cluster:
    """A fresh client, connected after the log was cleared: the log then holds this test's requests."""
    sim.log.clear()
    return kube.Cluster.connect(str(sim.kubeconfig))


def paths(sim: SimCluster) -> list[str]:
    return [s.path for s in sim.api_requests()]


def test_two_503s_then_recovery(tmp_path: Path, request: pytest.FixtureRequest):
    sim = start_sim("api-flaky", tmp_path, request)
    cluster = kube.Cluster.connect(str(sim.kubeconfig))
    assert paths(sim) == ["/version"] * 3
    assert cluster.log == [("GET", "/version")] * 3
    assert cluster.list(kube.NODES)  # later requests no longer fail
    assert paths(sim)[3:] == ["/api/v1/nodes"]


def test_a_server_that_never_recovers_gives_a_cluster_error(sim: SimCluster, cluster: kube.Cluster):
    cluster.attempts = 2
    sim._failures_left = 100  # the server starts failing every request
    try:
        with pytest.raises(ClusterError) as caught:
            cluster.list(kube.NODES)
    finally:
        sim._failures_left = 0
    assert paths(sim)[-2:] == ["/api/v1/nodes"] * 2
    message = str(caught.value)
    assert "did not answer GET /api/v1/nodes after 2 attempts" in message
    assert "HTTP 503" in message and "check that the cluster is running" in message


def test_each_kind_is_listed_once(sim: SimCluster, cluster: kube.Cluster):
    before = len(sim.api_requests())
    first = cluster.list(kube.PODS)
    for _ in range(5):
        assert cluster.list(kube.PODS) is first
    kinds = [kube.PODS, kube.NODES, kube.DEPLOYMENTS, kube.SERVICES, kube.ISTIO_GATEWAYS, kube.VIRTUAL_SERVICES]
    threads = [threading.Thread(target=cluster.prefetch, args=(kinds,)) for _ in range(4)]
    threads += [threading.Thread(target=cluster.list, args=(kube.VIRTUAL_SERVICES,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    listed = paths(sim)[before:]
    assert sorted(listed) == sorted(
        [
            "/api/v1/pods",
            "/api/v1/nodes",
            "/apis/apps/v1/deployments",
            "/api/v1/services",
            "/apis",
            "/apis/networking.istio.io/v1/gateways",
            "/apis/networking.istio.io/v1/virtualservices",
        ]
    )
    assert cluster.request_count == len(sim.api_requests())


def test_list_items_carry_api_version(cluster: kube.Cluster):
    assert {i["apiVersion"] for i in cluster.list(kube.DEPLOYMENTS)} == {"apps/v1"}
    assert {i["apiVersion"] for i in cluster.list(kube.ISTIO_GATEWAYS)} == {"networking.istio.io/v1"}


def test_refresh_lists_again_only_the_kinds_named(sim: SimCluster, cluster: kube.Cluster):
    cluster.list(kube.PODS)
    cluster.list(kube.NODES)
    cluster.refresh(kube.PODS)
    cluster.list(kube.PODS)
    cluster.list(kube.NODES)
    assert paths(sim).count("/api/v1/pods") == 2
    assert paths(sim).count("/api/v1/nodes") == 1


def test_a_crd_group_the_cluster_does_not_serve_is_empty_without_a_request(sim: SimCluster, cluster: kube.Cluster):
    assert cluster.list(kube.IP_ADDRESS_POOLS)  # served: discovery is read once here
    before = len(sim.api_requests())
    assert cluster.list(kube.GATEWAYS) == []
    assert cluster.list(kube.HTTP_ROUTES) == []
    assert len(sim.api_requests()) == before
    assert not any("gateway.networking.k8s.io" in p for p in paths(sim))
    assert paths(sim).count("/apis") == 1


def test_list_metadata_never_returns_data(sim: SimCluster, cluster: kube.Cluster, request: pytest.FixtureRequest):
    secret = {
        "metadata": {
            "name": "admin-user-token",
            "namespace": "kubernetes-dashboard",
            "annotations": {"kubernetes.io/service-account.name": "admin-user"},
        },
        "type": "kubernetes.io/service-account-token",
        "data": {"token": "dG9wLXNlY3JldA=="},
    }
    opaque = {
        "metadata": {"name": "other", "namespace": "kubernetes-dashboard"},
        "type": "Opaque",
        "data": {"a": "Yg=="},
    }
    sim.api.objects["secrets"] = [secret, opaque]
    request.addfinalizer(lambda: sim.api.objects.pop("secrets"))
    items = cluster.list_metadata(kube.SECRETS, "kubernetes-dashboard", "type=kubernetes.io/service-account-token")
    assert items == [{"metadata": secret["metadata"]}]
    everything = cluster.list_metadata(kube.SECRETS, "kubernetes-dashboard")
    assert [set(i) for i in everything] == [{"metadata"}, {"metadata"}]
    assert "dG9wLXNlY3JldA" not in repr(everything)
    asked = [s for s in sim.api_requests() if s.path.endswith("/secrets")]
    assert asked and all("as=PartialObjectMetadataList" in s.accept for s in asked)
    assert cluster.list_metadata(kube.SECRETS, "no-such-namespace") == []


def test_a_wrong_token_is_refused_without_printing_it(sim: SimCluster, tmp_path: Path):
    path = sim.write_kubeconfig(tmp_path / "wrong" / "kubeconfig")
    config = yaml.safe_load(path.read_text())
    wrong = "sim-wrong-" + "0" * 24
    config["users"][0]["user"]["token"] = wrong
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ClusterError) as caught:
        kube.Cluster.connect(str(path))
    message = str(caught.value)
    assert "401" in message and "/version" in message
    assert "the kubeconfig's credentials were refused" in message
    assert wrong not in message and sim.token not in message


def test_no_message_or_endpoint_shows_the_token(sim: SimCluster, cluster: kube.Cluster):
    messages = []
    for path in ("/api/v1/namespaces/default/pods/nope", "/no/such/path"):
        with pytest.raises(ClusterError) as caught:
            cluster.get(path)
        messages.append(str(caught.value))
    assert "404" in messages[0] and 'pods "nope" not found' in messages[0]
    endpoint = cluster.service_proxy("kiali", "istio-system", "kiali", 20001)
    messages += [endpoint.via, endpoint.base_url, cluster.describe()]
    assert all(sim.token not in m for m in messages)
    assert "/api/v1/namespaces/istio-system/services/kiali:20001/proxy" in endpoint.base_url


def test_kubeconfig_variable_lists_files_merged_like_kubectl(sim: SimCluster, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch):
    """KUBECONFIG=a:b merges both (contexts from one, the current context from another); missing files are
    skipped as kubectl skips them."""
    simulated = yaml.safe_load(sim.kubeconfig.read_text())
    other = tmp_path / "other"
    other.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "meshcheck-sim",
        "clusters": [{"name": "lab", "cluster": {"server": "http://127.0.0.1:1"}}],
        "users": [{"name": "student", "user": {"token": "t"}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "student"}}]}))
    only_entries = tmp_path / "entries"
    only_entries.write_text(yaml.safe_dump({**simulated, "current-context": ""}))
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(other), str(tmp_path / "missing"), str(only_entries)]))
    cluster = kube.Cluster.connect(None)
    assert cluster.name == "meshcheck-sim" and cluster.server == sim.url


def test_a_certificate_from_another_authority_is_not_retried(sim: SimCluster, cluster: kube.Cluster):
    """Asking again cannot make a certificate trusted: one attempt, and the message says what happened."""
    import trustme

    other = trustme.CA()
    path = Path(cluster._api.configuration.ssl_ca_cert)
    trusted = path.read_bytes()
    cluster.log.clear()
    try:
        path.write_bytes(other.cert_pem.bytes())
        fresh = kube.Cluster(kube.k8s_client.ApiClient(cluster._api.configuration), name="stale")
        with pytest.raises(ClusterError) as caught:
            fresh.version()
    finally:
        path.write_bytes(trusted)
    assert fresh.log == [("GET", "/version")]
    assert "certificate authority did not sign" in str(caught.value)


def test_list_readable_reads_nothing_where_the_role_may_not_list(tmp_path: Path, request: pytest.FixtureRequest):
    """Pods only refine whether a Deployment's wait can help: a role without them loses that, not the check."""
    sim = start_sim("reader-without-pods", tmp_path, request)
    cluster = kube.Cluster.connect(str(sim.kubeconfig))
    assert cluster.list_readable(kube.PODS) == []
    with pytest.raises(ClusterError) as caught:
        cluster.list(kube.PODS)  # the checks that need pods still say what to grant
    assert "refused GET /api/v1/pods with 403" in str(caught.value)
    assert cluster.list_readable(kube.NODES) == cluster.list(kube.NODES) != []
