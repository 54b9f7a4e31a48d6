"""Deployments and DaemonSets, as kube-controller-manager rolls them out (pkg/controller/deployment,
pkg/controller/replicaset, pkg/controller/daemon), and the pods they own.

A Deployment's pods belong to the ReplicaSet of its current template, ``<deployment>-<pod-template-hash>``
(the ReplicaSet itself is not served here), and are named ``<replicaset>-<5 characters>``. A changed
template starts a new ReplicaSet: its pods are created, and once they are all ready the old ones are
deleted. Its status follows its pods: ``replicas``, ``updatedReplicas``, ``readyReplicas``,
``availableReplicas`` (zero counts omitted, as the API omits them), ``observedGeneration``, and the
conditions Available (MinimumReplicasAvailable once ``replicas - maxUnavailable`` pods are
available) and Progressing (NewReplicaSetCreated, ReplicaSetUpdated, then NewReplicaSetAvailable,
with the controller's messages). A condition keeps its times while its status and reason hold.

A DaemonSet runs one pod per node that takes it (taints, nodeSelector), named ``<daemonset>-<5
characters>``, labelled ``controller-revision-hash`` and ``pod-template-generation``; its status counts
desired, current, ready, available and updated pods.

Pods whose owning workload is gone are deleted (the garbage collector). A workload first seen with its
status already observed (one a scenario built) keeps the pods it has.
"""

from __future__ import annotations

import copy
import json
import math
import time
from typing import Any

from meshcheck.sim import kinds as k
from meshcheck.sim.controllers import Context, pods
from meshcheck.sim.endpoints import pod_ready
from meshcheck.sim.store import stamp

Obj = dict[str, Any]
MANAGER = "kube-controller-manager"


def sync(ctx: Context) -> float | None:
    """One pass over every Deployment and DaemonSet; the seconds until a pod of theirs will be ready."""
    waits: list[float] = []
    for deployment in ctx.world.of_kind("deployments"):
        waits += _deployment(ctx, deployment)
    for daemon_set in ctx.world.of_kind("daemonsets"):
        waits += _daemon_set(ctx, daemon_set)
    _collect_orphans(ctx)
    waits += _kubelet(ctx)
    return min(waits) if waits else None


# --- Deployments ----------------------------------------------------------------------------------


def template_hash(template: Obj) -> str:
    """A pod-template-hash: what the controller derives from the template (a stable hash, its alphabet)."""
    return k._hash(json.dumps(template, sort_keys=True), length=10)


def _owner_name(pod: Obj) -> str:
    return next((o.get("name", "") for o in pod["metadata"].get("ownerReferences") or [] if o.get("controller")), "")


def _owned(ctx: Context, kind: str, obj: Obj) -> list[Obj]:
    ns, name = obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
    found = []
    for pod in ctx.world.of_kind("pods", ns):
        for ref in pod["metadata"].get("ownerReferences") or []:
            if not ref.get("controller"):
                continue
            mine = ref.get("kind") == "DaemonSet" and ref.get("name") == name if kind == "DaemonSet" else (
                ref.get("kind") == "ReplicaSet" and _deployment_of(ref) == name)
            if mine:
                found.append(pod)
    return found


def _deployment_of(ref: Obj) -> str:
    """The Deployment a ReplicaSet name belongs to: ``<deployment>-<pod-template-hash>``."""
    return str(ref.get("name", "")).rsplit("-", 1)[0]


def _revision(ctx: Context, kind: str, obj: Obj, own: list[Obj]) -> str:
    """The name of the workload's current revision (ReplicaSet, or controller-revision-hash), adopting the
    one its pods already run when the workload was built with its rollout done."""
    metadata, template = obj["metadata"], obj["spec"].get("template") or {}
    key = (kind, metadata.get("namespace", ""), metadata["name"])
    digest = template_hash(template)
    known = ctx.revisions.get(key)
    if known is None and own and (obj.get("status") or {}).get("observedGeneration") == metadata.get("generation"):
        current = _owner_name(own[0]) if kind == "Deployment" else own[0]["metadata"].get("labels", {}).get(
            "controller-revision-hash", digest)
        known = (digest, current)
    if known is None or known[0] != digest:
        known = (digest, f"{metadata['name']}-{digest}" if kind == "Deployment" else digest)
    ctx.revisions[key] = known
    return known[1]


