"""A compact stand-in for what the deploy step applies, layer by layer. The objects keep what the simulated
controllers and add-ons read from real manifests (names, labels, selectors, images, ports, webhooks,
ConfigMaps), trimmed of everything else; tests/standins.py serves them as the pinned upstream sources. The
``Applier`` sends raw requests for the simulator's own tests, which look at status codes the deploy step
turns into outcomes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config

from meshcheck.sim.addons import kiali_config

Obj = dict[str, Any]
ISTIO_VERSION = "1.28.3"
ISTIO_NS, SHOP_NS = "istio-system", "online-boutique"
METALLB_NS, DASHBOARD_NS = "metallb-system", "kubernetes-dashboard"
APPLY = "application/apply-patch+yaml"

# name -> (container, service port, target port, port name), as Online Boutique's release manifests have them
BOUTIQUE = {
    "frontend": ("server", 80, 8080, "http"),
    "cartservice": ("server", 7070, 7070, "grpc"),
    "productcatalogservice": ("server", 3550, 3550, "grpc"),
    "currencyservice": ("server", 7000, 7000, "grpc"),
    "paymentservice": ("server", 50051, 50051, "grpc"),
    "shippingservice": ("server", 50051, 50051, "grpc"),
    "emailservice": ("server", 5000, 8080, "grpc"),
    "checkoutservice": ("server", 5050, 5050, "grpc"),
    "recommendationservice": ("server", 8080, 8080, "grpc"),
    "adservice": ("server", 9555, 9555, "grpc"),
    "redis-cart": ("redis", 6379, 6379, "tcp-redis"),
    "loadgenerator": ("main", None, None, None),
}
GRAFANA_DASHBOARDS = {
    "istio-grafana-dashboards": {"pilot-dashboard.json": "Istio Control Plane Dashboard",
                                 "istio-performance-dashboard.json": "Istio Performance Dashboard"},
    "istio-services-grafana-dashboards": {"istio-mesh-dashboard.json": "Istio Mesh Dashboard",
                                          "istio-service-dashboard.json": "Istio Service Dashboard",
                                          "istio-workload-dashboard.json": "Istio Workload Dashboard",
                                          "istio-extension-dashboard.json": "Istio Wasm Extension Dashboard",
                                          "ztunnel-dashboard.json": "Istio Ztunnel Dashboard"},
}


# --- objects --------------------------------------------------------------------------------------


def namespace(name: str, labels: dict[str, str] | None = None) -> Obj:
    metadata = {"name": name, **({"labels": labels} if labels else {})}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def deployment(name: str, ns: str, labels: dict[str, str], containers: list[Obj], *, replicas: int = 1,
               pod_labels: dict[str, str] | None = None, account: str | None = None, **spec: Any) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": {**labels, **(pod_labels or {})}},
                                  "spec": {"containers": containers,
                                           **({"serviceAccountName": account} if account else {}), **spec}}}}


def container(name: str, image: str, *ports: int, **extra: Any) -> Obj:
    return {"name": name, "image": image, **({"ports": [{"containerPort": p} for p in ports]} if ports else {}),
            **extra}


def service(name: str, ns: str, selector: dict[str, str], ports: list[Obj], kind: str = "ClusterIP",
            labels: dict[str, str] | None = None) -> Obj:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "labels": labels or selector},
            "spec": {"type": kind, "selector": selector, "ports": ports}}


def account(name: str, ns: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}}


def crd(group: str, plural: str, kind: str, versions: tuple[str, ...], short: tuple[str, ...] = ()) -> Obj:
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List",
                           **({"shortNames": list(short)} if short else {})},
                 "versions": [{"name": v, "served": True, "storage": i == 0, "subresources": {"status": {}},
                               "schema": {"openAPIV3Schema": {"type": "object",
                                                              "x-kubernetes-preserve-unknown-fields": True}}}
                              for i, v in enumerate(versions)]},
    }


def metallb() -> list[Obj]:
    """MetalLB's native manifest, trimmed: its CRDs, controller (which serves the webhook), speaker, webhook."""
    labels = {"app": "metallb", "component": "controller"}
    hooks = [{
        "name": f"{kind.lower()}validationwebhook.metallb.io", "admissionReviewVersions": ["v1"],
        "clientConfig": {"service": {"name": "metallb-webhook-service", "namespace": METALLB_NS,
                                     "path": f"/validate-metallb-io-v1beta1-{kind.lower()}"}},
        "failurePolicy": "Fail", "sideEffects": "None",
        "rules": [{"apiGroups": ["metallb.io"], "apiVersions": ["v1beta1"], "operations": ["CREATE", "UPDATE"],
                   "resources": [f"{kind.lower()}s"]}],
    } for kind in ("IPAddressPool", "L2Advertisement")]
    return [
        namespace(METALLB_NS, {"pod-security.kubernetes.io/enforce": "privileged"}),
        crd("metallb.io", "ipaddresspools", "IPAddressPool", ("v1beta1",)),
        crd("metallb.io", "l2advertisements", "L2Advertisement", ("v1beta1",)),
        account("controller", METALLB_NS), account("speaker", METALLB_NS),
        deployment("controller", METALLB_NS, labels, [container("controller", "quay.io/metallb/controller:v0.14.9",
                                                                7472, 9443)], account="controller"),
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "speaker", "namespace": METALLB_NS},
         "spec": {"selector": {"matchLabels": {"app": "metallb", "component": "speaker"}},
                  "template": {"metadata": {"labels": {"app": "metallb", "component": "speaker"}},
                               "spec": {"containers": [container("speaker", "quay.io/metallb/speaker:v0.14.9", 7472)],
                                        "hostNetwork": True, "serviceAccountName": "speaker",
                                        "tolerations": [{"key": "node-role.kubernetes.io/control-plane",
                                                         "operator": "Exists", "effect": "NoSchedule"}]}}}},
        service("metallb-webhook-service", METALLB_NS, {"component": "controller"},
                [{"port": 443, "targetPort": 9443}]),
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
         "metadata": {"name": "metallb-webhook-configuration"}, "webhooks": hooks},
    ]


