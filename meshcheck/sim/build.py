"""From a scenario's settings to the objects a real cluster in that state would serve.

Each function builds one layer the way its installer would leave it (kind, the dashboard's
manifest, istioctl's demo profile, Online Boutique's release and Istio component, MetalLB, the
add-ons' samples), then bends it as the scenario says. The result is a ``World``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import yaml

from meshcheck.errors import ConfigError
from meshcheck.sim import kindcluster, mesh_config
from meshcheck.sim import kinds as k
from meshcheck.sim.addons import kiali_config as sim_kiali
from meshcheck.sim.scenario import duration, release
from meshcheck.sim.world import Change, World

Obj = dict[str, Any]
Model = dict[str, Any]


# How long ago the simulated cluster was created (kind create cluster), unless a workload has been
# broken for longer: a workload that has crash-looped for days lives in a cluster at least that old.
UPTIME = 3 * 3600.0
# How long an unavailable workload has crash-looped, unless the scenario's crash_looping says.
BROKEN_FOR = 3600.0
# How long before the cluster was built a scenario's rollout began, and how long after its start it ends.
ROLLOUT_BEGAN, ROLLOUT_TAKES = 6.0, 4.0


class Builder:
    def __init__(self, model: Model, storefront_ip: str | None, storefront_port: int) -> None:
        self.model = model
        self.crash_looping = {name: duration(v) for name, v in (model.get("crash_looping") or {}).items()}
        self.rolling_out: dict[str, dict[str, Any]] = {
            name: dict(spec or {}) for name, spec in (model.get("rolling_out") or {}).items()
        }
        now = time.time()
        self.clock = k.Clock(now - max([UPTIME, *(UPTIME + s for s in self.crash_looping.values())]), now)
        self.objects: dict[str, list[Obj]] = {}
        self.changes: list[Change] = []
        self.storefront_ip = storefront_ip
        self.storefront_port = storefront_port
        self.nodes = [n["name"] for n in model["nodes"] if not n.get("control_plane")] or [model["nodes"][0]["name"]]
        self._ip = 10
        self._built: set[str] = set()

    def add(self, plural: str, obj: Obj) -> Obj:
        self.objects.setdefault(plural, []).append(obj)
        return obj

    def next_ip(self) -> str:
        self._ip += 1
        return f"10.244.{1 + self._ip // 250}.{self._ip % 250 + 2}"

    def down(self, name: str, available: bool = True) -> float | None:
        """How long the Deployment ``name`` has crash-looped, or None when it runs: the scenario's
        crash_looping, else BROKEN_FOR for a workload its layer's settings mark unavailable."""
        if name in self.crash_looping:
            return self.crash_looping[name]
        return None if available else BROKEN_FOR

    def check_names(self) -> None:
        """A scenario that names a Deployment the cluster does not have would silently test nothing."""
        for setting, names in (("crash_looping", self.crash_looping), ("rolling_out", self.rolling_out)):
            unknown = sorted(set(names) - self._built)
            if unknown:
                raise ConfigError(
                    f"scenario setting {setting} names no Deployment of the cluster: {', '.join(unknown)}"
                )

    # --- a Deployment and its pods, the way a ReplicaSet leaves them --------------------------

    def workload(
        self,
        name: str,
        ns: str,
        containers: list[Obj],
        *,
        labels: dict[str, str] | None = None,
        replicas: int = 1,
        available: bool = True,
        sidecar: bool = False,
        proxy_ready: bool = True,
        restarts: int = 0,
        waiting: str | None = None,
        annotations: dict[str, str] | None = None,
        service_account: str = "default",
    ) -> None:
        """A Deployment whose rollout completed as the cluster came up, with its pods: running, or (not
        ``available``) crash-looping since ``down`` says, its Deployment still Progressing=True; or, when
        the scenario rolls it out, mid-rollout now and complete a few seconds after the cluster starts."""
        self._built.add(name)
        labels = labels or {"app": name}
        pod_labels = dict(labels)
        init: list[Obj] = []
        containers = list(containers)
        pod_annotations = dict(annotations or {})
        if sidecar:
            pod_labels.update(
                {
                    "security.istio.io/tlsMode": "istio",
                    "service.istio.io/canonical-name": labels.get("app", name),
                    "service.istio.io/canonical-revision": "latest",
                }
            )
            pod_annotations.update(
                {
                    "prometheus.io/path": "/stats/prometheus",
                    "prometheus.io/port": "15020",
                    "prometheus.io/scrape": "true",
                    "sidecar.istio.io/status": '{"containers":["istio-proxy"]}',
                }
            )
            proxy = k.container(
                "istio-proxy", f"docker.io/istio/proxyv2:{self.proxy_version}", [15090], args=["proxy", "sidecar"]
            )
            init.append(
                k.container("istio-init", f"docker.io/istio/proxyv2:{self.proxy_version}", args=["istio-iptables"])
            )
            if self.model["istio"].get("native_sidecars"):
                init.append({**proxy, "restartPolicy": "Always"})
            else:
                containers.append(proxy)
        template = {
            "metadata": {"labels": labels, "annotations": annotations or {}},
            "spec": {"containers": [dict(c) for c in containers]},
        }
        main = containers[0]["name"]
        crashing = self.down(name, available)
        ips: dict[int, str] = {}

        def pod(index: int, life: k.Timeline) -> Obj:
            up = crashing is None
            return k.pod(
                self.clock,
                k.pod_name(name, index),
                ns,
                labels=pod_labels,
                containers=containers,
                node_name=self.nodes[index % len(self.nodes)],
                ip=ips.setdefault(index, self.next_ip()),
                init_containers=init,
                ready={"istio-proxy": proxy_ready, main: up},
                restarts={main: restarts},
                annotations=pod_annotations,
                waiting={main: waiting} if waiting else ({main: "CrashLoopBackOff"} if not up else None),
                owner=k.owner("ReplicaSet", f"{name}-{k._hash(name)}", ns),
                service_account=service_account,
                life=life,
            )

        if name in self.rolling_out:
            self._rollout(name, ns, labels, template, pod, self.rolling_out[name])
            return
        self.add(
            "deployments",
            k.deployment(
                self.clock,
                name,
                ns,
                labels=labels,
                template=template,
                replicas=replicas,
                available=0 if crashing is not None else replicas,
                available_since=self.clock.ago(crashing) if crashing is not None else None,
            ),
        )
        for index in range(replicas):
            self.add("pods", pod(index, k.Timeline.with_cluster(self.clock, crashing)))

    def _rollout(
        self,
        name: str,
        ns: str,
        labels: dict[str, str],
        template: Obj,
        pod: Callable[[int, k.Timeline], Obj],
        spec: dict[str, Any],
    ) -> None:
        """A Deployment applied ROLLOUT_BEGAN seconds ago: its new ReplicaSet has one pod so far, still
        initializing; ``completes_after`` seconds after the cluster starts every replica is up and the
        Deployment available (a timed ``Change``)."""
        replicas = int(spec.get("replicas", 2))
        after = duration(spec.get("completes_after", ROLLOUT_TAKES))
        clock, began = self.clock, ROLLOUT_BEGAN
        common = {"labels": labels, "template": template, "replicas": replicas, "created": clock.ago(began)}
        self.add(
            "deployments",
            k.deployment(
                clock, name, ns, **common, available=0, updated=1, progressed=clock.ago(began - 2), rolling=True
            ),
        )
        self.add("pods", pod(0, k.Timeline(began - 1, None)))
        done = k.deployment(clock, name, ns, **common, available_since=clock.ago(-after), progressed=clock.ago(-after))
        pods = [pod(index, k.Timeline(began - 1 - index / replicas, -after)) for index in range(replicas)]
        self.changes.append(
            Change(
                after,
                put=(("deployments", done), *(("pods", p) for p in pods)),
                what=f"the rollout of Deployment {ns}/{name} completes",
            )
        )

    @property
    def proxy_version(self) -> str:
        istio = self.model["istio"]
        return istio.get("proxy_version") or istio["version"]


