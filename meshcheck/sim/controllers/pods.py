"""Pods made from a workload's template, and what the scheduler and kubelet then do with them.

A controller (ReplicaSet, DaemonSet) creates a pod through the API, so it passes admission (Istio's
injector may add its sidecar, or refuse it while istiod is down: the controller tries again); the
scheduler places it on a node whose taints it tolerates and whose labels its nodeSelector names
(pkg/scheduler/framework/plugins: TaintToleration, NodeAffinity); kubelet starts it: Pending with
its containers being created, then, ``ready_after`` seconds later, Running and Ready. The status
fields are those ``kinds.pod`` gives a built pod, so a written cluster reads like a built one.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from meshcheck.sim import admission, defaults
from meshcheck.sim import kinds as k
from meshcheck.sim.resources import BUILTIN
from meshcheck.sim.store import Store, stamp
from meshcheck.sim.world import World

Obj = dict[str, Any]
PODS = next(r for r in BUILTIN if r.plural == "pods")
# What the DefaultTolerationSeconds admission plugin adds to every pod.
DEFAULT_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
]


def tolerates(tolerations: list[Obj], taint: Obj) -> bool:
    """v1 Toleration.ToleratesTaint: same effect (or none given), and Exists on the key (or any key) or Equal."""
    for toleration in tolerations:
        if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
            continue
        if toleration.get("operator", "Equal") == "Exists":
            if not toleration.get("key") or toleration["key"] == taint.get("key"):
                return True
        elif toleration.get("key") == taint.get("key") and toleration.get("value", "") == taint.get("value", ""):
            return True
    return False


def fits(node: Obj, pod_spec: Obj) -> bool:
    """The node takes the pod: its NoSchedule/NoExecute taints tolerated, its labels the nodeSelector's."""
    tolerations = pod_spec.get("tolerations") or []
    for taint in node.get("spec", {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(tolerations, taint):
            return False
    labels = node["metadata"].get("labels") or {}
    return all(labels.get(key) == value for key, value in (pod_spec.get("nodeSelector") or {}).items())


def node_address(node: Obj) -> str:
    return next((a["address"] for a in node.get("status", {}).get("addresses") or [] if a.get("type") == "InternalIP"),
                "")


def next_ip(world: World, node: Obj) -> str:
    """A free address of the node's pod CIDR (kindnet's host-local IPAM)."""
    cidr = node.get("spec", {}).get("podCIDR") or "10.244.0.0/24"
    base = cidr.split("/")[0].rsplit(".", 1)[0]
    used = {p.get("status", {}).get("podIP") for p in world.of_kind("pods")}
    for host in range(2, 255):
        if f"{base}.{host}" not in used:
            return f"{base}.{host}"
    return f"{base}.254"


def create(world: World, store: Store, template: Obj, *, name: str, namespace: str, owner: Obj, node: Obj | None,
           labels: dict[str, str]) -> Obj | None:
    """Create a pod of ``template`` through admission; None when admission refused it (a webhook down)."""
    spec = defaults.pod_spec(copy.deepcopy(template.get("spec") or {}))
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec.update(serviceAccountName=account, serviceAccount=account)
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 0)
    tolerations = list(spec.get("tolerations") or [])
    spec["tolerations"] = tolerations + [t for t in DEFAULT_TOLERATIONS if not any(
        x.get("key") == t["key"] and x.get("effect") == t["effect"] for x in tolerations)]
    if node is not None:
        spec["nodeName"] = node["metadata"]["name"]
    metadata: Obj = {
        "name": name,
        "generateName": name.rsplit("-", 1)[0] + "-",
        "namespace": namespace,
        "labels": dict(labels),
        "ownerReferences": [owner],
    }
    annotations = (template.get("metadata") or {}).get("annotations")
    if annotations:
        metadata["annotations"] = dict(annotations)
    pod, refused = admission.admit(world, "CREATE", PODS, "v1", {"metadata": metadata, "spec": spec})
    if refused is not None:
        return None
    now = time.time()
    pod["status"] = kubelet_status(world, pod, node, created=now, up=None)
    return store.create("pods", pod, generation=False)


def start(world: World, pod: Obj, node: Obj | None, created: float) -> Obj:
    """The pod once kubelet has started every container and they passed their readiness probes."""
    started = copy.deepcopy(pod)
    started["status"] = kubelet_status(world, pod, node, created=created, up=time.time())
    return started


def kubelet_status(world: World, pod: Obj, node: Obj | None, *, created: float, up: float | None) -> Obj:
    """The status kubelet reports: Pending (containers being created) or Running and ready since ``up``;
    Pending and unschedulable without a node."""
    now = time.time()
    clock = k.Clock(world.started, now)
    if node is None:
        count = len(world.of_kind("nodes"))
        message = (f"0/{count} nodes are available: the pod tolerates no node's taints or does not match its "
                   f"nodeSelector. preemption: 0/{count} nodes are available.")
        return {"phase": "Pending", "qosClass": "BestEffort", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
             "lastTransitionTime": stamp(created), "message": message}]}
    spec = pod["spec"]
    life = k.Timeline(max(now - created, 0.0), None if up is None else max(now - up, 0.0))
    built = k.pod(
        clock,
        pod["metadata"]["name"],
        pod["metadata"]["namespace"],
        labels=pod["metadata"].get("labels") or {},
        containers=spec.get("containers") or [],
        node_name=node["metadata"]["name"],
        ip=pod.get("status", {}).get("podIP") or next_ip(world, node),
        init_containers=spec.get("initContainers") or [],
        life=life,
    )
    status = built["status"]
    host = node_address(node)
    status["hostIP"] = host
    status["hostIPs"] = [{"ip": host}]
    return status