def metallb_pool(addresses: str) -> list[Obj]:
    return [
        {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
         "metadata": {"name": "default-pool", "namespace": METALLB_NS}, "spec": {"addresses": [addresses]}},
        {"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
         "metadata": {"name": "default", "namespace": METALLB_NS}, "spec": {"ipAddressPools": ["default-pool"]}},
    ]


def istio() -> list[Obj]:
    """istioctl's demo profile, trimmed: Istio's networking CRDs, istiod and its injector, the gateways."""
    pilot = {"app": "istiod", "istio": "pilot"}
    proxy = f"docker.io/istio/proxyv2:{ISTIO_VERSION}"
    hook = {
        "admissionReviewVersions": ["v1"], "sideEffects": "None", "failurePolicy": "Fail",
        "clientConfig": {"service": {"name": "istiod", "namespace": ISTIO_NS, "path": "/inject", "port": 443}},
        "objectSelector": {"matchExpressions": [{"key": "sidecar.istio.io/inject", "operator": "NotIn",
                                                 "values": ["false"]}]},
        "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}],
    }
    objects = [
        namespace(ISTIO_NS),
        crd("networking.istio.io", "gateways", "Gateway", ("v1", "v1beta1", "v1alpha3"), ("gw",)),
        crd("networking.istio.io", "virtualservices", "VirtualService", ("v1", "v1beta1", "v1alpha3"), ("vs",)),
        account("istiod", ISTIO_NS),
        deployment("istiod", ISTIO_NS, {**pilot}, [container("discovery", f"docker.io/istio/pilot:{ISTIO_VERSION}",
                                                             8080, 15010, 15017)],
                   pod_labels={"istio.io/rev": "default", "sidecar.istio.io/inject": "false"}, account="istiod"),
        service("istiod", ISTIO_NS, pilot, [{"name": "grpc-xds", "port": 15010},
                                            {"name": "https-webhook", "port": 443, "targetPort": 15017}]),
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
         "metadata": {"name": "istio-sidecar-injector",
                      "labels": {"app": "sidecar-injector", "istio.io/rev": "default"}},
         "webhooks": [
             {**hook, "name": "rev.namespace.sidecar-injector.istio.io",
              "namespaceSelector": {"matchExpressions": [
                  {"key": "istio.io/rev", "operator": "In", "values": ["default"]},
                  {"key": "istio-injection", "operator": "DoesNotExist"}]}},
             {**hook, "name": "namespace.sidecar-injector.istio.io",
              "namespaceSelector": {"matchExpressions": [
                  {"key": "istio-injection", "operator": "In", "values": ["enabled"]}]}},
         ]},
    ]
    for name, role in (("istio-ingressgateway", "ingressgateway"), ("istio-egressgateway", "egressgateway")):
        labels = {"app": name, "istio": role}
        objects += [
            account(f"{name}-service-account", ISTIO_NS),
            deployment(name, ISTIO_NS, labels, [container("istio-proxy", proxy, 8080, 8443, 15090,
                                                          args=["proxy", "router"])],
                       pod_labels={"sidecar.istio.io/inject": "false"}, account=f"{name}-service-account"),
        ]
    objects.append(service("istio-ingressgateway", ISTIO_NS, {"app": "istio-ingressgateway", "istio": "ingressgateway"},
                           [{"name": "status-port", "port": 15021}, {"name": "http2", "port": 80, "targetPort": 8080},
                            {"name": "https", "port": 443, "targetPort": 8443}], kind="LoadBalancer"))
    return objects