def build_world(model: Model, storefront_ip: str | None, storefront_port: int) -> World:
    """The world of a scenario. A layer whose section the scenario leaves out was never installed: the
    ``bare`` scenario is a fresh kind cluster, its nodes and kube-system only."""
    b = Builder(model, storefront_ip, storefront_port)
    _cluster(b)
    if "dashboard" in model:
        _dashboard(b)
    if "istio" in model:
        _istio(b)
    edges = _boutique(b) if "boutique" in model else ()
    if "ingress" in model:
        _ingress(b)
    _metallb(b)
    _addons(b)
    if "boutique" in model and "ingress" in model:
        mesh_config.build(b)
    boutique = model.get("boutique") or {}
    istio = model.get("istio") or {}
    namespace = boutique.get("namespace", "online-boutique")
    b.check_names()
    running = tuple(
        d["metadata"]["name"]
        for d in b.objects.get("deployments", [])
        if d["metadata"]["namespace"] == namespace
        and (d["status"].get("availableReplicas") or d["metadata"]["name"] in b.rolling_out)
    )
    calls = (model.get("traffic") or {}).get("calls") or boutique.get("calls") or {}
    return World(
        namespace=namespace,
        istio_namespace=istio.get("namespace", "istio-system"),
        istio_version=str(istio.get("version", "")),
        workloads=running,
        edges=edges,
        addons=model.get("addons") or {},
        objects=b.objects,
        started=b.clock.started,
        changes=b.changes,
        calls=tuple((str(src), str(dst)) for src, callees in calls.items() for dst in callees or ()),
    )


