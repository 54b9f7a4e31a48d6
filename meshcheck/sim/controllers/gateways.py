"""istiod's Gateway API controller (istio/istio pilot/pkg/config/kube/gateway): once istiod runs and the
Gateway API's CRDs are served, it creates the GatewayClass ``istio``, and for every Gateway of that
class deploys its gateway: a ServiceAccount, a Deployment and a ``LoadBalancer`` Service named
``<gateway>-istio`` in the Gateway's namespace (deploymentcontroller.go), its pods labelled
``gateway.networking.k8s.io/gateway-name`` (and ``istio.io/gateway-name``) and running istiod's
proxyv2 image as a router; the Service has ``status-port`` 15021 and one port per listener, named
after it. The Gateway's status says Accepted, and Programmed once its Service has an address (then
listed in ``status.addresses``); an HTTPRoute attached to it is Accepted with its refs resolved.
"""

from __future__ import annotations

import copy
from typing import Any

from meshcheck.sim import defaults
from meshcheck.sim.controllers import Context
from meshcheck.sim.endpoints import pod_ready, selects
from meshcheck.sim.injection import proxy_image
from meshcheck.sim.store import stamp
from meshcheck.sim.world import World

Obj = dict[str, Any]
GROUP = "gateway.networking.k8s.io"
GATEWAYS, ROUTES, CLASSES = f"gateways.{GROUP}", f"httproutes.{GROUP}", f"gatewayclasses.{GROUP}"
CONTROLLER = "istio.io/gateway-controller"
MANAGER = "pilot-discovery"


def istiod(world: World) -> Obj | None:
    """istiod's Deployment when one of its pods is ready."""
    for deployment in world.of_kind("deployments"):
        labels = deployment["metadata"].get("labels") or {}
        if labels.get("app") != "istiod" and deployment["metadata"]["name"] != "istiod":
            continue
        selector = (deployment["spec"].get("selector") or {}).get("matchLabels")
        ns = deployment["metadata"].get("namespace", "")
        if any(selects(selector, p["metadata"].get("labels")) and pod_ready(p) for p in world.of_kind("pods", ns)):
            return deployment
    return None


def sync(ctx: Context) -> None:
    control = istiod(ctx.world)
    if control is None:
        return
    served = {r.key for r in ctx.registry.resources}
    if CLASSES in served and ctx.store.get(CLASSES, "", "istio") is None:
        version = _version(ctx, CLASSES)
        ctx.store.create(CLASSES, {
            "apiVersion": f"{GROUP}/{version}", "kind": "GatewayClass", "metadata": {"name": "istio"},
            "spec": {"controllerName": CONTROLLER, "description": "The default Istio GatewayClass"},
            "status": {"conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted",
                                       "message": "Handled by Istio controller", "observedGeneration": 1,
                                       "lastTransitionTime": stamp()}]},
        }, generation=True)
    if GATEWAYS not in served:
        return
    containers = control["spec"]["template"]["spec"].get("containers") or [{}]
    discovery = next((c for c in containers if c.get("name") == "discovery"), containers[0])
    image = proxy_image(str(discovery.get("image", "docker.io/istio/pilot:latest")))
    for gateway in ctx.world.of_kind(GATEWAYS):
        if (gateway.get("spec") or {}).get("gatewayClassName") == "istio":
            _deploy(ctx, gateway, image)
    if ROUTES in served:
        for route in ctx.world.of_kind(ROUTES):
            _route_status(ctx, route)


def _version(ctx: Context, key: str) -> str:
    resource = next(r for r in ctx.registry.resources if r.key == key)
    return resource.versions[0]


