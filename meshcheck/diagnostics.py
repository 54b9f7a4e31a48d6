"""Diagnostics for a failed check: what a person would have run kubectl for, gathered for the report.

For each object a failing ``CheckResult`` names (``objects``: "Kind/namespace/name"), a ``Diagnoser``
gathers, read-only (GET) through the run's ``kube.Cluster``:

- a describe-like summary: a Deployment's replicas (desired, updated, ready, available) and conditions
  with their reasons; a Pod's phase, node and each container's readiness, restarts and state (with its
  reason and last exit); a Service's type, ports, external address and the pods it selects; a Node's
  conditions, taints and cordon; a Namespace's labels;
- the object's recent Events, and those of its ReplicaSets and pods (a Deployment) or its pods (a
  Service), newest kept;
- the last lines of the logs of the app container and ``istio-proxy`` of the pod that matters: the
  Pod named, or the newest pod that is not ready (else the newest) of a Deployment or Service.

Bounded, so that a report of a broken cluster stays readable and cheap: at most ``max_objects`` objects
per failure (the rest are listed by name), logs of at most ``max_log_pods`` pods and two containers
each, ``tail_lines`` lines each (every line cut at ``LINE_LIMIT`` characters), ``max_events`` Events per
object. Objects are described as the run's lists hold them (no request) when it read them; Events are
read once per namespace (``/api/v1/namespaces/{ns}/events``, filtered here) and each container's log
once per run, however many failures name them. Nothing is read for a passing result, so a passing run
costs no request more. Every read uses the cluster's timeout and retries; one that fails becomes a line
of the diagnostics ("events in namespace X could not be read: …"), never an exception.

Everything gathered goes through ``meshcheck.redact`` before it is kept: logs and Events quote what
applications wrote, and applications print credentials.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from meshcheck import kube
from meshcheck import objects as o
from meshcheck.endpoints import Endpoint
from meshcheck.redact import redact, redact_obj
from meshcheck.results import CheckResult

Obj = dict[str, Any]

MAX_OBJECTS = 3
MAX_LOG_PODS = 2
TAIL_LINES = 20
MAX_EVENTS = 8
EVENTS_LIMIT = 500
LINE_LIMIT = 400

# The kinds whose objects can be described, by the name a CheckResult gives them.
KINDS: dict[str, kube.Kind] = {
    "Deployment": kube.DEPLOYMENTS,
    "Pod": kube.PODS,
    "Service": kube.SERVICES,
    "Node": kube.NODES,
    "Namespace": kube.NAMESPACES,
}


@dataclass(frozen=True)
class ObjectRef:
    """An object as a CheckResult names it: "Kind/namespace/name" ("Node//kind-worker" when cluster-scoped)."""

    kind: str
    namespace: str
    name: str

    @classmethod
    def parse(cls, text: str) -> ObjectRef | None:
        parts = text.split("/")
        if len(parts) != 3 or not parts[0] or not parts[2]:
            return None
        return cls(*parts)

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"

    @property
    def events_namespace(self) -> str:
        """Where the object's Events live: its namespace; a cluster-scoped object's are in ``default``."""
        return self.namespace or "default"


@dataclass
class EventLine:
    type: str
    reason: str
    object: str  # "pod/name", as kubectl get events writes it
    message: str
    count: int
    first_seen: str
    last_seen: str
    source: str

    def text(self) -> str:
        seen = f"{self.count} times over {_ago(self.first_seen)}, last {_ago(self.last_seen)} ago" if self.count > 1 \
            else f"{_ago(self.last_seen)} ago"
        return f"{self.type} {self.reason} {self.object}: {self.message} ({seen})"


@dataclass
class ContainerLog:
    pod: str  # "namespace/name"
    container: str
    lines: list[str] = field(default_factory=list)
    problem: str = ""


@dataclass
class ObjectDiagnosis:
    ref: str  # "Kind/namespace/name"
    summary: list[str] = field(default_factory=list)
    events: list[EventLine] = field(default_factory=list)
    logs: list[ContainerLog] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # reads that failed, each in a line


@dataclass
class Diagnosis:
    """What was gathered for one failed check: plain data, JSON-serialisable through ``to_dict``."""

    check: str
    objects: list[ObjectDiagnosis] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    requests: int = 0  # API reads this diagnosis sent (retries and reads shared with earlier ones not counted)

    def __bool__(self) -> bool:
        return bool(self.objects or self.notes)

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = redact_obj(asdict(self))
        return result

    def render_text(self) -> str:
        """The diagnostics as plain text, indented under each object, for a terminal or a JUnit message."""
        lines: list[str] = []
        for item in self.objects:
            ref = ObjectRef.parse(item.ref)
            lines.append(str(ref) if ref else item.ref)
            lines += [f"  {line}" for line in item.summary]
            lines += [f"  {problem}" for problem in item.problems]
            if item.events:
                lines.append("  events (newest last):")
                lines += [f"    {event.text()}" for event in item.events]
            for log in item.logs:
                head = f"  logs of {log.pod}, container {log.container}"
                if log.problem:
                    lines.append(f"{head}: {log.problem}")
                elif not log.lines:
                    lines.append(f"{head}: (empty)")
                else:
                    lines.append(f"{head} (last {len(log.lines)} lines):")
                    lines += [f"    | {line}" for line in log.lines]
        lines += self.notes
        return redact("\n".join(lines))


class Diagnoser:
    """Gathers diagnostics for the failures of one run, sharing its reads between them."""

    def __init__(
        self,
        cluster: kube.Cluster,
        *,
        max_objects: int = MAX_OBJECTS,
        max_log_pods: int = MAX_LOG_PODS,
        tail_lines: int = TAIL_LINES,
        max_events: int = MAX_EVENTS,
    ) -> None:
        self.cluster = cluster
        self.max_objects = max_objects
        self.max_log_pods = max_log_pods
        self.tail_lines = tail_lines
        self.max_events = max_events
        self._events: dict[str, tuple[list[Obj], bool] | str] = {}
        self._logs: dict[tuple[str, str, str], list[str] | str] = {}
        self._got: dict[str, Obj | str | None] = {}
        self._lock = threading.RLock()
        self._requests = 0

    # --- entry points -----------------------------------------------------------------------------

    def diagnose(self, result: CheckResult) -> Diagnosis:
        """Diagnostics for a result: nothing (and no request) when it passed or names no object."""
        if result.passed:
            return Diagnosis(result.check)
        return self.diagnose_objects(result.objects, check=result.check)

    def diagnose_objects(self, objects: Iterable[str], check: str = "") -> Diagnosis:
        """Diagnostics for objects named "Kind/namespace/name", the first ``max_objects`` of them."""
        with self._lock:
            before = self._requests
            named = list(dict.fromkeys(objects))
            diagnosis = Diagnosis(check)
            pods_logged: list[str] = []
            for text in named[: self.max_objects]:
                ref = ObjectRef.parse(text)
                if ref is None:
                    diagnosis.notes.append(f"{text}: not an object reference (Kind/namespace/name)")
                    continue
                try:
                    diagnosis.objects.append(self._diagnose(ref, pods_logged))
                except Exception as exc:  # a report must never fail for its diagnostics
                    diagnosis.objects.append(ObjectDiagnosis(ref.ref, problems=[
                        f"diagnostics could not be gathered: {exc.__class__.__name__}: {redact(str(exc))[:300]}"]))
            rest = named[self.max_objects:]
            if rest:
                diagnosis.notes.append(f"{len(rest)} more not diagnosed: {', '.join(rest[:10])}"
                                       f"{' …' if len(rest) > 10 else ''}")
            diagnosis.requests = self._requests - before
            return diagnosis

    # --- one object ---------------------------------------------------------------------------------

    def _diagnose(self, ref: ObjectRef, pods_logged: list[str]) -> ObjectDiagnosis:
        found = ObjectDiagnosis(ref.ref)
        obj = self._object(ref, found)
        related: list[tuple[str, str]] = [(ref.kind, ref.name)]
        pod: Obj | None = None
        if obj is not None:
            if ref.kind == "Deployment":
                found.summary += _deployment_summary(obj)
                pods = self._pods_of(obj, found)
                related += [("Pod", o.name(p)) for p in pods]
                related += [("ReplicaSet", name) for name in _replica_sets(pods)]
                pod = _pick(pods)
                found.summary += _pod_lines(pod, f"of {len(pods)}") if pod else ["no pod"]
            elif ref.kind == "Pod":
                pod = obj
                found.summary += _pod_summary(obj)
            elif ref.kind == "Service":
                pods = self._service_pods(obj, found)
                found.summary += _service_summary(obj, pods)
                related += [("Endpoints", ref.name), *(("Pod", o.name(p)) for p in pods)]
                pod = _pick(pods)
                if pod is not None:
                    found.summary += _pod_lines(pod, f"of {len(pods)} selected")
            elif ref.kind == "Node":
                found.summary += _node_summary(obj)
            elif ref.kind == "Namespace":
                found.summary += [f"phase {(obj.get('status') or {}).get('phase', '?')}, labels: "
                                  f"{_labels(o.labels(obj))}"]
        found.events = self._events_of(ref, related, found)
        if pod is not None and len(pods_logged) < self.max_log_pods and o.name(pod) not in pods_logged:
            pods_logged.append(o.name(pod))
            found.logs = [self._log(o.namespace(pod), o.name(pod), container) for container in _log_containers(pod)]
        found.summary = [redact(line) for line in found.summary]
        return found

    def _once(self, cache: dict[Any, Any], key: Any, read: Callable[[], Any], failed: str) -> Any:
        """What ``read`` gives, read once per run and counted; a read that fails is kept as the line saying so
        (``failed``: the reason follows), so a second failure about the same object repeats no request."""
        if key not in cache:
            self._requests += 1
            try:
                cache[key] = read()
            except Exception as exc:
                cache[key] = f"{failed}: {_reason(exc)}"
        return cache[key]

    def _object(self, ref: ObjectRef, found: ObjectDiagnosis) -> Obj | None:
        kind = KINDS.get(ref.kind)
        if kind is None:
            return None
        listed = self.cluster.cached(kind, ref.namespace if kind.namespaced else None)
        if listed is not None:
            obj = o.named(listed, ref.name, ref.namespace if kind.namespaced else None)
            if obj is None:
                found.summary.append(f"{ref} does not exist (not in the list this run read)")
            return obj
        got = self._once(self._got, ref.ref, lambda: self.cluster.get_object(kind, ref.namespace or None, ref.name),
                         f"{ref} could not be read")
        if isinstance(got, str):
            found.problems.append(got)
            return None
        if got is None:
            found.summary.append(f"{ref} does not exist")
        return got

    def _pods_of(self, deployment: Obj, found: ObjectDiagnosis) -> list[Obj]:
        namespace = o.namespace(deployment)
        listed = self.cluster.cached(kube.PODS, namespace)
        if listed is not None:
            return o.pods_of(deployment, listed)
        selector = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        return o.pods_of(deployment, self._pods_where(namespace, selector, found))

    def _service_pods(self, service: Obj, found: ObjectDiagnosis) -> list[Obj]:
        selector = (service.get("spec") or {}).get("selector") or {}
        if not selector:
            return []
        namespace = o.namespace(service)
        listed = self.cluster.cached(kube.PODS, namespace)
        if listed is None:
            listed = self._pods_where(namespace, selector, found)
        return [p for p in listed if o.selector_matches(selector, o.labels(p))
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]

    def _pods_where(self, namespace: str, selector: dict[str, str], found: ObjectDiagnosis) -> list[Obj]:
        if not selector:
            return []
        got = self._once(self._got, f"Pod/{namespace}/?{_labels(selector)}",
                         lambda: {"items": self.cluster.list_where(kube.PODS, namespace, _labels(selector, ","))},
                         f"pods in namespace {namespace} could not be read")
        if isinstance(got, str):
            found.problems.append(got)
            return []
        return list((got or {}).get("items") or [])

    def _events_of(self, ref: ObjectRef, related: Sequence[tuple[str, str]], found: ObjectDiagnosis) -> list[EventLine]:
        namespace = ref.events_namespace
        read = self._once(self._events, namespace, lambda: self.cluster.events(namespace, limit=EVENTS_LIMIT),
                          f"events in namespace {namespace} could not be read")
        if isinstance(read, str):
            found.problems.append(read)
            return []
        items, more = read
        wanted = set(related)
        mine = [e for e in items if ((e.get("involvedObject") or {}).get("kind"),
                                     (e.get("involvedObject") or {}).get("name")) in wanted]
        mine.sort(key=_last_time)
        if more:
            found.problems.append(f"namespace {namespace} has more than {EVENTS_LIMIT} Events: only the first "
                                  f"{EVENTS_LIMIT} were looked at")
        return [_event_line(e) for e in mine[-self.max_events:]]

    def _log(self, namespace: str, pod: str, container: str) -> ContainerLog:
        def read() -> list[str]:
            text = self.cluster.pod_log(namespace, pod, container, tail_lines=self.tail_lines, timestamps=False)
            return [_cut(redact(line)) for line in text.splitlines()[-self.tail_lines:]]

        got = self._once(self._logs, (namespace, pod, container), read, "could not be read")
        if isinstance(got, str):
            return ContainerLog(f"{namespace}/{pod}", container, problem=got)
        return ContainerLog(f"{namespace}/{pod}", container, list(got))


def diagnose(result: CheckResult, cluster: kube.Cluster) -> Diagnosis:
    """Diagnostics for one result on its own (a run with several failures should share a ``Diagnoser``)."""
    return Diagnoser(cluster).diagnose(result)


def addon_objects(endpoint: Endpoint | None) -> tuple[str, ...]:
    """The object behind an add-on reached through the API server's proxy ("Service/istio-system/kiali"), for
    a failure that has only the endpoint to go on (an add-on that does not answer); none for a direct URL."""
    namespace, _, name = ((endpoint.service if endpoint else None) or "").partition("/")
    return (f"Service/{namespace}/{name}",) if namespace and name else ()


# --- summaries ----------------------------------------------------------------------------------------


def _deployment_summary(dep: Obj) -> list[str]:
    spec, status = dep.get("spec") or {}, dep.get("status") or {}
    lines = [f"{status.get('availableReplicas', 0)}/{spec.get('replicas', 1)} replicas available "
             f"({spec.get('replicas', 1)} desired, {status.get('updatedReplicas', 0)} updated, "
             f"{status.get('readyReplicas', 0)} ready)"]
    conditions = [_condition(c) for c in status.get("conditions") or []]
    if conditions:
        lines.append("conditions: " + "; ".join(conditions))
    return lines


def _pod_summary(pod: Obj) -> list[str]:
    status = pod.get("status") or {}
    ready, total = o.ready_count(pod)
    started = status.get("startTime")
    lines = [f"{status.get('phase', 'Unknown')} on node {(pod.get('spec') or {}).get('nodeName') or '(none)'}, "
             f"{ready}/{total} ready, {o.restarts(pod)} restarts"
             + (f", started {_ago(started)} ago" if started else "")]
    lines += [f"  {line}" for line in _container_lines(pod)]
    odd = [_condition(c) for c in status.get("conditions") or [] if c.get("status") != "True"]
    if odd:
        lines.append("conditions: " + "; ".join(odd))
    return lines


def _pod_lines(pod: Obj, among: str) -> list[str]:
    """A pod's summary under its Deployment or Service: which pod, then what it is doing."""
    head, *rest = _pod_summary(pod)
    return [f"pod {o.name(pod)} ({'not ready, ' if not o.pod_ready(pod) else ''}newest {among}): {head}",
            *(f"  {line}" for line in rest)]


