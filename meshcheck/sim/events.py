"""Events in the simulated cluster: what kubelet, the scheduler and the controllers would have recorded.

Built from the cluster's state whenever Events are asked for (``refresh``), so they follow the world
as it changes, and served as core/v1 ``Event``s (``/api/v1/namespaces/{ns}/events``, field selectors on
``involvedObject.*`` included) and as ``events.k8s.io/v1`` ones (``regarding``, ``note`` and the
``deprecated*`` fields kube-apiserver converts them to). Field names follow the API reference
(core/v1 Event: involvedObject, reason, message, source, firstTimestamp, lastTimestamp, count, type,
eventTime, reportingComponent, reportingInstance). An Event is named ``<object>.<hex of its first
time in Unix nanoseconds>`` as client-go's recorder names it, and lives in its object's namespace
(``default`` for a Node). kube-apiserver keeps Events an hour (``--event-ttl``) after their last
update, so only what happened in the last hour shows, or what keeps happening:

- a container in a crash loop: kubelet's ``BackOff`` Warning "Back-off restarting failed container C in
  pod P_NS(UID)" (pkg/kubelet/kuberuntime), counted over the whole loop, its first time when the loop
  began;
- an image that cannot be pulled: ``BackOff`` "Back-off pulling image "I"" and ``Failed`` "Error:
  ImagePullBackOff";
- a running ``istio-proxy`` that is not ready: ``Unhealthy`` "Readiness probe failed: HTTP probe failed
  with statuscode: 503" (its probe, GET /healthz/ready on 15021, every 15 s while unready);
- a pod without a node: the scheduler's ``FailedScheduling`` Warning "0/N nodes are available: …
  preemption: 0/N nodes are available: N Preemption is not helpful for scheduling." (reasons sorted,
  as kube-scheduler's FitError prints them); a pod scheduled within the hour: ``Scheduled``;
- a Deployment created within the hour: ``ScalingReplicaSet`` "Scaled up replica set RS from 0 to N";
- a node that went NotReady within the hour: node-controller's ``NodeNotReady`` "Node N status is now:
  NodeNotReady".

A scenario adds Events of its own under ``addons.events.extra``: ``{object: Kind/namespace/name, type,
reason, message, count, source}``; a ``Pod`` named after its Deployment means that Deployment's pod.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from meshcheck.sim.printers import Printer, column, human_duration, parse_time
from meshcheck.sim.world import World

Obj = dict[str, Any]

TTL = 3600.0  # kube-apiserver's default --event-ttl
PROXY_PROBE_PERIOD = 15.0  # the injected istio-proxy readinessProbe's periodSeconds
KEY = "events"
KEY_V1 = "events.events.k8s.io"


def refresh(world: World) -> None:
    """Rebuild the world's Events from its objects as they are now (core/v1 and events.k8s.io/v1)."""
    with world.lock:
        built = build(world)
        world.objects[KEY] = built
        world.objects[KEY_V1] = [as_events_v1(e) for e in built]


def build(world: World, now: float | None = None) -> list[Obj]:
    """Every Event the cluster would serve now, oldest first."""
    now = time.time() if now is None else now
    nodes = world.of_kind("nodes")
    found: list[Obj] = []
    for pod in world.of_kind("pods"):
        found += _pod_events(pod, nodes, now)
    for deployment in world.of_kind("deployments"):
        found += _deployment_events(deployment, world.of_kind("pods"), now)
    for node in nodes:
        found += _node_events(node, now)
    found += _extra(world, now)
    return sorted((e for e in found if now - _seconds(e["lastTimestamp"], now) <= TTL),
                  key=lambda e: (e["lastTimestamp"], e["metadata"]["name"]))


# --- what happens to pods -------------------------------------------------------------------------