def _cluster(b: Builder) -> None:
    model = b.model
    version = model["kubernetes_version"]
    for index, spec in enumerate(model["nodes"]):
        b.add(
            "nodes",
            k.node(
                b.clock,
                spec["name"],
                version=version,
                index=index,
                control_plane=spec.get("control_plane", False),
                ready=spec.get("ready", True),
                cordoned=spec.get("cordoned", False),
                pressure=spec.get("pressure"),
                address=spec.get("address"),
            ),
        )
    for name in ("default", "kube-system", "kube-public", "kube-node-lease", "local-path-storage"):
        b.add("namespaces", k.namespace(b.clock, name))
    if model.get("system") == "kind":
        kindcluster.build(b)
        return
    failing = list(model.get("system_pods_failing") or [])
    system = {
        "coredns": "registry.k8s.io/coredns/coredns:v1.11.1",
        "etcd": "registry.k8s.io/etcd:3.5.10-0",
        "kube-apiserver": f"registry.k8s.io/kube-apiserver:{version}",
        "kube-scheduler": f"registry.k8s.io/kube-scheduler:{version}",
    }
    for extra in failing:  # a failing add-on of kube-system's own (metrics-server, a CNI's controller)
        system.setdefault(extra, f"registry.k8s.io/{extra}/{extra}:v0.7.2")
    for name, image in system.items():
        label = "kube-dns" if name == "coredns" else name  # kubeadm's and kind's label on CoreDNS
        b.workload(
            name, "kube-system", [k.container(name, image)], labels={"k8s-app": label}, available=name not in failing
        )