def _container_lines(pod: Obj) -> list[str]:
    statuses = o.container_statuses(pod)
    spec = pod.get("spec") or {}
    natives = {c["name"] for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"}
    names = [c["name"] for c in o.pod_containers(pod)]
    names += [c["name"] for c in spec.get("initContainers") or [] if c["name"] not in natives
              and not _completed(statuses.get(c["name"]) or {})]
    lines = []
    for name in names:
        entry = statuses.get(name) or {}
        if not entry:
            lines.append(f"{name}: no status yet")
            continue
        text = f"{name}: {'ready' if entry.get('ready') else 'not ready'}, {entry.get('restartCount', 0)} restarts, "
        text += _state(entry.get("state") or {})
        last = (entry.get("lastState") or {}).get("terminated")
        if last:
            text += f"; last {_state({'terminated': last})}"
        lines.append(text)
    return lines


def _completed(entry: Obj) -> bool:
    return ((entry.get("state") or {}).get("terminated") or {}).get("reason") == "Completed"


def _state(state: Obj) -> str:
    if "running" in state:
        since = (state["running"] or {}).get("startedAt")
        return f"running since {_ago(since)} ago" if since else "running"
    if "waiting" in state:
        waiting = state["waiting"] or {}
        message = f" ({waiting['message']})" if waiting.get("message") else ""
        return f"waiting: {waiting.get('reason', '?')}{message}"
    if "terminated" in state:
        ended = state["terminated"] or {}
        when = f" {_ago(ended['finishedAt'])} ago" if ended.get("finishedAt") else ""
        return f"terminated: {ended.get('reason') or 'Error'} (exit code {ended.get('exitCode', '?')}){when}"
    return "no state"


def _service_summary(service: Obj, pods: list[Obj]) -> list[str]:
    spec = service.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    ports = ", ".join(
        f"{p.get('port')}/{p.get('protocol', 'TCP')}"
        + (f"→{p['targetPort']}" if p.get("targetPort") not in (None, p.get("port")) else "")
        + (f" (nodePort {p['nodePort']})" if p.get("nodePort") else "")
        + (f" {p['name']}" if p.get("name") else "")
        for p in spec.get("ports") or []
    )
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    addresses = [str(i.get("ip") or i.get("hostname")) for i in ingress if i.get("ip") or i.get("hostname")]
    external = ", ".join(addresses) or ("<pending>" if kind == "LoadBalancer" else "<none>")
    ready = sum(1 for p in pods if o.pod_ready(p))
    return [f"type {kind}, cluster IP {spec.get('clusterIP', '?')}, ports {ports or 'none'}, external IP {external}",
            f"selector {_labels(spec.get('selector') or {})}: {len(pods)} pods, {ready} ready"]


def _node_summary(node: Obj) -> list[str]:
    status, spec = node.get("status") or {}, node.get("spec") or {}
    ready = o.condition(node, "Ready")
    lines = [(_condition(ready) if ready else "Ready=missing")
             + f", kubelet {(status.get('nodeInfo') or {}).get('kubeletVersion', '?')}"
             + (", cordoned (unschedulable)" if spec.get("unschedulable") else "")]
    pressures = [c["type"] for c in status.get("conditions") or [] if c.get("type") != "Ready"
                 and c.get("status") == "True"]
    if pressures:
        lines.append("conditions true: " + ", ".join(pressures))
    taints = [f"{t.get('key')}{'=' + t['value'] if t.get('value') else ''}:{t.get('effect')}"
              for t in spec.get("taints") or []]
    if taints:
        lines.append("taints: " + ", ".join(taints))
    return lines


def _condition(condition: Obj) -> str:
    detail = ": ".join(str(x) for x in (condition.get("reason"), condition.get("message")) if x)
    return f"{condition.get('type')}={condition.get('status')}" + (f" ({detail})" if detail else "")


# --- which pod, which containers ------------------------------------------------------------------------


def _pick(pods: Sequence[Obj]) -> Obj | None:
    """The pod worth looking at: the newest that is not ready, else the newest."""
    if not pods:
        return None
    return max(pods, key=lambda p: (not o.pod_ready(p), (p.get("metadata") or {}).get("creationTimestamp") or ""))


def _replica_sets(pods: Iterable[Obj]) -> list[str]:
    return sorted({ref.get("name", "") for p in pods for ref in (p.get("metadata") or {}).get("ownerReferences") or []
                   if ref.get("kind") == "ReplicaSet"})


def _log_containers(pod: Obj) -> list[str]:
    """The app container (the crashing one, else the first that is not the sidecar), and ``istio-proxy``."""
    containers = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
    crashing = (o.crashing_container(pod) or {}).get("name")
    apps = [c for c in containers if c != o.SIDECAR]
    app = crashing if crashing and crashing != o.SIDECAR else (apps[0] if apps else None)
    chosen = [app] if app else []
    if o.has_sidecar(pod):
        chosen.append(o.SIDECAR)
    return chosen


# --- small helpers ------------------------------------------------------------------------------------


def _event_line(event: Obj) -> EventLine:
    involved = event.get("involvedObject") or event.get("regarding") or {}
    source = event.get("source") or {}
    component = source.get("component") or event.get("reportingComponent") or ""
    host = source.get("host") or event.get("reportingInstance") or ""
    first = event.get("firstTimestamp") or event.get("eventTime") or ""
    return EventLine(
        type=str(event.get("type", "")),
        reason=str(event.get("reason", "")),
        object=f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        message=_cut(redact(" ".join(str(event.get("message") or event.get("note") or "").split()))),
        count=int(event.get("count") or 1),
        first_seen=str(first),
        last_seen=str(event.get("lastTimestamp") or first),
        source=f"{component}, {host}" if host else component,
    )


def _last_time(event: Obj) -> str:
    return str(event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp") or "")


def _ago(timestamp: str | None) -> str:
    return o.duration_text(o.age_seconds(timestamp), unknown="?")


def _labels(labels: dict[str, str], sep: str = ", ") -> str:
    return sep.join(f"{k}={v}" for k, v in sorted(labels.items())) or "none"


def _cut(line: str) -> str:
    return line if len(line) <= LINE_LIMIT else line[:LINE_LIMIT] + " …"


def _reason(exc: Exception) -> str:
    return redact(" ".join(str(exc).split()))[:300] or exc.__class__.__name__