def _deploy(ctx: Context, gateway: Obj, image: str) -> None:
    ns, name = gateway["metadata"].get("namespace", ""), gateway["metadata"]["name"]
    workload = f"{name}-istio"
    labels = {"gateway.networking.k8s.io/gateway-name": name, "istio.io/gateway-name": name,
              "gateway.istio.io/managed": "istio.io-gateway-controller"}
    owner = {"apiVersion": gateway.get("apiVersion", f"{GROUP}/v1"), "kind": "Gateway", "name": name,
             "uid": gateway["metadata"].get("uid", ""), "controller": True}
    if ctx.store.get("serviceaccounts", ns, workload) is None:
        ctx.store.create("serviceaccounts", {"metadata": {"name": workload, "namespace": ns, "labels": labels,
                                                           "ownerReferences": [owner]}}, generation=False)
    if ctx.store.get("deployments", ns, workload) is None:
        pod_labels = {**labels, "service.istio.io/canonical-name": workload,
                      "service.istio.io/canonical-revision": "latest", "sidecar.istio.io/inject": "false"}
        ctx.store.create("deployments", {
            "metadata": {"name": workload, "namespace": ns, "labels": labels, "ownerReferences": [owner]},
            "spec": {
                "replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                "selector": {"matchLabels": {"gateway.networking.k8s.io/gateway-name": name}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                "template": {
                    "metadata": {"labels": pod_labels, "annotations": {
                        "prometheus.io/path": "/stats/prometheus", "prometheus.io/port": "15020",
                        "prometheus.io/scrape": "true", "istio.io/rev": "default"}},
                    "spec": {
                        "serviceAccountName": workload,
                        "containers": [{
                            "name": "istio-proxy", "image": image, "args": ["proxy", "router", "--domain",
                                                                           f"{ns}.svc.cluster.local"],
                            "ports": [{"containerPort": 15021, "name": "status-port", "protocol": "TCP"},
                                      {"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
                            "imagePullPolicy": "IfNotPresent", "resources": {},
                            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
                        "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
                        "securityContext": {}, "schedulerName": "default-scheduler"},
                },
            },
        }, generation=True)
    listeners = (gateway.get("spec") or {}).get("listeners") or []
    if ctx.store.get("services", ns, workload) is None:
        ports = [{"name": "status-port", "port": 15021, "appProtocol": "tcp", "protocol": "TCP", "targetPort": 15021}]
        for index, listener in enumerate(listeners):
            if any(p["port"] == listener.get("port") for p in ports):
                continue
            protocol = str(listener.get("protocol", "HTTP")).lower()
            ports.append({"name": listener.get("name") or f"{protocol}-{index}", "port": listener.get("port"),
                          "appProtocol": protocol, "protocol": "TCP", "targetPort": listener.get("port")})
        used = {int(p.get("nodePort") or 0) for s in ctx.world.of_kind("services")
                for p in s["spec"].get("ports") or []}
        service = defaults.default("services", {  # created through the API: defaulted
            "metadata": {"name": workload, "namespace": ns, "labels": labels, "ownerReferences": [owner]},
            "spec": {"type": "LoadBalancer", "selector": {"gateway.networking.k8s.io/gateway-name": name},
                     "ports": ports},
        }, None, used)
        ctx.store.create("services", service, generation=False)
    _gateway_status(ctx, gateway, workload)


def _gateway_status(ctx: Context, gateway: Obj, workload: str) -> None:
    ns = gateway["metadata"].get("namespace", "")
    service = ctx.store.get("services", ns, workload) or {}
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    address = next((i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")), None)
    generation = gateway["metadata"].get("generation", 1)
    host = f"{workload}.{ns}.svc.cluster.local"
    previous = {c.get("type"): c for c in (gateway.get("status") or {}).get("conditions") or []}

    def condition(kind: str, ok: bool, reason: str, message: str) -> Obj:
        found = previous.get(kind)
        wanted = {"type": kind, "status": "True" if ok else "False", "reason": reason, "message": message,
                  "observedGeneration": generation}
        if found and all(found.get(key) == value for key, value in wanted.items()):
            return found
        return {**wanted, "lastTransitionTime": stamp()}

    status = {
        "addresses": [{"type": "IPAddress", "value": address}] if address else [],
        "conditions": [
            condition("Accepted", True, "Accepted", "Resource accepted"),
            condition("Programmed", bool(address), "Programmed" if address else "AddressNotAssigned",
                      f"Resource programmed, assigned to service(s) {host}" if address else
                      f"Assigned to service(s) {host}, but failed to assign to all requested addresses: address "
                      f"pending for hostname \"{host}\""),
        ],
    }
    if gateway.get("status") != status:
        updated = copy.deepcopy(gateway)
        updated["status"] = status
        ctx.store.save(GATEWAYS, updated, manager=MANAGER, operation="Update",
                       api_version=gateway.get("apiVersion", ""), subresource="status",
                       fields={"f:status": {"f:addresses": {}, "f:conditions": {}}})


def _route_status(ctx: Context, route: Obj) -> None:
    generation = route["metadata"].get("generation", 1)
    previous = {_parent_key(p.get("parentRef") or {}): p for p in (route.get("status") or {}).get("parents") or []}
    parents = []
    for ref in (route.get("spec") or {}).get("parentRefs") or []:
        found = previous.get(_parent_key(ref))
        if found and all(c.get("observedGeneration") == generation for c in found.get("conditions") or []):
            parents.append(found)
            continue
        now = stamp()
        parents.append({"parentRef": ref, "controllerName": CONTROLLER, "conditions": [
            {"type": "Accepted", "status": "True", "reason": "Accepted", "message": "Route was valid",
             "observedGeneration": generation, "lastTransitionTime": now},
            {"type": "ResolvedRefs", "status": "True", "reason": "ResolvedRefs", "message": "All references resolved",
             "observedGeneration": generation, "lastTransitionTime": now}]})
    status = {"parents": parents}
    if route.get("status") != status:
        updated = copy.deepcopy(route)
        updated["status"] = status
        ctx.store.save(ROUTES, updated, manager=MANAGER, operation="Update", api_version=route.get("apiVersion", ""),
                       subresource="status", fields={"f:status": {"f:parents": {}}})


def _parent_key(ref: Obj) -> tuple[str, str, str]:
    """A parentRef by what names its Gateway: kind, namespace, name."""
    return str(ref.get("kind", "Gateway")), str(ref.get("namespace", "")), str(ref.get("name", ""))