def _dashboard(b: Builder) -> None:
    spec = b.model["dashboard"]
    if not spec.get("deployed"):
        return
    ns = "kubernetes-dashboard"
    b.add("namespaces", k.namespace(b.clock, ns))
    labels = {"k8s-app": "kubernetes-dashboard"}
    b.workload(
        "kubernetes-dashboard",
        ns,
        [k.container("kubernetes-dashboard", "kubernetesui/dashboard:v2.7.0", [8443])],
        labels=labels,
        available=spec.get("available", True),
        service_account="kubernetes-dashboard",
    )
    b.workload(
        "dashboard-metrics-scraper",
        ns,
        [k.container("dashboard-metrics-scraper", "kubernetesui/metrics-scraper:v1.0.8", [8000])],
        labels={"k8s-app": "dashboard-metrics-scraper"},
    )
    if spec.get("service", True):
        node_port = spec.get("service_type") == "NodePort"  # the lab edited it to NodePort 30000
        port = {"port": 443, "targetPort": 8443, **({"nodePort": spec["node_port"]} if spec.get("node_port") else {})}
        b.add(
            "services",
            k.service(
                b.clock,
                "kubernetes-dashboard",
                ns,
                labels=labels,
                selector=labels,
                ports=[port],
                kind="NodePort" if node_port else "ClusterIP",
            ),
        )
    b.add("serviceaccounts", k.service_account(b.clock, "kubernetes-dashboard", ns))
    account = spec.get("admin_account")
    if account:
        admin_ns = spec.get("admin_namespace") or ns
        b.add("serviceaccounts", k.service_account(b.clock, account, admin_ns))
        if release(b.model["kubernetes_version"]) < (1, 24):  # the token controller still made a Secret per account
            b.add("secrets", k.token_secret(b.clock, account, admin_ns))
        if spec.get("admin_role"):
            b.add(
                "clusterrolebindings",
                k.cluster_role_binding(
                    b.clock,
                    account,
                    spec["admin_role"],
                    [{"kind": "ServiceAccount", "name": account, "namespace": admin_ns}],
                ),
            )
    b.add(
        "clusterroles",
        k.cluster_role(
            b.clock,
            "cluster-admin",
            [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}],
        ),
    )
    b.add(
        "clusterroles",
        k.cluster_role(
            b.clock, "view", [{"apiGroups": [""], "resources": ["pods", "services"], "verbs": ["get", "list", "watch"]}]
        ),
    )


def _istio(b: Builder) -> None:
    istio = b.model["istio"]
    ns = istio["namespace"]
    version = istio["version"]
    b.add("namespaces", k.namespace(b.clock, ns))
    b.workload(
        "istiod",
        ns,
        [k.container("discovery", f"docker.io/istio/pilot:{version}", [8080, 15010, 15017])],
        labels={"app": "istiod", "istio": "pilot", "istio.io/rev": "default"},
        available=istio.get("istiod_available", True),
        service_account="istiod",
    )
    b.add(
        "services",
        k.service(
            b.clock,
            "istiod",
            ns,
            selector={"app": "istiod", "istio": "pilot"},
            labels={"app": "istiod", "istio": "pilot"},
            ports=[{"name": "grpc-xds", "port": 15010}, {"name": "https-webhook", "port": 443, "targetPort": 15017}],
        ),
    )
    if istio.get("webhook", True):
        b.add("mutatingwebhookconfigurations", k.sidecar_webhook(b.clock, ns))
    gateways = [("istio-ingressgateway", "ingressgateway")] if b.model["ingress"]["kind"] == "classic" else []
    if istio.get("egress_gateway"):
        gateways.append(("istio-egressgateway", "egressgateway"))
    for name, role in gateways:
        labels = {"app": name, "istio": role}
        b.workload(
            name,
            ns,
            [
                k.container(
                    "istio-proxy",
                    f"docker.io/istio/proxyv2:{b.proxy_version}",
                    [8080, 8443, 15090],
                    args=["proxy", "router"],
                )
            ],
            labels=labels,
            available=istio.get("ingress_available", True) if role == "ingressgateway" else True,
            annotations={
                "prometheus.io/port": "15020",
                "prometheus.io/scrape": "true",
                "prometheus.io/path": "/stats/prometheus",
            },
            service_account=f"{name}-service-account",
        )


