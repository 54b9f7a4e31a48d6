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

# Container waiting reasons that need a change to the cluster (an image, a ConfigMap, a Secret) before
# the container can start: kubelet retries them, but a retry meets the same answer.
STUCK_REASONS = frozenset(
    {
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)

# Progressing reasons the Deployment controller gives while a rollout is under way
# (kubernetes pkg/controller/deployment/util); a completed one says NewReplicaSetAvailable.
ROLLOUT_REASONS = frozenset({"NewReplicaSetCreated", "FoundNewReplicaSet", "ReplicaSetUpdated"})

# How long a condition may last before waiting for it to change stops being worth it: pods get
# scheduled, images pulled and addresses assigned well within this on a working cluster.
GRACE_SECONDS = 300.0

# Restarts after which a crash loop is no start-up hiccup: kubelet's back-off (10 s, doubling, at most
# 5 min) puts five restarts about five minutes in, the GRACE_SECONDS a working cluster needs. A pod
# waiting for istiod or a database crashes once or twice and then runs.
CRASH_LOOP_RESTARTS = 5


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


def duration_text(seconds: float | None, unknown: str = "an unknown time") -> str:
    """A person's duration: 45s, 12m, 3h05m, 2d4h."""
    if seconds is None:
        return unknown
    whole = int(seconds)
    if whole < 120:
        return f"{whole}s"
    if whole < 7200:
        return f"{whole // 60}m"
    if whole < 172800:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600}h"


def selector_matches(selector: dict[str, str] | None, obj_labels: dict[str, str]) -> bool:
    return bool(selector) and all(obj_labels.get(k) == v for k, v in (selector or {}).items())


def label_selector_matches(selector: Obj | None, obj_labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels and matchExpressions), as a Deployment selects its pods. An empty
    selector selects nothing here: apps/v1 rejects one, and an answer built on it would be a guess."""
    selector = selector or {}
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return False
    if any(obj_labels.get(k) != v for k, v in match_labels.items()):
        return False
    for expression in expressions:
        key, operator, values = expression.get("key", ""), expression.get("operator"), expression.get("values") or []
        present = key in obj_labels
        if operator == "In" and not (present and obj_labels[key] in values):
            return False
        if operator == "NotIn" and present and obj_labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


# --- Deployments ------------------------------------------------------------------------------


def deployment_available(dep: Obj) -> bool:
    cond = condition(dep, "Available")
    status = dep.get("status", {})
    wanted = dep.get("spec", {}).get("replicas", 1)
    enough = status.get("availableReplicas", 0) >= min(wanted, 1)
    return bool(cond and cond.get("status") == "True") and enough


def pods_of(dep: Obj, pods: list[Obj]) -> list[Obj]:
    """The live pods a Deployment selects: in its namespace, matching spec.selector, neither finished
    (Succeeded, Failed: evicted pods linger, their replacements are separate pods) nor being deleted."""
    ns, selector = namespace(dep), (dep.get("spec") or {}).get("selector")
    return [
        p
        for p in pods
        if namespace(p) == ns
        and label_selector_matches(selector, labels(p))
        and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        and not (p.get("metadata") or {}).get("deletionTimestamp")
    ]


def rollout_catching_up(dep: Obj) -> bool:
    """The controller has yet to roll the Deployment's current spec out to every replica: a generation it
    has not observed, or fewer updated replicas than wanted (the API omits a zero count)."""
    metadata, spec, status = dep.get("metadata") or {}, dep.get("spec") or {}, dep.get("status") or {}
    generation, observed = metadata.get("generation"), status.get("observedGeneration")
    if generation is not None and observed is not None and observed < generation:
        return True
    return int(status.get("updatedReplicas", 0)) < int(spec.get("replicas", 1))


def rolling_out(dep: Obj) -> bool:
    """A rollout is under way: the controller is catching up, or Progressing=True names a rollout step.

    A paused Deployment rolls nothing out until someone resumes it.
    """
    if (dep.get("spec") or {}).get("paused"):
        return False
    progressing = condition(dep, "Progressing") or {}
    stepping = progressing.get("status") == "True" and progressing.get("reason") in ROLLOUT_REASONS
    return stepping or rollout_catching_up(dep)


def deployment_state(dep: Obj, pods: list[Obj] | tuple[Obj, ...] = ()) -> str:
    """A short account of a Deployment's replicas, its rollout and its first unready pod, for messages."""
    status = dep.get("status", {})
    wanted = dep.get("spec", {}).get("replicas", 1)
    text = f"{status.get('availableReplicas', 0)}/{wanted} replicas available"
    progressing = condition(dep, "Progressing")
    notes = []
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        notes.append("progress deadline exceeded")
    elif rolling_out(dep):
        notes.append(f"rollout in progress, {status.get('updatedReplicas', 0)}/{wanted} updated")
    unready = [p for p in pods_of(dep, list(pods)) if not pod_ready(p)]
    if unready:
        more = f" and {len(unready) - 1} more" if len(unready) > 1 else ""
        notes.append(f"pod {name(unready[0])} {pod_state(unready[0])}{more}")
    return f"{text} ({'; '.join(notes)})" if notes else text