def _deployment(ctx: Context, deployment: Obj) -> list[float]:
    spec, metadata = deployment["spec"], deployment["metadata"]
    ns = metadata.get("namespace", "")
    replicas = int(spec.get("replicas", 1))
    own = _owned(ctx, "Deployment", deployment)
    replica_set = _revision(ctx, "Deployment", deployment, own)
    current = [p for p in own if _owner_name(p) == replica_set]
    waits: list[float] = []
    if len(current) < replicas and not spec.get("paused"):
        template = spec.get("template") or {}
        labels = {**((template.get("metadata") or {}).get("labels") or {}),
                  "pod-template-hash": replica_set.rsplit("-", 1)[-1]}
        owner = k.owner("ReplicaSet", replica_set, ns)
        taken = {p["metadata"]["name"] for p in own}
        for index in range(replicas * 4):
            if len(current) >= replicas:
                break
            pod_name = f"{replica_set}-{k._hash(replica_set, str(index), length=5)}"
            if pod_name in taken:
                continue
            node = _place(ctx, template.get("spec") or {})
            made = pods.create(ctx.world, ctx.store, template, name=pod_name, namespace=ns, owner=owner, node=node,
                               labels=labels)
            if made is None:
                waits.append(1.0)  # admission refused it (a webhook is down): the ReplicaSet tries again
                break
            ctx.born[made["metadata"]["uid"]] = time.time()
            current.append(made)
            taken.add(pod_name)
    for extra in sorted(current, key=lambda p: p["metadata"]["name"])[replicas:]:
        ctx.store.delete("pods", ns, extra["metadata"]["name"])
        current.remove(extra)
    old = [p for p in own if _owner_name(p) != replica_set]
    if old and len(current) >= replicas and all(pod_ready(p) for p in current):
        for pod in old:
            ctx.store.delete("pods", ns, pod["metadata"]["name"])
        old = []
    _deployment_status(ctx, deployment, replica_set, current, old)
    return waits


def _max_unavailable(spec: Obj, replicas: int) -> int:
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0
    value = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", "25%")
    if isinstance(value, str) and value.endswith("%"):
        return math.floor(replicas * int(value[:-1]) / 100)
    return int(value)


def _deployment_status(ctx: Context, deployment: Obj, replica_set: str, current: list[Obj], old: list[Obj]) -> None:
    spec, metadata = deployment["spec"], deployment["metadata"]
    replicas = int(spec.get("replicas", 1))
    ready_new = sum(pod_ready(p) for p in current)
    ready = ready_new + sum(pod_ready(p) for p in old)
    total = len(current) + len(old)
    counts = {"replicas": total, "updatedReplicas": len(current), "readyReplicas": ready, "availableReplicas": ready,
              "unavailableReplicas": max(max(total, replicas) - ready, 0)}
    status: Obj = {"observedGeneration": metadata.get("generation", 1)}
    status.update({key: value for key, value in counts.items() if value})
    available = ready >= replicas - _max_unavailable(spec, replicas)
    complete = len(current) == replicas and ready_new == replicas and not old
    previous = {c.get("type"): c for c in (deployment.get("status") or {}).get("conditions") or []}
    last = previous.get("Progressing") or {}
    if complete:
        progressing = ("NewReplicaSetAvailable", f'ReplicaSet "{replica_set}" has successfully progressed.')
    elif f'"{replica_set}"' not in str(last.get("message", "")) or last.get("reason") == "NewReplicaSetAvailable":
        progressing = ("NewReplicaSetCreated", f'Created new replica set "{replica_set}"')
    elif ready_new:
        progressing = ("ReplicaSetUpdated", f'ReplicaSet "{replica_set}" is progressing.')
    else:  # nothing has moved since the ReplicaSet was created or last progressed
        progressing = (last["reason"], last.get("message", ""))
    status["conditions"] = [
        _condition(previous.get("Available"), "Available", available,
                   ("MinimumReplicasAvailable", "Deployment has minimum availability.") if available else
                   ("MinimumReplicasUnavailable", "Deployment does not have minimum availability.")),
        _condition(previous.get("Progressing"), "Progressing", True, progressing),
    ]
    _save_status(ctx, "deployments", deployment, status)