def _pod_events(pod: Obj, nodes: list[Obj], now: float) -> list[Obj]:
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    node = spec.get("nodeName") or ""
    created = _seconds(meta.get("creationTimestamp"), now)
    found: list[Obj] = []
    if not node and status.get("phase", "Pending") == "Pending":
        message = _unschedulable(pod, nodes)
        if message:
            count = max(1, int((now - created) // 60) + 1)  # the scheduler retries at most every minute or so
            found.append(_event(pod, "Warning", "FailedScheduling", message, "default-scheduler", "", created,
                                now - 5, count))
        return found
    if now - created <= TTL and node:
        found.append(_event(pod, "Normal", "Scheduled", f"Successfully assigned {meta.get('namespace')}/"
                            f"{meta['name']} to {node}", "default-scheduler", "", created, created, 1))
    ready_since = _ready_transition(pod, now)
    pod_ref = f"{meta['name']}_{meta.get('namespace', '')}({meta.get('uid', '')})"
    specs = {c["name"]: (f"spec.containers{{{c['name']}}}", c) for c in spec.get("containers") or []}
    specs.update({c["name"]: (f"spec.initContainers{{{c['name']}}}", c) for c in spec.get("initContainers") or []})
    for entry in list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or []):
        name = entry.get("name", "")
        field_path, container = specs.get(name, (f"spec.containers{{{name}}}", {}))
        state = entry.get("state") or {}
        waiting = (state.get("waiting") or {}).get("reason")
        restarts = int(entry.get("restartCount", 0))
        if waiting == "CrashLoopBackOff":
            found.append(_event(pod, "Warning", "BackOff", f"Back-off restarting failed container {name} in pod "
                                f"{pod_ref}", "kubelet", node, ready_since, now - 5, max(restarts, 1), field_path))
        elif waiting in ("ImagePullBackOff", "ErrImagePull"):
            image = container.get("image") or entry.get("image", "")
            count = max(1, int((now - ready_since) // 300))
            found.append(_event(pod, "Normal", "BackOff", f'Back-off pulling image "{image}"', "kubelet", node,
                                ready_since, now - 20, count, field_path))
            found.append(_event(pod, "Warning", "Failed", "Error: ImagePullBackOff", "kubelet", node,
                                ready_since, now - 20, count, field_path))
        elif name == "istio-proxy" and "running" in state and not entry.get("ready"):
            count = max(1, int((now - ready_since) // PROXY_PROBE_PERIOD))
            found.append(_event(pod, "Warning", "Unhealthy", "Readiness probe failed: HTTP probe failed with "
                                "statuscode: 503", "kubelet", node, ready_since, now - 3, count, field_path))
    return found


def _ready_transition(pod: Obj, now: float) -> float:
    """Since when the pod has been as it is: its Ready condition's last transition (or its creation)."""
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready" and condition.get("lastTransitionTime"):
            return _seconds(condition["lastTransitionTime"], now)
    return _seconds((pod.get("metadata") or {}).get("creationTimestamp"), now)


def _unschedulable(pod: Obj, nodes: list[Obj]) -> str:
    """kube-scheduler's FitError message for a pod that fits no node, or "" when some node would take it."""
    spec = pod.get("spec") or {}
    tolerations = spec.get("tolerations") or []
    selector = spec.get("nodeSelector") or {}
    reasons: Counter[str] = Counter()
    for node in nodes:
        labels = (node.get("metadata") or {}).get("labels") or {}
        taints = [t for t in (node.get("spec") or {}).get("taints") or []
                  if t.get("effect") in ("NoSchedule", "NoExecute") and not _tolerated(t, tolerations)]
        if (node.get("spec") or {}).get("unschedulable"):
            reasons["node(s) were unschedulable"] += 1
        elif taints:
            taint = taints[0]
            reasons[f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}"] += 1
        elif any(labels.get(k) != v for k, v in selector.items()):
            reasons["node(s) didn't match Pod's node affinity/selector"] += 1
    total = len(nodes)
    if sum(reasons.values()) < total or not total:
        return "" if total else "no nodes available to schedule pods"
    parts = sorted(f"{n} {reason}" for reason, n in reasons.items())
    return (f"0/{total} nodes are available: {', '.join(parts)}. preemption: 0/{total} nodes are available: "
            f"{total} Preemption is not helpful for scheduling.")


def _tolerated(taint: Obj, tolerations: list[Obj]) -> bool:
    for toleration in tolerations:
        if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
            continue
        if toleration.get("operator") == "Exists" and (not toleration.get("key") or toleration["key"] == taint["key"]):
            return True
        if toleration.get("key") == taint.get("key") and toleration.get("value", "") == taint.get("value", ""):
            return True
    return False


# --- controllers ----------------------------------------------------------------------------------


def _deployment_events(deployment: Obj, pods: list[Obj], now: float) -> list[Obj]:
    meta = deployment["metadata"]
    created = _seconds(meta.get("creationTimestamp"), now)
    if now - created > TTL:
        return []
    owners = [ref.get("name") for p in pods if p["metadata"].get("namespace") == meta.get("namespace")
              for ref in p["metadata"].get("ownerReferences") or []
              if ref.get("kind") == "ReplicaSet" and str(ref.get("name", "")).startswith(meta["name"] + "-")]
    if not owners:
        return []
    replicas = (deployment.get("spec") or {}).get("replicas", 1)
    return [_event(deployment, "Normal", "ScalingReplicaSet", f"Scaled up replica set {owners[0]} from 0 to "
                   f"{replicas}", "deployment-controller", "", created, created, 1, api_version="apps/v1",
                   kind="Deployment")]


def _node_events(node: Obj, now: float) -> list[Obj]:
    ready = next((c for c in (node.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), None)
    if ready is None or ready.get("status") == "True":
        return []
    since = _seconds(ready.get("lastTransitionTime"), now)
    name = node["metadata"]["name"]
    return [_event(node, "Normal", "NodeNotReady", f"Node {name} status is now: NodeNotReady", "node-controller",
                   "", since, since, 1, kind="Node", uid=name)]


# --- what a scenario adds -------------------------------------------------------------------------


def _extra(world: World, now: float) -> list[Obj]:
    found = []
    for index, spec in enumerate(world.knobs("events").get("extra") or []):
        kind, _, rest = str(spec["object"]).partition("/")
        namespace, _, name = rest.partition("/")
        target = _target(world, kind, namespace, name)
        first = now - float(spec.get("since", 600))
        event = _event(target, str(spec.get("type", "Warning")), str(spec.get("reason", "")),
                       str(spec.get("message", "")), str(spec.get("source", "kubelet")),
                       (target.get("spec") or {}).get("nodeName", "") if kind == "Pod" else "",
                       first, now - 30 - index, int(spec.get("count", 1)), str(spec.get("field_path", "")),
                       kind=kind, api_version="apps/v1" if kind in ("Deployment", "ReplicaSet") else "v1")
        found.append(event)
    return found


def _target(world: World, kind: str, namespace: str, name: str) -> Obj:
    """The object an extra Event is about; a Pod named after its Deployment is that Deployment's first pod."""
    plural = {"Pod": "pods", "Deployment": "deployments", "Service": "services", "Node": "nodes",
              "ConfigMap": "configmaps"}.get(kind, kind.lower() + "s")
    objects = world.of_kind(plural, namespace or None)
    found = next((o for o in objects if o["metadata"]["name"] == name), None)
    if found is None and kind == "Pod":
        found = next((o for o in objects if (o["metadata"].get("labels") or {}).get("app") == name), None)
    return found or {"metadata": {"name": name, "namespace": namespace}}


# --- the Event object -----------------------------------------------------------------------------


def _event(obj: Obj, kind_of_event: str, reason: str, message: str, component: str, host: str, first: float,
           last: float, count: int, field_path: str = "", *, kind: str = "Pod", api_version: str = "v1",
           uid: str | None = None) -> Obj:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace") or "default"
    name = f"{meta.get('name', '')}.{int(first * 1e9):x}"
    last = max(last, first)
    involved: Obj = {"kind": kind, "namespace": meta.get("namespace", ""), "name": meta.get("name", ""),
                     "uid": uid if uid is not None else meta.get("uid", ""), "apiVersion": api_version,
                     "resourceVersion": meta.get("resourceVersion", "")}
    if not involved["namespace"]:
        del involved["namespace"]
    if field_path:
        involved["fieldPath"] = field_path
    source: Obj = {"component": component}
    if host:
        source["host"] = host
    return {
        "metadata": {"name": name, "namespace": namespace,
                     "uid": str(uuid.UUID(hashlib.md5(f"{namespace}/{name}/{reason}".encode()).hexdigest())),
                     "resourceVersion": str(40000 + int(hashlib.md5(name.encode()).hexdigest()[:4], 16)),
                     "creationTimestamp": _stamp(first)},
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": _stamp(first),
        "lastTimestamp": _stamp(last),
        "count": count,
        "type": kind_of_event,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": host,
    }


def as_events_v1(event: Obj) -> Obj:
    """The same Event as events.k8s.io/v1 serves it (kube-apiserver's conversion of a core/v1 Event that
    client-go's recorder wrote: no eventTime nor series, the old fields kept as deprecated*)."""
    return {
        "metadata": event["metadata"],
        "eventTime": event.get("eventTime"),
        "reportingController": event.get("reportingComponent", ""),
        "reportingInstance": event.get("reportingInstance", ""),
        "reason": event["reason"],
        "regarding": event["involvedObject"],
        "note": event["message"],
        "type": event["type"],
        "deprecatedSource": event["source"],
        "deprecatedFirstTimestamp": event["firstTimestamp"],
        "deprecatedLastTimestamp": event["lastTimestamp"],
        "deprecatedCount": event["count"],
    }


def _stamp(moment: float) -> str:
    return datetime.fromtimestamp(moment, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(text: str | None, default: float) -> float:
    moment = parse_time(text) if text else None
    return default if moment is None else moment


# --- kube-apiserver's table for Events (pkg/printers/internalversion: printEvent) ------------------


def _cells(event: Obj, now: float) -> list[Any]:
    first = _seconds(event.get("firstTimestamp"), now)
    last = _seconds(event.get("lastTimestamp"), first)
    involved = event.get("involvedObject") or {}
    target = f"{str(involved.get('kind', '')).lower()}/{involved['name']}" if involved.get("name") else \
        str(involved.get("kind", "")).lower()
    source = event.get("source") or {}
    component = source.get("component") or event.get("reportingComponent", "")
    host = source.get("host") or event.get("reportingInstance", "")
    return [human_duration(now - last), event.get("type", ""), event.get("reason", ""), target,
            involved.get("fieldPath", ""), f"{component}, {host}" if host else component,
            str(event.get("message", "")).strip(), human_duration(now - first), int(event.get("count") or 1),
            event["metadata"]["name"]]


PRINTER = Printer(
    (
        column("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded."),
        column("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future."),
        column("Reason", "string", "This should be a short, machine understandable string that gives the reason "
               "for the transition into the object's current status."),
        column("Object", "string", "The object that this event is about."),
        column("Subobject", "string", "The field of the object this event is about.", priority=1),
        column("Source", "string", "The component reporting this event.", priority=1),
        column("Message", "string", "A human-readable description of the status of this operation."),
        column("First Seen", "string", "The time at which the event was first recorded.", priority=1),
        column("Count", "integer", "The number of times this event has occurred.", priority=1),
        column("Name", "string", "Name of the event.", priority=1, fmt="name"),
    ),
    _cells,
)
