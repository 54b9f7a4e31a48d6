"""The fields kube-apiserver fills in on every write, so a written object reads back as complete as a
real server returns it (and as strictly as the official client validates it).

Defaults follow SetDefaults_* in pkg/apis/core/v1/defaults.go and pkg/apis/apps/v1/defaults.go of
kubernetes/kubernetes, the Service registry's allocation of cluster IPs and node ports
(pkg/registry/core/service/storage), the Secret strategy (``stringData`` folded into ``data``), the
NamespaceLifecycle label ``kubernetes.io/metadata.name`` and admissionregistration/v1 defaults.
Applied to the whole object after each write: defaulting is idempotent, and a list an apply
replaced gets its defaults again, the values the server allocated (node ports) kept.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from typing import Any

Obj = dict[str, Any]
NODE_PORTS = (30000, 32767)


def default(plural: str, obj: Obj, previous: Obj | None, used_node_ports: set[int]) -> Obj:
    """``obj`` with the server's defaults; ``previous`` is the stored version (values it was given stay)."""
    obj = copy.deepcopy(obj)
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else None
    if plural == "namespaces":
        metadata = obj["metadata"]
        metadata["labels"] = {**(metadata.get("labels") or {}), "kubernetes.io/metadata.name": metadata["name"]}
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = (previous or {}).get("status") or {"phase": "Active"}
    elif plural == "services":
        _service(obj, previous, used_node_ports)
    elif plural == "secrets":
        _secret(obj)
    elif plural in ("deployments", "daemonsets") and spec is not None:
        _workload(plural, spec)
    elif plural == "pods" and spec is not None:
        pod_spec(spec)
    elif plural in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
        for hook in obj.get("webhooks") or []:
            _webhook(hook, mutating=plural.startswith("mutating"))
    elif plural == "customresourcedefinitions" and spec is not None:
        spec.setdefault("conversion", {"strategy": "None"})
    return obj


# --- workloads ------------------------------------------------------------------------------------


def _workload(plural: str, spec: Obj) -> None:
    if plural == "deployments":
        spec.setdefault("replicas", 1)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            strategy["type"] = "RollingUpdate"
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxSurge", "25%")
            rolling.setdefault("maxUnavailable", "25%")
    else:
        strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            strategy["type"] = "RollingUpdate"
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", 1)
            rolling.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        pod_spec(template["spec"])


def pod_spec(spec: Obj) -> Obj:
    """A pod spec's defaults (the template's too: pods are made from it as it is stored)."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if isinstance(container, dict):
            _container(container)
    return spec


def _container(container: Obj) -> None:
    image = str(container.get("image", ""))
    last = image.rsplit("/", 1)[-1].split("@", 1)[0]
    latest = ":" not in last or last.endswith(":latest")
    container.setdefault("imagePullPolicy", "Always" if latest and "@" not in image else "IfNotPresent")
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(container.get(probe), dict):
            found = container[probe]
            found.setdefault("timeoutSeconds", 1)
            found.setdefault("periodSeconds", 10)
            found.setdefault("successThreshold", 1)
            found.setdefault("failureThreshold", 3)
            if isinstance(found.get("httpGet"), dict):
                found["httpGet"].setdefault("scheme", "HTTP")


# --- services -------------------------------------------------------------------------------------


def _service(obj: Obj, previous: Obj | None, used_node_ports: set[int]) -> None:
    spec = obj.setdefault("spec", {})
    old_spec = (previous or {}).get("spec") or {}
    kind = spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if kind != "ExternalName":
        metadata = obj["metadata"]
        cluster_ip = spec.get("clusterIP") or old_spec.get("clusterIP") or _cluster_ip(metadata)
        spec["clusterIP"] = cluster_ip
        spec["clusterIPs"] = spec.get("clusterIPs") or old_spec.get("clusterIPs") or [cluster_ip]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    old_ports = {(p.get("port"), p.get("protocol", "TCP")): p for p in old_spec.get("ports") or []}
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
        if kind in ("NodePort", "LoadBalancer") and not port.get("nodePort"):
            kept = (old_ports.get((port.get("port"), port["protocol"])) or {}).get("nodePort")
            port["nodePort"] = kept or _node_port(obj, port, used_node_ports)
        used_node_ports.add(int(port.get("nodePort") or 0))
    if kind in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if kind == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    status = (previous or {}).get("status") or {"loadBalancer": {}}
    if kind != "LoadBalancer":
        status = {"loadBalancer": {}}
    obj["status"] = copy.deepcopy(status)


def _cluster_ip(metadata: Obj) -> str:
    if metadata.get("namespace") == "default" and metadata.get("name") == "kubernetes":
        return "10.96.0.1"
    digest = int(hashlib.md5(f"{metadata.get('namespace')}/{metadata.get('name')}".encode()).hexdigest()[:6], 16)
    return f"10.96.{digest % 250}.{digest // 256 % 250 + 2}"


def _node_port(obj: Obj, port: Obj, used: set[int]) -> int:
    low, high = NODE_PORTS
    seed = int(hashlib.md5(f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}/{port.get('port')}"
                           .encode()).hexdigest()[:6], 16)
    for step in range(high - low + 1):
        candidate = low + (seed + step) % (high - low + 1)
        if candidate not in used:
            used.add(candidate)
            return candidate
    raise ValueError("no free node port")


# --- the rest -------------------------------------------------------------------------------------


def _secret(obj: Obj) -> None:
    obj.setdefault("type", "Opaque")
    extra = obj.pop("stringData", None) or {}
    if extra:
        data = dict(obj.get("data") or {})
        data.update({k: base64.b64encode(str(v).encode()).decode() for k, v in extra.items()})
        obj["data"] = data


def _webhook(hook: Obj, mutating: bool) -> None:
    hook.setdefault("failurePolicy", "Fail")
    hook.setdefault("matchPolicy", "Equivalent")
    hook.setdefault("namespaceSelector", {})
    hook.setdefault("objectSelector", {})
    hook.setdefault("timeoutSeconds", 10)
    if mutating:
        hook.setdefault("reinvocationPolicy", "Never")
    service = (hook.get("clientConfig") or {}).get("service")
    if isinstance(service, dict):
        service.setdefault("port", 443)
    for rule in hook.get("rules") or []:
        rule.setdefault("scope", "*")
