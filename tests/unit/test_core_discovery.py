"""Finding add-on Services by name or label, and the in-cluster path of connecting."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshcheck.errors import ClusterError
from meshcheck.kube import Cluster
from meshcheck.suite import find_service


def service(name: str, namespace: str, **labels: str) -> dict:
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels}, "spec": {"ports": []}}


SERVICES = [
    service("prometheus", "monitoring", app="prometheus"),
    service("prometheus", "istio-system", app="prometheus"),
    service("kube-prometheus-stack-grafana", "monitoring", **{"app.kubernetes.io/name": "grafana"}),
    service("jaeger-collector", "observability", app="jaeger"),
]


def test_a_name_in_the_preferred_namespace_wins() -> None:
    found = find_service(SERVICES, ["prometheus"], ["prometheus"], "istio-system")
    assert found is not None and found["metadata"]["namespace"] == "istio-system"


def test_a_helm_release_is_found_by_its_app_label() -> None:
    found = find_service(SERVICES, ["grafana"], ["grafana"], "istio-system")
    assert found is not None and found["metadata"]["name"] == "kube-prometheus-stack-grafana"


def test_tracing_is_found_through_its_label_alias() -> None:
    found = find_service(SERVICES, ["tracing", "zipkin"], ["tracing", "zipkin", "jaeger"], "istio-system")
    assert found is not None and found["metadata"]["name"] == "jaeger-collector"


def test_nothing_matching_is_none() -> None:
    assert find_service(SERVICES, ["kiali"], ["kiali"], "istio-system") is None


def test_in_cluster_config_is_used_without_a_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a pod: no kubeconfig, the service account's token and CA, the API at KUBERNETES_SERVICE_HOST."""
    from kubernetes.config import incluster_config

    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text("in-cluster-token-not-to-be-printed")
    ca.write_text("not a real certificate")
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(ca))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "1")
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))          # no ~/.kube/config
    with pytest.raises(ClusterError) as raised:
        Cluster.connect(None, None, timeout=1)
    message = str(raised.value)
    assert "https://127.0.0.1:1 did not answer GET /version" in message
    assert "in-cluster-token-not-to-be-printed" not in message