def _boutique(b: Builder) -> tuple[tuple[str, str], ...]:
    spec = b.model["boutique"]
    ns = spec["namespace"]
    injection = spec.get("injection", "label")
    labels = (
        {"istio-injection": "enabled"}
        if injection == "label"
        else ({"istio.io/rev": "default"} if injection == "rev" else {})
    )
    if ns == "default":
        b.objects["namespaces"] = [n for n in b.objects["namespaces"] if n["metadata"]["name"] != "default"]
    b.add("namespaces", k.namespace(b.clock, ns, labels))
    if not spec.get("deployed", True):
        return ()
    unavailable = set(spec.get("unavailable") or []) | {w for w in spec["workloads"] if b.down(w) is not None}
    proxy_not_ready = set(spec.get("proxy_not_ready") or [])
    restarts = spec.get("restarts") or {}
    release = spec.get("release", "v0.8.0")
    # Where the images come from: the release's registry, or a mirror (the lab's gcr.lank8s.cn).
    registry = spec.get("registry", "us-central1-docker.pkg.dev/google-samples/microservices-demo")
    for name, (container_name, port) in spec["workloads"].items():
        image = f"{registry}/{name}:{release}"
        if name == "redis-cart":
            image = "redis:alpine"
        containers = [k.container(container_name, image, [port] if port and name != "frontend" else [8080])]
        b.workload(
            name,
            ns,
            containers,
            labels={"app": name},
            available=name not in unavailable,
            sidecar=injection != "none",
            proxy_ready=name not in proxy_not_ready,
            restarts=int(restarts.get(name, 0)),
            service_account=name if name != "redis-cart" else "default",
        )
        if port:
            redis_port = spec.get("redis_port_name", "tcp-redis")  # "tls-redis" in the v0.4.0 manifests
            port_name = redis_port if name == "redis-cart" else ("http" if name == "frontend" else "grpc")
            target = 8080 if name in ("frontend", "emailservice") else port
            b.add(
                "services",
                k.service(
                    b.clock,
                    name,
                    ns,
                    selector={"app": name},
                    labels={"app": name},
                    ports=[{"name": port_name, "port": port, "targetPort": target}],
                ),
            )
    if spec.get("frontend_external"):
        b.add(
            "services",
            k.service(
                b.clock,
                "frontend-external",
                ns,
                kind="LoadBalancer",
                selector={"app": "frontend"},
                ports=[{"name": "http", "port": 80, "targetPort": 8080}],
                lb_ingress=[{"ip": "172.18.255.201", "ipMode": "VIP"}],
            ),
        )
    running = {name for name in spec["workloads"] if name not in unavailable}
    missing = {tuple(e) for e in (b.model.get("traffic") or {}).get("missing_edges") or []}
    return tuple(
        (src, dst)
        for src, callees in spec["calls"].items()
        for dst in callees
        if src in running and dst in running and (src, dst) not in missing
    )


def _lb_ingress(b: Builder) -> list[Obj] | None:
    address = b.model["ingress"].get("address", "storefront")
    if address == "pending" or b.storefront_ip is None:
        return None
    return [{"ip": b.storefront_ip, "ipMode": "VIP"}]


