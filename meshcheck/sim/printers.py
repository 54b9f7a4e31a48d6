"""What ``kubectl get`` shows for each kind: the columns and cells kube-apiserver's printers give.

kubectl asks the API server to print (``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``) and
lays the answer out as it comes, so a simulated cluster that a person explores with kubectl must
print as kube-apiserver does. The column definitions and the way each cell is worked out follow
kube-apiserver's printers (pkg/printers/internalversion/printers.go in kubernetes/kubernetes), read
again for the kinds this cluster serves and written anew here; the descriptions are the API's field
documentation (at times only its first sentences), as the printers take them from the types'
SwaggerDoc. The server prints the wide columns (priority 1) too; kubectl hides them unless ``-o wide``.

Kinds without a printer of their own use the API server's default table (Name, Created At);
custom resources use the CRD table, whose default columns are Name and Age.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Obj = dict[str, Any]
Cells = list[Any]

NAME_DOC = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources may "
    "allow a client to request the generation of an appropriate name automatically. Name is primarily intended "
    "for creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
CREATED_DOC = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this value. "
    "It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. "
    "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)
CONTAINERS_DOC = "Names of each container in the template."
IMAGES_DOC = "Images referenced by each container in the template."


def column(name: str, kind: str = "string", description: str = "", *, priority: int = 0, fmt: str = "") -> Obj:
    """A meta.k8s.io TableColumnDefinition (every field is always present in the API's JSON)."""
    return {"name": name, "type": kind, "format": fmt, "description": description, "priority": priority}


NAME = column("Name", "string", NAME_DOC, fmt="name")
AGE = column("Age", "string", CREATED_DOC)


@dataclass(frozen=True)
class Printer:
    """The columns of a kind, and how one object becomes a row's cells (and, for pods, conditions)."""

    columns: tuple[Obj, ...]
    cells: Callable[[Obj, float], Cells]
    conditions: Callable[[Obj], list[Obj]] | None = None


# --- time, as the API server writes it ---------------------------------------------------------


def parse_time(text: str | None) -> float | None:
    """An RFC 3339 timestamp as the API writes them (``2024-02-14T22:24:00Z``), in seconds."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def human_duration(seconds: float) -> str:
    """A duration in two or three significant figures, as apimachinery's duration.HumanDuration writes it."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        return f"{minutes}m{whole % 60}s" if whole % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        years = days // 365
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{days // 365}y"


def age(obj: Obj, now: float) -> str:
    """translateTimestampSince: how long ago the object was created, or <unknown>."""
    created = parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
    return "<unknown>" if created is None else human_duration(now - created)


# --- small formatters the printers share ---------------------------------------------------------


def format_labels(labels: dict[str, str] | None) -> str:
    """labels.FormatLabels: k=v pairs sorted by key, <none> when there are none."""
    if not labels:
        return "<none>"
    return ",".join(f"{key}={labels[key]}" for key in sorted(labels))


def format_selector(selector: Obj | None) -> str:
    """A LabelSelector as a selector string (LabelSelectorAsSelector(...).String()), requirements by key."""
    requirements: list[tuple[str, str]] = []
    for key, value in ((selector or {}).get("matchLabels") or {}).items():
        requirements.append((key, f"{key}={value}"))
    for expression in (selector or {}).get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], sorted(expression.get("values") or [])
        text = {
            "In": f"{key} in ({','.join(values)})",
            "NotIn": f"{key} notin ({','.join(values)})",
            "Exists": key,
            "DoesNotExist": f"!{key}",
        }.get(operator, "<invalid>")
        requirements.append((key, text))
    return ",".join(text for _, text in sorted(requirements))


def _containers(spec: Obj) -> tuple[str, str]:
    containers = spec.get("containers") or []
    return ",".join(c["name"] for c in containers), ",".join(c.get("image", "") for c in containers)


# --- pods --------------------------------------------------------------------------------------


def _pod_cells(pod: Obj, now: float) -> Cells:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    init_specs = {c["name"]: c for c in spec.get("initContainers") or []}

    def restartable(name: str) -> bool:  # a native sidecar: an init container that keeps running
        return (init_specs.get(name) or {}).get("restartPolicy") == "Always"

    total = len(spec.get("containers") or []) + sum(restartable(name) for name in init_specs)
    ready = restarts = sidecar_restarts = 0
    last_restart = last_sidecar_restart = 0.0
    reason = status.get("reason") or status.get("phase") or ""
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for index, container in enumerate(init_statuses):
        finished = parse_time(((container.get("lastState") or {}).get("terminated") or {}).get("finishedAt")) or 0.0
        restarts += container.get("restartCount", 0)
        last_restart = max(last_restart, finished)
        if restartable(container["name"]):
            sidecar_restarts += container.get("restartCount", 0)
            last_sidecar_restart = max(last_sidecar_restart, finished)
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated and terminated.get("exitCode") == 0:
            continue
        if restartable(container["name"]) and container.get("started"):
            ready += bool(container.get("ready"))
            continue
        if terminated:
            reason = "Init:" + _terminated_reason(terminated)
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(status, "Initialized"):
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        running = False
        for container in reversed(status.get("containerStatuses") or []):
            restarts += container.get("restartCount", 0)
            finished = parse_time(((container.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
            last_restart = max(last_restart, finished or 0.0)
            state = container.get("state") or {}
            waiting, terminated = state.get("waiting") or {}, state.get("terminated")
            if waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated:
                reason = _terminated_reason(terminated)
            elif container.get("ready") and "running" in state:
                running = True
                ready += 1
        if reason == "Completed" and running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"

    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif status.get("phase") not in ("Succeeded", "Failed"):
            reason = "Terminating"

    restarts_text = str(restarts)
    if restarts and last_restart:
        restarts_text = f"{restarts} ({human_duration(now - last_restart)} ago)"
    ips = status.get("podIPs") or []
    gates = spec.get("readinessGates") or []
    gates_text = "<none>"
    if gates:
        wanted = {gate.get("conditionType") for gate in gates}
        true = sum(1 for c in status.get("conditions") or [] if c.get("type") in wanted and c.get("status") == "True")
        gates_text = f"{true}/{len(gates)}"
    return [
        pod["metadata"]["name"],
        f"{ready}/{total}",
        reason,
        restarts_text,
        age(pod, now),
        (ips[0].get("ip") if ips else "") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_text,
    ]


def _terminated_reason(terminated: Obj) -> str:
    if terminated.get("reason"):
        return str(terminated["reason"])
    if terminated.get("signal"):
        return f"Signal:{terminated['signal']}"
    return f"ExitCode:{terminated.get('exitCode', 0)}"


def _condition_true(status: Obj, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions") or [])


def _pod_conditions(pod: Obj) -> list[Obj]:
    """Finished pods carry a Completed row condition (kubectl can hide them by it)."""
    phase = (pod.get("status") or {}).get("phase")
    message = {"Succeeded": "The pod has completed successfully.", "Failed": "The pod failed."}.get(phase or "")
    return [{"type": "Completed", "status": "True", "reason": phase, "message": message}] if message else []


# --- nodes, services, deployments and the rest -------------------------------------------------------------


def _node_cells(node: Obj, now: float) -> Cells:
    spec, status = node.get("spec") or {}, node.get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    states = [] if ready is None else ["Ready" if ready.get("status") == "True" else "NotReady"]
    states = states or ["Unknown"]
    if spec.get("unschedulable"):
        states.append("SchedulingDisabled")
    roles = set()
    for key, value in ((node.get("metadata") or {}).get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/") and key.removeprefix("node-role.kubernetes.io/"):
            roles.add(key.removeprefix("node-role.kubernetes.io/"))
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    info = status.get("nodeInfo") or {}

    def address(kind: str) -> str:
        return next((a["address"] for a in status.get("addresses") or [] if a.get("type") == kind), "<none>")

    return [
        node["metadata"]["name"],
        ",".join(states),
        ",".join(sorted(roles)) or "<none>",
        age(node, now),
        info.get("kubeletVersion", ""),
        address("InternalIP"),
        address("ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _external_ip(service: Obj) -> str:
    """getServiceExternalIP, wide (the server prints wide, so load-balancer addresses are never clipped)."""
    spec, status = service.get("spec") or {}, service.get("status") or {}
    kind, external = spec.get("type", "ClusterIP"), spec.get("externalIPs") or []
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if kind == "LoadBalancer":
        ingress = (status.get("loadBalancer") or {}).get("ingress") or []
        balanced = sorted({i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")})
        return ",".join(balanced + external) or "<pending>"
    if kind == "ExternalName":
        return str(spec.get("externalName", ""))
    return "<unknown>"


def _service_cells(service: Obj, now: float) -> Cells:
    spec = service.get("spec") or {}
    ports = [
        f"{p['port']}:{p['nodePort']}/{p.get('protocol', 'TCP')}" if p.get("nodePort") else
        f"{p['port']}/{p.get('protocol', 'TCP')}"
        for p in spec.get("ports") or []
    ]
    return [
        service["metadata"]["name"],
        spec.get("type", ""),
        (spec.get("clusterIPs") or ["<none>"])[0],
        _external_ip(service),
        ",".join(ports) or "<none>",
        age(service, now),
        format_labels(spec.get("selector")),
    ]


def _deployment_cells(deployment: Obj, now: float) -> Cells:
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    names, images = _containers((spec.get("template") or {}).get("spec") or {})
    return [
        deployment["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        age(deployment, now),
        names,
        images,
        format_selector(spec.get("selector")),
    ]


def _daemon_set_cells(daemon_set: Obj, now: float) -> Cells:
    spec, status = daemon_set.get("spec") or {}, daemon_set.get("status") or {}
    pod_spec = (spec.get("template") or {}).get("spec") or {}
    names, images = _containers(pod_spec)
    return [
        daemon_set["metadata"]["name"],
        status.get("desiredNumberScheduled", 0),
        status.get("currentNumberScheduled", 0),
        status.get("numberReady", 0),
        status.get("updatedNumberScheduled", 0),
        status.get("numberAvailable", 0),
        format_labels(pod_spec.get("nodeSelector")),
        age(daemon_set, now),
        names,
        images,
        format_selector(spec.get("selector")),
    ]


def _binding_cells(binding: Obj, now: float) -> Cells:
    subjects = binding.get("subjects") or []

    def named(kind: str) -> str:
        return ", ".join(
            (f"{s.get('namespace', '')}/{s['name']}" if kind == "ServiceAccount" else s["name"])
            for s in subjects if s.get("kind") == kind
        )

    role = binding.get("roleRef") or {}
    return [
        binding["metadata"]["name"],
        f"{role.get('kind', '')}/{role.get('name', '')}",
        age(binding, now),
        named("User"),
        named("Group"),
        named("ServiceAccount"),
    ]


PRINTERS: dict[str, Printer] = {
    "pods": Printer(
        (
            NAME,
            column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
            column("Status", "string", "The aggregate status of the containers in this pod."),
            column(
                "Restarts",
                "string",
                "The number of times the containers in this pod have been restarted and when the last "
                "container in this pod has restarted.",
            ),
            AGE,
            column("IP", "string", "podIP address allocated to the pod. Routable at least within the cluster. "
                   "Empty if not yet allocated.", priority=1),
            column("Node", "string", "NodeName indicates in which node this pod is scheduled. If empty, this pod is "
                   "a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, "
                   "the kubelet for this node becomes responsible for the lifecycle of this pod. This field should "
                   "not be used to express a desire for the pod to be scheduled on a specific node. "
                   "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename", priority=1),
            column("Nominated Node", "string", "nominatedNodeName is set only when this pod preempts other pods on "
                   "the node, but it cannot be scheduled right away as preemption victims receive their graceful "
                   "termination periods. This field does not guarantee that the pod will be scheduled on this "
                   "node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. "
                   "Scheduler may also decide to give the resources on this node to a higher priority pod that is "
                   "created after preemption. As a result, this field may be different than PodSpec.nodeName when "
                   "the pod is scheduled.", priority=1),
            column("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod "
                   "readiness. A pod is ready when all its containers are ready AND all conditions specified in the "
                   "readiness gates have status equal to \"True\" More info: "
                   "https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates", priority=1),
        ),
        _pod_cells,
        _pod_conditions,
    ),
    "nodes": Printer(
        (
            NAME,
            column("Status", "string", "The status of the node"),
            column("Roles", "string", "The roles of the node"),
            AGE,
            column("Version", "string", "Kubelet Version reported by the node."),
            column("Internal-IP", "string", "List of addresses reachable to the node. Queried from cloud provider, "
                   "if available.", priority=1),
            column("External-IP", "string", "List of addresses reachable to the node. Queried from cloud provider, "
                   "if available.", priority=1),
            column("OS-Image", "string", "OS Image reported by the node from /etc/os-release (e.g. Debian "
                   "GNU/Linux 7 (wheezy)).", priority=1),
            column("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r' (e.g. "
                   "3.16.0-0.bpo.4-amd64).", priority=1),
            column("Container-Runtime", "string", "ContainerRuntime Version reported by the node through runtime "
                   "remote API (e.g. containerd://1.4.2).", priority=1),
        ),
        _node_cells,
    ),
    "services": Printer(
        (
            NAME,
            column("Type", "string", "type determines how the Service is exposed. Defaults to ClusterIP. Valid "
                   "options are ExternalName, ClusterIP, NodePort, and LoadBalancer."),
            column("Cluster-IP", "string", "clusterIP is the IP address of the service and is usually assigned "
                   "randomly."),
            column("External-IP", "string", "externalIPs is a list of IP addresses for which nodes in the cluster "
                   "will also accept traffic for this service.  These IPs are not managed by Kubernetes.  The user "
                   "is responsible for ensuring that traffic arrives at a node with this IP.  A common example is "
                   "external load-balancers that are not part of the Kubernetes system."),
            column("Port(s)", "string", "The list of ports that are exposed by this service. More info: "
                   "https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"),
            AGE,
            column("Selector", "string", "Route service traffic to pods with label keys and values matching this "
                   "selector. If empty or not present, the service is assumed to have an external process managing "
                   "its endpoints, which Kubernetes will not modify.", priority=1),
        ),
        _service_cells,
    ),
    "deployments": Printer(
        (
            NAME,
            column("Ready", "string", "Number of the pod with ready state"),
            column("Up-to-date", "string", "Total number of non-terminated pods targeted by this deployment that "
                   "have the desired template spec."),
            column("Available", "string", "Total number of available pods (ready for at least minReadySeconds) "
                   "targeted by this deployment."),
            AGE,
            column("Containers", "string", CONTAINERS_DOC, priority=1),
            column("Images", "string", IMAGES_DOC, priority=1),
            column("Selector", "string", "Label selector for pods. Existing ReplicaSets whose pods are selected by "
                   "this will be the ones affected by this deployment.", priority=1),
        ),
        _deployment_cells,
    ),
    "daemonsets": Printer(
        (
            NAME,
            column("Desired", "integer", "The total number of nodes that should be running the daemon pod "
                   "(including nodes correctly running the daemon pod)."),
            column("Current", "integer", "The number of nodes that are running at least 1 daemon pod and are "
                   "supposed to run the daemon pod."),
            column("Ready", "integer", "numberReady is the number of nodes that should be running the daemon pod "
                   "and have one or more of the daemon pod running with a Ready Condition."),
            column("Up-to-date", "integer", "The total number of nodes that are running updated daemon pod"),
            column("Available", "integer", "The number of nodes that should be running the daemon pod and have one "
                   "or more of the daemon pod running and available (ready for at least spec.minReadySeconds)"),
            column("Node Selector", "string", "NodeSelector is a selector which must be true for the pod to fit on "
                   "a node. Selector which must match a node's labels for the pod to be scheduled on that node."),
            AGE,
            column("Containers", "string", CONTAINERS_DOC, priority=1),
            column("Images", "string", IMAGES_DOC, priority=1),
            column("Selector", "string", "A label query over pods that are managed by the daemon set. Must match in "
                   "order to be controlled. It must match the pod template's labels.", priority=1),
        ),
        _daemon_set_cells,
    ),
    "namespaces": Printer(
        (NAME, column("Status", "string", "The status of the namespace"), AGE),
        lambda ns, now: [ns["metadata"]["name"], (ns.get("status") or {}).get("phase", ""), age(ns, now)],
    ),
    "configmaps": Printer(
        (NAME, column("Data", "string", "Data contains the configuration data."), AGE),
        lambda cm, now: [
            cm["metadata"]["name"], len(cm.get("data") or {}) + len(cm.get("binaryData") or {}), age(cm, now)
        ],
    ),
    "secrets": Printer(
        (
            NAME,
            column("Type", "string", "Used to facilitate programmatic handling of secret data. More info: "
                   "https://kubernetes.io/docs/concepts/configuration/secret/#secret-types"),
            column("Data", "string", "Data contains the secret data."),
            AGE,
        ),
        lambda s, now: [s["metadata"]["name"], s.get("type", ""), len(s.get("data") or {}), age(s, now)],
    ),
    "serviceaccounts": Printer(
        (NAME, column("Secrets", "string", "Secrets is a list of the secrets in the same namespace that pods "
                      "running using this ServiceAccount are allowed to use."), AGE),
        lambda sa, now: [sa["metadata"]["name"], len(sa.get("secrets") or []), age(sa, now)],
    ),
    "clusterrolebindings": Printer(
        (
            NAME,
            column("Role", "string", "RoleRef can only reference a ClusterRole in the global namespace. If the "
                   "RoleRef cannot be resolved, the Authorizer must return an error."),
            AGE,
            column("Users", "string", "Users in the clusterRoleBinding", priority=1),
            column("Groups", "string", "Groups in the clusterRoleBinding", priority=1),
            column("ServiceAccounts", "string", "ServiceAccounts in the clusterRoleBinding", priority=1),
        ),
        _binding_cells,
    ),
    "mutatingwebhookconfigurations": Printer(
        (NAME, column("Webhooks", "integer", "Webhooks indicates the number of webhooks registered in this "
                      "configuration"), AGE),
        lambda w, now: [w["metadata"]["name"], len(w.get("webhooks") or []), age(w, now)],
    ),
}

# The API server's default table (rest.DefaultTableConvertor), for built-in kinds without a printer.
DEFAULT = Printer(
    (NAME, column("Created At", "date", CREATED_DOC)),
    lambda obj, now: [obj["metadata"]["name"], (obj.get("metadata") or {}).get("creationTimestamp") or ""],
)
# A custom resource's table when its CRD names no printer columns: Name, then Age (type date) by default.
CUSTOM = Printer(
    (NAME, column("Age", "date", CREATED_DOC)),
    lambda obj, now: [obj["metadata"]["name"], age(obj, now)],
)


def printer_for(plural: str, custom: bool) -> Printer:
    """The printer kube-apiserver (or, for a custom resource, the CRD handler) uses for a kind."""
    if custom:
        return CUSTOM
    if plural == "events":
        from meshcheck.sim.events import PRINTER  # built from the Events it prints; imported late (it imports us)

        return PRINTER
    return PRINTERS.get(plural, DEFAULT)
