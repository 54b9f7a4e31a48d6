"""Questions people ask of Kubernetes objects, answered from the plain dicts the API returns.

Checks read objects through these small functions instead of digging through status fields
each time, so that a rule (what "available" or "ready" means, what counts as a sidecar) is
written once.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

Obj = dict[str, Any]

SIDECAR = "istio-proxy"

# Container waiting reasons that do not resolve by waiting.
STUCK_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)


def name(obj: Obj) -> str:
    return obj.get("metadata", {}).get("name", "?")


def namespace(obj: Obj) -> str:
    return obj.get("metadata", {}).get("namespace", "")


def ref(obj: Obj) -> str:
    """namespace/name, or name for cluster-scoped objects."""
    ns = namespace(obj)
    return f"{ns}/{name(obj)}" if ns else name(obj)


def labels(obj: Obj) -> dict[str, str]:
    return obj.get("metadata", {}).get("labels") or {}


def in_namespace(objs: list[Obj], ns: str) -> list[Obj]:
    return [o for o in objs if namespace(o) == ns]


def named(objs: list[Obj], wanted: str, ns: str | None = None) -> Obj | None:
    return next((o for o in objs if name(o) == wanted and (ns is None or namespace(o) == ns)), None)


def condition(obj: Obj, kind: str) -> Obj | None:
    return next((c for c in obj.get("status", {}).get("conditions") or [] if c.get("type") == kind), None)


_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$")


def age_seconds(timestamp: str | None) -> float | None:
    """Seconds since an RFC 3339 timestamp of the API (creationTimestamp, lastTransitionTime).

    Parsed by hand: Python 3.10's fromisoformat knows neither 'Z' nor nanoseconds (MicroTime).
    """
    match = _TIMESTAMP.match(timestamp or "")
    if match is None:
        return None
    base, fraction, offset = match.groups()
    moment = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    if offset and offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    seconds = (datetime.now(timezone.utc) - moment).total_seconds() - float(f"0.{fraction or 0}")
    return max(0.0, seconds)


def selector_matches(selector: dict[str, str] | None, obj_labels: dict[str, str]) -> bool:
    return bool(selector) and all(obj_labels.get(k) == v for k, v in (selector or {}).items())


# --- Deployments ------------------------------------------------------------------------------


def deployment_available(dep: Obj) -> bool:
    cond = condition(dep, "Available")
    status = dep.get("status", {})
    wanted = dep.get("spec", {}).get("replicas", 1)
    enough = status.get("availableReplicas", 0) >= min(wanted, 1)
    return bool(cond and cond.get("status") == "True") and enough


def deployment_state(dep: Obj) -> str:
    """A short account of a Deployment's replicas, for messages."""
    status = dep.get("status", {})
    wanted = dep.get("spec", {}).get("replicas", 1)
    text = f"{status.get('availableReplicas', 0)}/{wanted} replicas available"
    progressing = condition(dep, "Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        text += " (progress deadline exceeded)"
    return text


def deployment_settled(dep: Obj) -> bool:
    """True when waiting will not make the Deployment available: scaled to 0 or out of time."""
    if dep.get("spec", {}).get("replicas", 1) == 0:
        return True
    progressing = condition(dep, "Progressing")
    return bool(progressing and progressing.get("status") == "False")


# --- Pods -------------------------------------------------------------------------------------


def pod_containers(pod: Obj) -> list[Obj]:
    """The containers that must be ready: regular ones and native sidecars (restartPolicy Always)."""
    spec = pod.get("spec", {})
    natives = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    return natives + list(spec.get("containers") or [])


def container_statuses(pod: Obj) -> dict[str, Obj]:
    status = pod.get("status", {})
    statuses = list(status.get("initContainerStatuses") or []) + list(status.get("containerStatuses") or [])
    return {s.get("name"): s for s in statuses}


def has_sidecar(pod: Obj) -> bool:
    return any(c.get("name") == SIDECAR for c in pod_containers(pod))


def ready_count(pod: Obj) -> tuple[int, int]:
    """(ready, total) as kubectl's READY column counts them, native sidecars included."""
    statuses = container_statuses(pod)
    containers = pod_containers(pod)
    ready = sum(1 for c in containers if statuses.get(c.get("name"), {}).get("ready"))
    return ready, len(containers)


def not_ready_containers(pod: Obj) -> list[str]:
    statuses = container_statuses(pod)
    return [c["name"] for c in pod_containers(pod) if not statuses.get(c.get("name"), {}).get("ready")]


def waiting_reason(pod: Obj) -> str | None:
    """The first reason a container is stuck with, e.g. CrashLoopBackOff (app containers first).

    An init container that completed is not a reason: every injected pod has one (istio-init).
    """
    status = pod.get("status", {})
    for entry in list(status.get("containerStatuses") or []) + list(status.get("initContainerStatuses") or []):
        state = entry.get("state") or {}
        if state.get("waiting", {}).get("reason"):
            return state["waiting"]["reason"]
        terminated = state.get("terminated") or {}
        if terminated.get("reason") and terminated.get("reason") != "Completed":
            return terminated["reason"]
    return None


def restarts(pod: Obj) -> int:
    return sum(int(s.get("restartCount", 0)) for s in container_statuses(pod).values())


def app_of(pod: Obj) -> str:
    lab = labels(pod)
    return lab.get("app") or lab.get("app.kubernetes.io/name") or name(pod).rsplit("-", 2)[0]


def image_tag(image: str) -> str:
    """The tag of an image reference (after the last ':' of its last path part), or ''."""
    last = image.rsplit("/", 1)[-1].split("@", 1)[0]
    return last.split(":", 1)[1] if ":" in last else ""


# How long a condition may last before waiting for it to change stops being worth it: pods get
# scheduled, images pulled and addresses assigned well within this on a working cluster.
GRACE_SECONDS = 300.0


def stale(timestamp: str | None, grace: float = GRACE_SECONDS) -> bool:
    """True when something has been as it is for longer than a working cluster needs to move on."""
    age = age_seconds(timestamp)
    return age is not None and age > grace


def pod_settled(pod: Obj) -> bool:
    """Whether a pod that is not ready will stay so without a fix: stuck in a failing state, or as it is
    for longer than a working cluster needs (a pod that never started counts from its creation)."""
    started = (pod.get("status") or {}).get("startTime") or (pod.get("metadata") or {}).get("creationTimestamp")
    return waiting_reason(pod) in STUCK_REASONS or stale(started)