def _ingress(b: Builder) -> None:
    ingress = b.model["ingress"]
    istio_ns = b.model["istio"]["namespace"]
    ns = b.model["boutique"]["namespace"]
    port = b.storefront_port
    route_host = ingress.get("route_host", "frontend")
    if ingress["kind"] == "classic":
        b.add(
            "services",
            k.service(
                b.clock,
                "istio-ingressgateway",
                istio_ns,
                kind="LoadBalancer",
                selector={"app": "istio-ingressgateway", "istio": "ingressgateway"},
                labels={"app": "istio-ingressgateway", "istio": "ingressgateway"},
                ports=[
                    {"name": "status-port", "port": 15021},
                    {"name": "http2", "port": port, "targetPort": 8080},
                    {"name": "https", "port": 443, "targetPort": 8443},
                ],
                lb_ingress=_lb_ingress(b),
            ),
        )
        group = "networking.istio.io/v1beta1"
        b.add(
            "gateways.networking.istio.io",
            k.custom(
                b.clock,
                group,
                "Gateway",
                "frontend-gateway",
                ns,
                {
                    "selector": dict(ingress.get("gateway_selector") or {"istio": "ingressgateway"}),
                    "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}],
                },
            ),
        )
        b.add(
            "virtualservices.networking.istio.io",
            k.custom(
                b.clock,
                group,
                "VirtualService",
                "frontend-ingress",
                ns,
                {
                    "hosts": ["*"],
                    "gateways": ["frontend-gateway"],
                    "http": [{"route": [{"destination": {"host": route_host, "port": {"number": 80}}}]}],
                },
            ),
        )
        return
    # Online Boutique's Istio component (v0.6+): the Kubernetes Gateway API, gateway deployed by istiod.
    # istiod labels the pods it deploys with istio.io/gateway-name, and from 1.21 also with the Gateway API's
    # standard label (istio/istio#47229).
    gateway_labels = {
        "istio.io/gateway-name": "istio-gateway",
        "gateway.istio.io/managed": "istio.io-gateway-controller",
    }
    if release(b.model["istio"]["version"]) >= (1, 21):
        gateway_labels["gateway.networking.k8s.io/gateway-name"] = "istio-gateway"
    b.workload(
        "istio-gateway-istio",
        ns,
        [
            k.container(
                "istio-proxy", f"docker.io/istio/proxyv2:{b.proxy_version}", [15021, 15090], args=["proxy", "router"]
            )
        ],
        labels=gateway_labels,
        available=b.model["istio"].get("ingress_available", True),
        service_account="istio-gateway-istio",
    )
    lb = _lb_ingress(b)
    b.add(
        "services",
        k.service(
            b.clock,
            "istio-gateway-istio",
            ns,
            kind="LoadBalancer",
            selector=gateway_labels,
            labels=gateway_labels,
            lb_ingress=lb,
            ports=[{"name": "status-port", "port": 15021}, {"name": "http", "port": port, "targetPort": 80}],
        ),
    )
    addresses = [{"type": "IPAddress", "value": lb[0]["ip"]}] if lb else []
    b.add(
        "gateways.gateway.networking.k8s.io",
        k.custom(
            b.clock,
            "gateway.networking.k8s.io/v1",
            "Gateway",
            "istio-gateway",
            ns,
            {
                "gatewayClassName": "istio",
                "listeners": [
                    {"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "Same"}}}
                ],
            },
            {
                "addresses": addresses,
                "conditions": [
                    {
                        "type": "Accepted",
                        "status": "True",
                        "reason": "Accepted",
                        "message": "Resource accepted",
                        "observedGeneration": 1,
                        "lastTransitionTime": b.clock.at(60),
                    },
                    {
                        "type": "Programmed",
                        "status": "True" if lb else "False",
                        "reason": "Programmed" if lb else "AddressNotAssigned",
                        "message": "Resource programmed"
                        if lb
                        else "Assigned to service(s), but failed to assign to all requested addresses",
                        "observedGeneration": 1,
                        "lastTransitionTime": b.clock.at(60),
                    },
                ],
            },
        ),
    )
    b.add(
        "httproutes.gateway.networking.k8s.io",
        k.custom(
            b.clock,
            "gateway.networking.k8s.io/v1",
            "HTTPRoute",
            "frontend-route",
            ns,
            {
                "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "istio-gateway"}],
                "rules": [
                    {
                        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                        "backendRefs": [{"group": "", "kind": "Service", "name": route_host, "port": 80, "weight": 1}],
                    }
                ],
            },
        ),
    )


def _metallb(b: Builder) -> None:
    spec = b.model.get("metallb") or {}
    if not spec.get("installed"):
        return
    ns = "metallb-system"
    version = spec.get("version", "v0.13.12")
    b.add("namespaces", k.namespace(b.clock, ns, {"app": "metallb"}))
    b.workload(
        "controller",
        ns,
        [k.container("controller", f"quay.io/metallb/controller:{version}", [7472])],
        labels={"app": "metallb", "component": "controller"},
    )
    pool = spec.get("pool", "auto")
    if pool == "auto":
        base = (b.storefront_ip or "172.18.255.200").rsplit(".", 1)[0]
        pool = f"{base}.1-{base}.254"
    legacy = release(version) < (0, 13)
    if legacy:
        config = {"address-pools": [{"name": "default", "protocol": "layer2", "addresses": [pool]}]}
        b.add("configmaps", k.config_map(b.clock, "config", ns, {"config": yaml.safe_dump(config)}))
        return
    b.add(
        "ipaddresspools.metallb.io",
        k.custom(
            b.clock,
            "metallb.io/v1beta1",
            "IPAddressPool",
            "default-pool",
            ns,
            {"addresses": [pool], "autoAssign": True, "avoidBuggyIPs": False},
        ),
    )
    if spec.get("l2_advertisement", True):
        b.add(
            "l2advertisements.metallb.io",
            k.custom(
                b.clock, "metallb.io/v1beta1", "L2Advertisement", "default", ns, {"ipAddressPools": ["default-pool"]}
            ),
        )


ADDON_IMAGES = {
    "prometheus": ("prometheus-server", "prom/prometheus:v2.41.0", 9090, {"app": "prometheus"}),
    "kiali": ("kiali", "quay.io/kiali/kiali:v1.76.0", 20001, {"app": "kiali"}),
    "tracing": ("jaeger", "docker.io/jaegertracing/all-in-one:1.46", 16686, {"app": "jaeger"}),
    "grafana": ("grafana", "grafana/grafana:10.1.5", 3000, {"app.kubernetes.io/name": "grafana"}),
}


ZIPKIN = ("zipkin", "openzipkin/zipkin-slim:2.23.14", 9411, {"app": "zipkin"})  # samples/addons/extras/zipkin.yaml

# Istio's samples/addons: jaeger.yaml serves the query UI/API behind `tracing` (HTTP on 80, gRPC on
# 16685, where Kiali queries by default) and collects Zipkin spans on `zipkin`; extras/zipkin.yaml
# serves Zipkin behind both names. (name, port, targetPort, port name)
TRACING_SERVICES = {
    "jaeger": (("tracing", 80, 16686, "http-query"), ("tracing", 16685, 16685, "grpc-query"),
               ("zipkin", 9411, 9411, "http-query")),
    "zipkin": (("tracing", 80, 9411, "http-query"), ("zipkin", 9411, 9411, "http-query")),
}


def _addons(b: Builder) -> None:
    """Istio's add-ons as samples/addons installs them; ``node_ports: {port: nodePort}`` makes an add-on's
    Service a NodePort one, the way the lab patched kiali, tracing, prometheus and grafana."""
    ns = (b.model.get("istio") or {}).get("namespace", "istio-system")
    addons = b.model.get("addons") or {}
    for addon, (container, image, port, labels) in ADDON_IMAGES.items():
        if addon not in addons or (addons[addon] or {}).get("installed") is False:
            continue
        knobs = addons[addon] or {}
        deployment = {"prometheus": "prometheus", "tracing": "jaeger"}.get(addon, addon)
        available = knobs.get("available", True) is not False
        if addon == "kiali":
            image = f"quay.io/kiali/kiali:{sim_kiali.kiali_version(knobs)}"
        if addon == "tracing" and knobs.get("backend") == "zipkin":  # extras/zipkin.yaml: its own Deployment and pods
            deployment, (container, image, port, labels) = "zipkin", ZIPKIN
        b.workload(deployment, ns, [k.container(container, image, [port])], labels=labels, available=available)
        node_ports = {int(p): int(n) for p, n in (knobs.get("node_ports") or {}).items()}
        if addon == "tracing":
            backend = knobs.get("backend", "jaeger")
            by_name: dict[str, list[Obj]] = {}
            for name, service_port, target, port_name in TRACING_SERVICES[backend]:
                by_name.setdefault(name, []).append({"name": port_name, "port": service_port, "targetPort": target})
            for name, ports in by_name.items():
                b.add("services", _service(b, name, ns, ports, labels, {"app": backend},
                                           node_ports if name == "tracing" else {}))
            continue
        name = {"grafana": "grafana", "kiali": "kiali", "prometheus": "prometheus"}[addon]
        port_name = {"kiali": "http", "grafana": "service", "prometheus": "http"}[addon]
        b.add("services", _service(b, name, ns, [{"name": port_name, "port": port}], labels, labels, node_ports))
        if addon == "kiali":
            b.add("configmaps", k.config_map(b.clock, "kiali", ns, sim_kiali.config_map_data(knobs, ns),
                                             labels={"app": "kiali", "app.kubernetes.io/name": "kiali"}))


def _service(b: Builder, name: str, ns: str, ports: list[Obj], selector: dict[str, str], labels: dict[str, str],
             node_ports: dict[int, int]) -> Obj:
    if node_ports:
        ports = [{**p, **({"nodePort": node_ports[p["port"]]} if p["port"] in node_ports else {})} for p in ports]
    return k.service(b.clock, name, ns, selector=selector, labels=labels, ports=ports,
                     kind="NodePort" if node_ports else "ClusterIP")
