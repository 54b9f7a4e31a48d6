"""Small builders of Istio objects and of the Kubernetes objects they point at, for the unit tests."""

from __future__ import annotations

NS = "online-boutique"


def obj(kind: str, name: str, namespace: str, spec: dict, created: str = "2024-01-01T00:00:00Z") -> dict:
    return {"kind": kind, "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created},
            "spec": spec}


def pa(name: str, namespace: str, mode: str | None = None, selector: dict | None = None, ports: dict | None = None,
       created: str = "2024-01-01T00:00:00Z") -> dict:
    spec: dict = {}
    if mode:
        spec["mtls"] = {"mode": mode}
    if selector:
        spec["selector"] = {"matchLabels": selector}
    if ports:
        spec["portLevelMtls"] = {str(p): {"mode": m} for p, m in ports.items()}
    return obj("PeerAuthentication", name, namespace, spec, created)


def service(name: str, namespace: str = NS, port: int = 50051) -> dict:
    return {"metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"app": name}, "ports": [{"name": "grpc", "port": port, "targetPort": port}]}}


def pod(app: str, sidecar: bool = True, namespace: str = NS, account: str | None = None) -> dict:
    containers = [{"name": "server"}] + ([{"name": "istio-proxy"}] if sidecar else [])
    return {"metadata": {"name": f"{app}-abc", "namespace": namespace, "labels": {"app": app}},
            "spec": {"containers": containers, "serviceAccountName": account or app}}
