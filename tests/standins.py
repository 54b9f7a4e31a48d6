"""Small local stand-ins for the upstream sources that manifests/lock.yaml pins, and a lock that points at them.

No test may download the real releases, so the deploy step is proven end to end with files of the
project's own making, written here in the shape of the real ones (the same names, labels, ports and
kinds that the suite and the simulated cluster's controllers look at, far fewer fields), served from
a local HTTP server and pinned by their own sha256 in a copy of manifests/.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from tests.fileserver import FileServer
from tests.harness import ROOT

Obj = dict[str, Any]
WORKLOADS = {  # Online Boutique v0.10.6: Deployment -> (container, Service port, target port)
    "frontend": ("server", 80, 8080), "cartservice": ("server", 7070, 7070),
    "productcatalogservice": ("server", 3550, 3550), "currencyservice": ("server", 7000, 7000),
    "paymentservice": ("server", 50051, 50051), "shippingservice": ("server", 50051, 50051),
    "emailservice": ("server", 5000, 8080), "checkoutservice": ("server", 5050, 5050),
    "recommendationservice": ("server", 8080, 8080), "adservice": ("server", 9555, 9555),
    "redis-cart": ("redis", 6379, 6379), "loadgenerator": ("main", None, None),
}
GRAFANA_DASHBOARDS = ("Istio Control Plane Dashboard", "Istio Mesh Dashboard", "Istio Performance Dashboard",
                      "Istio Service Dashboard", "Istio Wasm Extension Dashboard", "Istio Workload Dashboard")


def deployment(name: str, ns: str | None, labels: Obj, image: str, container: str, ports: list[int],
               account: str | None = None) -> Obj:
    meta: Obj = {"name": name, "labels": dict(labels)}
    if ns:
        meta["namespace"] = ns
    spec: Obj = {"containers": [{"name": container, "image": image,
                                 "ports": [{"containerPort": p} for p in ports]}]}
    if account:
        spec["serviceAccountName"] = account
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"replicas": 1, "selector": {"matchLabels": dict(labels)},
                     "template": {"metadata": {"labels": dict(labels)}, "spec": spec}}}


def service(name: str, ns: str | None, selector: Obj, ports: list[Obj], kind: str = "ClusterIP",
            labels: Obj | None = None) -> Obj:
    meta: Obj = {"name": name, "labels": dict(labels or selector)}
    if ns:
        meta["namespace"] = ns
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta,
            "spec": {"type": kind, "selector": dict(selector), "ports": ports}}


def crd(group: str, plural: str, kind: str, versions: tuple[str, ...], scope: str = "Namespaced") -> Obj:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": scope,
                     "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List"},
                     "versions": [{"name": v, "served": True, "storage": i == 0,
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "x-kubernetes-preserve-unknown-fields": True}}}
                                  for i, v in enumerate(versions)]}}


def metallb() -> list[Obj]:
    ns = "metallb-system"
    controller = {"app": "metallb", "component": "controller"}
    speaker = {"app": "metallb", "component": "speaker"}
    daemonset = deployment("speaker", ns, speaker, "quay.io/metallb/speaker:v0.14.9", "speaker", [7472])
    daemonset["kind"] = "DaemonSet"
    del daemonset["spec"]["replicas"]
    hooks = [{"name": f"{kind}validationwebhook.metallb.io", "admissionReviewVersions": ["v1"],
              "sideEffects": "None", "failurePolicy": "Fail",
              "clientConfig": {"service": {"name": "metallb-webhook-service", "namespace": ns,
                                           "path": f"/validate-metallb-io-v1beta1-{kind}"}},
              "rules": [{"apiGroups": ["metallb.io"], "apiVersions": ["v1beta1"], "operations": ["CREATE", "UPDATE"],
                         "resources": [f"{kind}s"]}]} for kind in ("ipaddresspool", "l2advertisement")]
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {
            "pod-security.kubernetes.io/enforce": "privileged"}}},
        crd("metallb.io", "ipaddresspools", "IPAddressPool", ("v1beta1",)),
        crd("metallb.io", "l2advertisements", "L2Advertisement", ("v1beta1",)),
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "controller", "namespace": ns}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "speaker", "namespace": ns}},
        deployment("controller", ns, controller, "quay.io/metallb/controller:v0.14.9", "controller", [7472, 9443],
                   "controller"),
        daemonset,
        service("metallb-webhook-service", ns, controller, [{"port": 443, "targetPort": 9443}]),
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
         "metadata": {"name": "metallb-webhook-configuration"}, "webhooks": hooks},
    ]


def boutique() -> list[Obj]:
    docs: list[Obj] = []
    for name, (container, port, target) in WORKLOADS.items():
        image = ("redis:alpine" if name == "redis-cart" else
                 f"us-central1-docker.pkg.dev/google-samples/microservices-demo/{name}:v0.10.6")
        docs.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}})
        docs.append(deployment(name, None, {"app": name}, image, container, [target] if target else [], name))
        if port:
            kind = "tcp-redis" if name == "redis-cart" else ("http" if name == "frontend" else "grpc")
            docs.append(service(name, None, {"app": name}, [{"name": kind, "port": port, "targetPort": target}]))
    docs.append(service("frontend-external", None, {"app": "frontend"},
                        [{"name": "http", "port": 80, "targetPort": 8080}], "LoadBalancer"))
    return docs


def addons() -> dict[str, list[Obj]]:
    ns = "istio-system"
    kiali_config = {"auth": {"strategy": "anonymous"}, "deployment": {"cluster_wide_access": True, "namespace": ns},
                    "external_services": {"custom_dashboards": {"enabled": True},
                                          "istio": {"root_namespace": ns}, "tracing": {"enabled": False}},
                    "istio_namespace": ns, "server": {"port": 20001, "web_root": "/kiali"}}
    dashboards = {f"{title.lower().replace(' ', '-')}.json": json.dumps({"title": title, "panels": []})
                  for title in GRAFANA_DASHBOARDS}
    grafana = {"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": "grafana"}
    return {
        "istio-addon-prometheus": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "prometheus", "namespace": ns},
             "data": {"prometheus.yml": "scrape_configs:\n- job_name: kubernetes-pods\n"}},
            deployment("prometheus", ns, {"app.kubernetes.io/name": "prometheus", "app": "prometheus"},
                       "prom/prometheus:v3.5.0", "prometheus-server", [9090]),
            service("prometheus", ns, {"app.kubernetes.io/name": "prometheus", "app": "prometheus"},
                    [{"name": "http", "port": 9090, "targetPort": 9090}]),
        ],
        "istio-addon-jaeger": [
            deployment("jaeger", ns, {"app": "jaeger"}, "docker.io/jaegertracing/all-in-one:1.70.0", "jaeger",
                       [16686, 16685, 9411]),
            service("tracing", ns, {"app": "jaeger"}, [{"name": "http-query", "port": 80, "targetPort": 16686},
                                                       {"name": "grpc-query", "port": 16685, "targetPort": 16685}]),
            service("zipkin", ns, {"app": "jaeger"}, [{"name": "http-query", "port": 9411, "targetPort": 9411}],
                    labels={"name": "zipkin"}),
        ],
        "istio-addon-grafana": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "grafana", "namespace": ns},
             "data": {"datasources.yaml": yaml.safe_dump({"apiVersion": 1, "datasources": [
                 {"name": "Prometheus", "type": "prometheus", "url": "http://prometheus:9090", "access": "proxy",
                  "isDefault": True}]})}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio-grafana-dashboards",
                                                                   "namespace": ns}, "data": dashboards},
            deployment("grafana", ns, grafana, "grafana/grafana:12.0.1", "grafana", [3000]),
            service("grafana", ns, grafana, [{"name": "service", "port": 3000, "targetPort": 3000}]),
        ],
        "istio-addon-kiali": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kiali", "namespace": ns},
             "data": {"config.yaml": yaml.safe_dump(kiali_config)}},
            deployment("kiali", ns, {"app.kubernetes.io/name": "kiali", "app": "kiali"}, "quay.io/kiali/kiali:v2.17",
                       "kiali", [20001]),
            service("kiali", ns, {"app.kubernetes.io/name": "kiali", "app": "kiali"},
                    [{"name": "http", "port": 20001, "targetPort": 20001}]),
        ],
    }


def dashboard() -> list[Obj]:
    ns = "kubernetes-dashboard"
    labels = {"k8s-app": "kubernetes-dashboard"}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "kubernetes-dashboard", "namespace": ns}},
        service("kubernetes-dashboard", ns, labels, [{"port": 443, "targetPort": 8443}]),
        deployment("kubernetes-dashboard", ns, labels, "kubernetesui/dashboard:v2.7.0", "kubernetes-dashboard",
                   [8443], "kubernetes-dashboard"),
        deployment("dashboard-metrics-scraper", ns, {"k8s-app": "dashboard-metrics-scraper"},
                   "kubernetesui/metrics-scraper:v1.0.8", "dashboard-metrics-scraper", [8000], "kubernetes-dashboard"),
    ]


def gateway_api() -> dict[str, list[Obj]]:
    group = "gateway.networking.k8s.io"
    return {
        "gateway-api-gatewayclasses": [crd(group, "gatewayclasses", "GatewayClass", ("v1", "v1beta1"), "Cluster")],
        "gateway-api-gateways": [crd(group, "gateways", "Gateway", ("v1", "v1beta1"))],
        "gateway-api-httproutes": [crd(group, "httproutes", "HTTPRoute", ("v1", "v1beta1"))],
        "gateway-api-referencegrants": [crd(group, "referencegrants", "ReferenceGrant", ("v1beta1",))],
    }


def istio_demo() -> list[Obj]:
    """What ``istioctl install`` of the demo profile leaves (the fake istioctl applies it): istiod, both
    gateways, the injector webhook, and the networking.istio.io CRDs the suite and the boutique use."""
    ns = "istio-system"
    gateway_ports = [{"name": "status-port", "port": 15021, "targetPort": 15021},
                     {"name": "http2", "port": 80, "targetPort": 8080},
                     {"name": "https", "port": 443, "targetPort": 8443}]
    docs: list[Obj] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        crd("networking.istio.io", "gateways", "Gateway", ("v1", "v1beta1", "v1alpha3")),
        crd("networking.istio.io", "virtualservices", "VirtualService", ("v1", "v1beta1", "v1alpha3")),
        deployment("istiod", ns, {"app": "istiod", "istio": "pilot", "istio.io/rev": "default"},
                   "docker.io/istio/pilot:1.28.3", "discovery", [8080, 15010, 15017], "istiod"),
        service("istiod", ns, {"app": "istiod", "istio": "pilot"},
                [{"name": "grpc-xds", "port": 15010}, {"name": "https-webhook", "port": 443, "targetPort": 15017}]),
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
         "metadata": {"name": "istio-sidecar-injector", "labels": {"app": "sidecar-injector"}},
         "webhooks": [{"name": "namespace.sidecar-injector.istio.io", "admissionReviewVersions": ["v1"],
                       "sideEffects": "None", "failurePolicy": "Fail",
                       "clientConfig": {"service": {"name": "istiod", "namespace": ns, "path": "/inject"}},
                       "namespaceSelector": {"matchLabels": {"istio-injection": "enabled"}},
                       "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                                  "resources": ["pods"]}]}]},
    ]
    for name, role in (("istio-ingressgateway", "ingressgateway"), ("istio-egressgateway", "egressgateway")):
        labels = {"app": name, "istio": role}
        docs.append(deployment(name, ns, labels, "docker.io/istio/proxyv2:1.28.3", "istio-proxy", [8080, 8443],
                               f"{name}-service-account"))
        kind = "LoadBalancer" if role == "ingressgateway" else "ClusterIP"
        docs.append(service(name, ns, labels, gateway_ports if role == "ingressgateway" else gateway_ports[1:], kind))
    return docs


def sources() -> dict[str, list[Obj]]:
    return {"metallb-native": metallb(), "boutique-v0.10.6": boutique(), "dashboard-v2.7.0": dashboard(),
            **addons(), **gateway_api()}


class Mirror:
    """The stand-ins served over HTTP, and a copy of manifests/ whose lock pins them (tools unchanged)."""

    def __init__(self, directory: Path) -> None:
        self.files = {f"/{name}.yaml": yaml.safe_dump_all(docs, sort_keys=False).encode()
                      for name, docs in sources().items()}
        self.server = FileServer(self.files)
        url = self.server.url
        self.manifests = directory / "manifests"
        shutil.copytree(ROOT / "manifests", self.manifests)
        lock = yaml.safe_load((self.manifests / "lock.yaml").read_text())
        lock["sources"] = {path[1:-5]: {"url": url + path, "sha256": hashlib.sha256(body).hexdigest()}
                           for path, body in self.files.items()}
        (self.manifests / "lock.yaml").write_text(yaml.safe_dump(lock))
        self.istio = directory / "istio-demo.yaml"
        self.istio.write_text(yaml.safe_dump_all(istio_demo(), sort_keys=False))

    def stop(self) -> None:
        self.server.stop()