def deployment_settled(dep: Obj, pods: list[Obj]) -> bool:
    """True when waiting will not make the Deployment available; ``pods`` is every pod read (its own
    are picked by its selector), or none when they cannot be read.

    ``Progressing=False`` alone is not enough to trust: a Deployment whose rollout completed keeps
    Progressing=True (NewReplicaSetAvailable) however long its pod crash-loops afterwards, the progress
    deadline applying only during a rollout. So, in order:
    - scaled to 0, or Progressing=False (its progress deadline passed): settled;
    - the controller still catching up with the spec (an unobserved generation, fewer updated replicas
      than wanted): a rollout under way, worth its wait until its deadline;
    - no rollout, and unavailable for longer than a working cluster needs (``Available=False`` since
      more than GRACE_SECONDS): settled. During a rollout step that age says nothing: a fix rolling out
      onto a Deployment broken for days is still worth its wait;
    - otherwise the pods tell, each by ``pod_settled``: when every one is unready and stuck (a crash loop
      with many restarts, an image that cannot be pulled, a missing ConfigMap...), nothing changes by
      itself. Without pods (not created yet, or not readable) there is nothing to go on: the wait is spent.
      This also catches a crash loop that flips Progressing to ReplicaSetUpdated whenever its pod is
      briefly ready, and a rollout whose new pods are all stuck already.
    """
    if dep.get("spec", {}).get("replicas", 1) == 0:
        return True
    progressing = condition(dep, "Progressing")
    if progressing and progressing.get("status") == "False":
        return True
    if rolling_out(dep):
        if rollout_catching_up(dep):
            return False
    else:
        available = condition(dep, "Available")
        if available and available.get("status") == "False" and stale(available.get("lastTransitionTime")):
            return True
    own = pods_of(dep, pods)
    return bool(own) and all(not pod_ready(p) and pod_settled(p) for p in own)


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


def stale(timestamp: str | None, grace: float = GRACE_SECONDS) -> bool:
    """True when something has been as it is for longer than a working cluster needs to move on."""
    age = age_seconds(timestamp)
    return age is not None and age > grace


def pod_ready(pod: Obj) -> bool:
    """Running with every container (native sidecars included) ready."""
    ready, total = ready_count(pod)
    return (pod.get("status") or {}).get("phase") == "Running" and total > 0 and ready == total


def crashing_container(pod: Obj) -> Obj | None:
    """The status of a container in a crash loop: backing off (CrashLoopBackOff), or just ended with a
    failure (Error, OOMKilled) on its way back there."""
    status = pod.get("status", {})
    for entry in list(status.get("containerStatuses") or []) + list(status.get("initContainerStatuses") or []):
        state = entry.get("state") or {}
        if (state.get("waiting") or {}).get("reason") == "CrashLoopBackOff":
            return entry
        terminated = state.get("terminated") or {}
        if terminated.get("reason") and terminated.get("reason") != "Completed":
            return entry
    return None


def pod_state(pod: Obj) -> str:
    """What a pod is doing, as kubectl's STATUS and RESTARTS columns put it: 'CrashLoopBackOff, 864 restarts'."""
    reason = waiting_reason(pod) or (pod.get("status") or {}).get("phase") or "Unknown"
    crashing = crashing_container(pod)
    count = int((crashing or {}).get("restartCount", 0)) if crashing else restarts(pod)
    return f"{reason}, {count} restart{'s' if count != 1 else ''}" if count else reason


def unready_seconds(pod: Obj) -> float | None:
    """How long the pod has been as it is, at most: since its Ready condition went False, and never longer
    than since it started (or was created, for a pod that never started)."""
    status, metadata = pod.get("status") or {}, pod.get("metadata") or {}
    moments = [status.get("startTime") or metadata.get("creationTimestamp")]
    ready = condition(pod, "Ready")
    if ready and ready.get("status") != "True":
        moments.append(ready.get("lastTransitionTime"))
    ages = [a for a in map(age_seconds, moments) if a is not None]
    return min(ages) if ages else None


def pod_settled(pod: Obj) -> bool:
    """Whether a pod that is not ready will stay so without a fix.

    - A container waits for something only a change to the cluster gives (STUCK_REASONS: an image that
      cannot be pulled, a missing ConfigMap or Secret): settled at once.
    - A crash loop is settled once it has restarted CRASH_LOOP_RESTARTS times or gone on longer than a
      working cluster needs: one or two restarts in a young pod are how a workload waits for what it
      depends on (istiod, a database), and those recover.
    - Anything else (creating, initializing, running but unready, unscheduled) is settled once the pod
      has been so for longer than a working cluster needs (``unready_seconds``).
    """
    statuses = container_statuses(pod).values()
    if any(((s.get("state") or {}).get("waiting") or {}).get("reason") in STUCK_REASONS for s in statuses):
        return True  # any container: app containers wait behind an init container whose image cannot be pulled
    crashing = crashing_container(pod)
    if crashing is not None and int(crashing.get("restartCount", 0)) >= CRASH_LOOP_RESTARTS:
        return True
    unready = unready_seconds(pod)
    return unready is not None and unready > GRACE_SECONDS