def dashboard() -> list[Obj]:
    """The dashboard's recommended.yaml, trimmed, plus the admin account its docs create."""
    labels = {"k8s-app": "kubernetes-dashboard"}
    return [
        namespace(DASHBOARD_NS),
        account("kubernetes-dashboard", DASHBOARD_NS),
        service("kubernetes-dashboard", DASHBOARD_NS, labels, [{"port": 443, "targetPort": 8443}]),
        deployment("kubernetes-dashboard", DASHBOARD_NS, labels,
                   [container("kubernetes-dashboard", "kubernetesui/dashboard:v2.7.0", 8443)],
                   account="kubernetes-dashboard"),
        deployment("dashboard-metrics-scraper", DASHBOARD_NS, {"k8s-app": "dashboard-metrics-scraper"},
                   [container("dashboard-metrics-scraper", "kubernetesui/metrics-scraper:v1.0.8", 8000)]),
        account("admin-user", DASHBOARD_NS),
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "admin-user"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
         "subjects": [{"kind": "ServiceAccount", "name": "admin-user", "namespace": DASHBOARD_NS}]},
    ]


def gateway_api_crds() -> list[Obj]:
    group = "gateway.networking.k8s.io"
    return [crd(group, "gatewayclasses", "GatewayClass", ("v1", "v1beta1")),
            crd(group, "gateways", "Gateway", ("v1", "v1beta1"), ("gtw",)),
            crd(group, "httproutes", "HTTPRoute", ("v1", "v1beta1")),
            crd(group, "referencegrants", "ReferenceGrant", ("v1beta1",))]


