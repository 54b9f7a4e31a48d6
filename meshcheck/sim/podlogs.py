"""The ``pods/log`` subresource of the simulated API server: what ``kubectl logs`` and the suite read.

``GET /api/v1/namespaces/{namespace}/pods/{name}/log`` answers ``text/plain`` with the container's
output (Kubernetes API reference, core/v1 Pod "read log": ``container``, ``tailLines``, ``timestamps``,
``previous``, ``sinceSeconds``, ``limitBytes``). With ``timestamps=true`` each line starts with the time
the kubelet received it, in Go's ``time.RFC3339Nano`` (trailing zeros of the fraction dropped) and one
space. The API server's refusals, as kube-apiserver words them (pkg/registry/core/pod/strategy.go
LogLocation, pkg/kubelet/kubelet_pods.go validateContainerLogStatus): 404 for an unknown pod; 400 "a
container name must be specified for pod X, choose one of: [...] or one of the init containers: [...]"
when the pod has several containers and none was named, "container Y is not valid for pod X" for a name
it does not have, 'container "Y" in pod "X" is waiting to start: REASON' for a container that has not
run yet (a crash-looping container serves its last run's output), 'previous terminated container "Y"
in pod "X" not found' for ``previous`` without a restart. The load generator prints Locust's tables
(``meshcheck.sim.loadgen``); ``istio-proxy`` and what a scenario makes other containers say come from
``meshcheck.sim.containerlogs``.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from meshcheck.sim import containerlogs, loadgen
from meshcheck.sim.apiserver import status
from meshcheck.sim.protocol import SimRequest, SimResponse
from meshcheck.sim.world import World

Obj = dict[str, Any]

_PATH = re.compile(r"^/api/v1/namespaces/(?P<namespace>[^/]+)/pods/(?P<pod>[^/]+)/log/?$")


def handle(world: World, request: SimRequest, forbidden: frozenset[str] = frozenset()) -> SimResponse | None:
    """Answer a request for a pod's log; None for any other path (the API server's own business)."""
    match = _PATH.match(request.path)
    if match is None:
        return None
    namespace, name = match["namespace"], match["pod"]
    if request.method != "GET":
        return status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
    if forbidden & {"pods", "pods/log"}:
        return status(403, "Forbidden", f'pods "{name}" is forbidden: User "{request.user or "meshcheck-sim"}" cannot '
                      f'get resource "pods/log" in API group "" in the namespace "{namespace}"',
                      {"name": name, "kind": "pods"})
    pod = next((p for p in world.of_kind("pods", namespace) if p["metadata"]["name"] == name), None)
    if pod is None:
        return status(404, "NotFound", f'pods "{name}" not found', {"name": name, "kind": "pods"})
    container, refusal = _container(pod, request.arg("container"))
    if refusal is not None:
        return refusal
    entry = next((s for s in _statuses(pod) if s.get("name") == container), {})
    waiting = ((entry.get("state") or {}).get("waiting") or {}).get("reason")
    if waiting and waiting != "CrashLoopBackOff" and not (entry.get("lastState") or {}).get("terminated"):
        return status(400, "BadRequest", f'container "{container}" in pod "{name}" is waiting to start: {waiting}')
    if request.arg("previous") in ("true", "1") and not int(entry.get("restartCount", 0)):
        return status(400, "BadRequest", f'previous terminated container "{container}" in pod "{name}" not found')
    tail = _int(request.arg("tailLines"))
    lines = _lines(world, pod, container, entry, tail)
    stamped = request.arg("timestamps") in ("true", "1")
    text = "".join(f"{_rfc3339nano(moment) + ' ' if stamped else ''}{line}\n" for moment, line in lines)
    return SimResponse.text(text, 200, "text/plain")


def _statuses(pod: Obj) -> list[Obj]:
    state = pod.get("status") or {}
    return list(state.get("containerStatuses") or []) + list(state.get("initContainerStatuses") or [])


def _container(pod: Obj, wanted: str | None) -> tuple[str, SimResponse | None]:
    spec = pod.get("spec") or {}
    names = [c["name"] for c in spec.get("containers") or []]
    inits = [c["name"] for c in spec.get("initContainers") or []]
    name = pod["metadata"]["name"]
    if not wanted:
        if len(names) == 1:
            return names[0], None
        message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
        if inits:
            message += f" or one of the init containers: [{' '.join(inits)}]"
        return "", status(400, "BadRequest", message)
    if wanted not in names + inits:
        return "", status(400, "BadRequest", f"container {wanted} is not valid for pod {name}")
    return wanted, None


def _lines(world: World, pod: Obj, container: str, entry: Obj, tail: int | None) -> list[tuple[float, str]]:
    app = (pod["metadata"].get("labels") or {}).get("app")
    if app == loadgen.NAME and container == loadgen.CONTAINER:
        return loadgen.log_lines(world, pod, entry, tail)
    return containerlogs.lines(world, pod, container, entry, tail)


def _int(text: str | None) -> int | None:
    try:
        return max(int(text), 0) if text is not None else None
    except ValueError:
        return None


def _rfc3339nano(moment: float) -> str:
    """Go's time.RFC3339Nano in UTC: nanoseconds without trailing zeros, "Z"."""
    when = datetime.fromtimestamp(moment, tz=timezone.utc)
    fraction = f"{when.microsecond:06d}000".rstrip("0")
    return f"{when:%Y-%m-%dT%H:%M:%S}{'.' + fraction if fraction else ''}Z"