def _condition(previous: Obj | None, kind: str, ok: bool, why: tuple[str, str]) -> Obj:
    """A Deployment condition: kept as it was while nothing about it changed; lastUpdateTime moves with its
    reason or message, lastTransitionTime with its status."""
    now, value = stamp(), "True" if ok else "False"
    if previous and (previous.get("status"), previous.get("reason"), previous.get("message")) == (value, *why):
        return previous
    moved = not previous or previous.get("status") != value
    return {"type": kind, "status": value, "lastUpdateTime": now,
            "lastTransitionTime": now if moved else previous.get("lastTransitionTime", now),
            "reason": why[0], "message": why[1]}


def _save_status(ctx: Context, key: str, obj: Obj, status: Obj) -> None:
    if obj.get("status") == status:
        return
    updated = copy.deepcopy(obj)
    updated["status"] = status
    ctx.store.save(key, updated, manager=MANAGER, operation="Update", api_version="apps/v1", subresource="status",
                   fields={"f:status": {f"f:{field}": {} for field in status}})


def _place(ctx: Context, pod_spec: Obj) -> Obj | None:
    """The scheduler's choice: a Ready node that takes the pod, the one running fewest pods."""
    candidates = [n for n in ctx.world.of_kind("nodes") if _node_ready(n) and pods.fits(n, _tolerating(pod_spec))]
    if not candidates:
        return None
    load = {n["metadata"]["name"]: 0 for n in candidates}
    for pod in ctx.world.of_kind("pods"):
        node = (pod.get("spec") or {}).get("nodeName")
        if node in load:
            load[node] += 1
    return min(candidates, key=lambda n: (load[n["metadata"]["name"]], n["metadata"]["name"]))


def _tolerating(pod_spec: Obj) -> Obj:
    return {**pod_spec, "tolerations": [*(pod_spec.get("tolerations") or []), *pods.DEFAULT_TOLERATIONS]}


def _node_ready(node: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in node.get("status", {}).get("conditions") or []) and not node.get("spec", {}).get(
        "unschedulable")


# --- DaemonSets -----------------------------------------------------------------------------------

# What the DaemonSet controller adds to its pods' tolerations
# (pkg/controller/daemon/util AddOrUpdateDaemonPodTolerations).
DAEMON_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