def boutique(ingress: str = "classic") -> list[Obj]:
    """Online Boutique's release manifests in a namespace labelled for injection, and its Istio ingress:
    ``classic`` (Gateway and VirtualService on istio-ingressgateway) or ``gateway-api`` (Gateway and
    HTTPRoute, the gateway deployed by istiod)."""
    registry = "us-central1-docker.pkg.dev/google-samples/microservices-demo"
    objects = [namespace(SHOP_NS, {"istio-injection": "enabled"})]
    for name, (main, port, target, port_name) in BOUTIQUE.items():
        image = "redis:alpine" if name == "redis-cart" else f"{registry}/{name}:v0.10.1"
        objects.append(account(name, SHOP_NS))
        objects.append(deployment(name, SHOP_NS, {"app": name},
                                  [container(main, image, *([target] if target else []))], account=name))
        if port:
            objects.append(service(name, SHOP_NS, {"app": name},
                                   [{"name": port_name, "port": port, "targetPort": target}]))
    if ingress == "gateway-api":
        return [
            *objects,
            {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
             "metadata": {"name": "istio-gateway", "namespace": SHOP_NS},
             "spec": {"gatewayClassName": "istio", "listeners": [
                 {"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "Same"}}}]}},
            {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
             "metadata": {"name": "frontend-route", "namespace": SHOP_NS},
             "spec": {"parentRefs": [{"name": "istio-gateway"}],
                      "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                                 "backendRefs": [{"name": "frontend", "port": 80}]}]}},
        ]
    objects += [
        {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
         "metadata": {"name": "frontend-gateway", "namespace": SHOP_NS},
         "spec": {"selector": {"istio": "ingressgateway"},
                  "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
         "metadata": {"name": "frontend-ingress", "namespace": SHOP_NS},
         "spec": {"hosts": ["*"], "gateways": ["frontend-gateway"],
                  "http": [{"route": [{"destination": {"host": "frontend", "port": {"number": 80}}}]}]}},
    ]
    return objects


def addons() -> list[Obj]:
    """Istio's samples/addons, trimmed: Prometheus, Jaeger, Kiali (tracing link set) and Grafana."""
    grafana_labels = {"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": "grafana"}
    config = {
        "datasources.yaml": yaml.safe_dump({"apiVersion": 1, "datasources": [
            {"name": "Prometheus", "type": "prometheus", "access": "proxy", "url": "http://prometheus:9090",
             "isDefault": True, "jsonData": {"timeInterval": "15s"}}]}),
        "dashboardproviders.yaml": yaml.safe_dump({"apiVersion": 1, "providers": [
            {"name": name, "folder": "istio", "type": "file", "orgId": 1,
             "options": {"path": f"/var/lib/grafana/dashboards/{name}"}} for name in ("istio", "istio-services")]}),
    }
    mounts = [{"name": "config", "mountPath": "/etc/grafana/provisioning/datasources/datasources.yaml",
               "subPath": "datasources.yaml"},
              {"name": "config", "mountPath": "/etc/grafana/provisioning/dashboards/dashboardproviders.yaml",
               "subPath": "dashboardproviders.yaml"},
              {"name": "dashboards-istio", "mountPath": "/var/lib/grafana/dashboards/istio"},
              {"name": "dashboards-istio-services", "mountPath": "/var/lib/grafana/dashboards/istio-services"}]
    volumes = [{"name": "config", "configMap": {"name": "grafana"}},
               {"name": "dashboards-istio", "configMap": {"name": "istio-grafana-dashboards"}},
               {"name": "dashboards-istio-services", "configMap": {"name": "istio-services-grafana-dashboards"}}]
    objects = [
        deployment("prometheus", ISTIO_NS, {"app": "prometheus"},
                   [container("prometheus-server", "prom/prometheus:v3.5.0", 9090)],
                   pod_labels={"sidecar.istio.io/inject": "false"}),
        service("prometheus", ISTIO_NS, {"app": "prometheus"}, [{"name": "http", "port": 9090}]),
        deployment("jaeger", ISTIO_NS, {"app": "jaeger"},
                   [container("jaeger", "docker.io/jaegertracing/all-in-one:1.67.0", 16686, 16685, 9411)],
                   pod_labels={"sidecar.istio.io/inject": "false"}),
        service("tracing", ISTIO_NS, {"app": "jaeger"}, [{"name": "http-query", "port": 80, "targetPort": 16686},
                                                         {"name": "grpc-query", "port": 16685}]),
        service("zipkin", ISTIO_NS, {"app": "jaeger"}, [{"name": "http-query", "port": 9411}]),
        deployment("kiali", ISTIO_NS, {"app": "kiali"}, [container("kiali", "quay.io/kiali/kiali:v1.76.0", 20001)],
                   pod_labels={"sidecar.istio.io/inject": "false"}),
        service("kiali", ISTIO_NS, {"app": "kiali"}, [{"name": "http", "port": 20001}]),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kiali", "namespace": ISTIO_NS,
                                                               "labels": {"app": "kiali"}},
         "data": kiali_config.config_map_data({}, ISTIO_NS)},
        account("grafana", ISTIO_NS),
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "grafana", "namespace": ISTIO_NS},
         "data": config},
        service("grafana", ISTIO_NS, grafana_labels, [{"name": "service", "port": 3000, "targetPort": 3000}]),
        deployment("grafana", ISTIO_NS, grafana_labels,
                   [container("grafana", "docker.io/grafana/grafana:11.3.1", 3000, volumeMounts=mounts)],
                   pod_labels={"sidecar.istio.io/inject": "false"}, account="grafana", volumes=volumes),
    ]
    for name, files in GRAFANA_DASHBOARDS.items():
        objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ISTIO_NS},
                        "data": {key: json.dumps({"title": title, "panels": []}) for key, title in files.items()}})
    return objects