def _daemon_set(ctx: Context, daemon_set: Obj) -> list[float]:
    spec, metadata = daemon_set["spec"], daemon_set["metadata"]
    ns, name = metadata.get("namespace", ""), metadata["name"]
    template = copy.deepcopy(spec.get("template") or {})
    pod_spec = template.setdefault("spec", {})
    pod_spec["tolerations"] = [*(pod_spec.get("tolerations") or []), *DAEMON_TOLERATIONS]
    nodes = [n for n in ctx.world.of_kind("nodes") if pods.fits(n, pod_spec)]
    own = _owned(ctx, "DaemonSet", daemon_set)
    revision = _revision(ctx, "DaemonSet", daemon_set, own)
    owner = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": name, "uid": metadata.get("uid", ""),
             "controller": True, "blockOwnerDeletion": True}
    labels = {**((template.get("metadata") or {}).get("labels") or {}), "controller-revision-hash": revision,
              "pod-template-generation": str(metadata.get("generation", 1))}
    waits: list[float] = []
    on_node = {(p.get("spec") or {}).get("nodeName"): p for p in own
               if p["metadata"].get("labels", {}).get("controller-revision-hash") == revision}
    for node in nodes:
        node_name = node["metadata"]["name"]
        if node_name in on_node:
            continue
        pod_name = f"{name}-{k._hash(name, revision, node_name, length=5)}"
        made = pods.create(ctx.world, ctx.store, template, name=pod_name, namespace=ns, owner=owner, node=node,
                           labels=labels)
        if made is None:
            waits.append(1.0)
            continue
        ctx.born[made["metadata"]["uid"]] = time.time()
        on_node[node_name] = made
    current = list(on_node.values())
    for pod in own:
        node_name = (pod.get("spec") or {}).get("nodeName")
        stale = pod["metadata"].get("labels", {}).get("controller-revision-hash") != revision
        replaced = stale and pod_ready(on_node.get(node_name) or {})
        if replaced or node_name not in {n["metadata"]["name"] for n in nodes}:
            ctx.store.delete("pods", ns, pod["metadata"]["name"])
    ready = sum(pod_ready(p) for p in current)
    status: Obj = {
        "currentNumberScheduled": len(current),
        "desiredNumberScheduled": len(nodes),
        "numberMisscheduled": 0,
        "numberReady": ready,
        "observedGeneration": metadata.get("generation", 1),
    }
    extra = {"updatedNumberScheduled": len(current), "numberAvailable": ready,
             "numberUnavailable": max(len(nodes) - ready, 0)}
    status.update({key: value for key, value in extra.items() if value})
    _save_status(ctx, "daemonsets", daemon_set, status)
    return waits


# --- the garbage collector and kubelet ------------------------------------------------------------


def _collect_orphans(ctx: Context) -> None:
    """Pods whose Deployment or DaemonSet was deleted go too (background cascading deletion)."""
    live = {("Deployment", d["metadata"].get("namespace", ""), d["metadata"]["name"])
            for d in ctx.world.of_kind("deployments")}
    live |= {("DaemonSet", d["metadata"].get("namespace", ""), d["metadata"]["name"])
             for d in ctx.world.of_kind("daemonsets")}
    for pod in ctx.world.of_kind("pods"):
        ns = pod["metadata"].get("namespace", "")
        for ref in pod["metadata"].get("ownerReferences") or []:
            kind, name = ref.get("kind"), ref.get("name", "")
            if kind == "ReplicaSet":
                kind, name = "Deployment", name.rsplit("-", 1)[0]
            if kind in ("Deployment", "DaemonSet") and ref.get("controller") and (kind, ns, name) not in live:
                ctx.store.delete("pods", ns, pod["metadata"]["name"])
                ctx.born.pop(pod["metadata"].get("uid", ""), None)


def _kubelet(ctx: Context) -> list[float]:
    """Start the pods made here whose time has come; the seconds until the next one will."""
    waits = []
    now = time.time()
    nodes = {n["metadata"]["name"]: n for n in ctx.world.of_kind("nodes")}
    for pod in ctx.world.of_kind("pods"):
        uid = pod["metadata"].get("uid", "")
        created = ctx.born.get(uid)
        if created is None or (pod.get("status") or {}).get("phase") != "Pending":
            continue
        node = nodes.get((pod.get("spec") or {}).get("nodeName", ""))
        if node is None:
            continue
        due = created + ctx.ready_after - now
        if due > 0:
            waits.append(due)
            continue
        ctx.store.save("pods", pods.start(ctx.world, pod, node, created), manager="kubelet", operation="Update",
                       api_version="v1", subresource="status", fields={"f:status": {"f:phase": {}}})
        ctx.born.pop(uid, None)
    return waits