# --- applying -------------------------------------------------------------------------------------


class Applier:
    """Server-side apply through the official client, as the deploy step does."""

    def __init__(self, kubeconfig: Path) -> None:
        configuration = client.Configuration()
        config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
        self.api = client.ApiClient(configuration)

    def call(self, method: str, path: str, body: Any = None, content_type: str = "application/json",
             query: list[tuple[str, str]] | None = None) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        request = self.api.param_serialize(method, path, query_params=query or [], header_params=headers, body=body,
                                           auth_settings=["BearerToken"])
        response = self.api.call_api(*request)
        data = response.read()
        try:
            return response.status, json.loads(data)
        except ValueError:
            return response.status, data

    def apply(self, obj: Obj, manager: str = "meshcheck-deploy") -> tuple[int, Any]:
        return self.call("PATCH", path_of(obj), yaml.safe_dump(obj), APPLY, [("fieldManager", manager),
                                                                            ("force", "true")])

    def apply_all(self, objects: list[Obj]) -> None:
        for obj in objects:
            code, body = self.apply(obj)
            assert code in (200, 201), (obj["kind"], obj["metadata"]["name"], code, body)

    def get(self, path: str) -> tuple[int, Any]:
        return self.call("GET", path)

    def wait(self, what: str, ready: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.2)

    def available(self, ns: str, name: str) -> bool:
        code, body = self.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
        conditions = {c["type"]: c["status"] for c in (body.get("status") or {}).get("conditions") or []} if (
            code == 200) else {}
        return conditions.get("Available") == "True" and body["status"].get("availableReplicas", 0) >= 1

    def all_available(self, ns: str) -> bool:
        code, body = self.get(f"/apis/apps/v1/namespaces/{ns}/deployments")
        return code == 200 and all(self.available(ns, d["metadata"]["name"]) for d in body["items"])


def path_of(obj: Obj) -> str:
    group, _, version = obj["apiVersion"].rpartition("/")
    base = f"/apis/{group}/{version}" if group else f"/api/{version}"
    plural = PLURALS.get(obj["kind"], obj["kind"].lower() + "s")
    ns = obj["metadata"].get("namespace")
    middle = f"/namespaces/{ns}" if ns else ""
    return f"{base}{middle}/{plural}/{obj['metadata']['name']}"


PLURALS = {"Ingress": "ingresses", "CustomResourceDefinition": "customresourcedefinitions",
           "IPAddressPool": "ipaddresspools", "L2Advertisement": "l2advertisements",
           "MutatingWebhookConfiguration": "mutatingwebhookconfigurations",
           "ValidatingWebhookConfiguration": "validatingwebhookconfigurations",
           "ClusterRoleBinding": "clusterrolebindings", "HTTPRoute": "httproutes",
           "GatewayClass": "gatewayclasses", "ReferenceGrant": "referencegrants"}
