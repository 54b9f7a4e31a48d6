"""Complete Kubernetes objects, shaped as a real API server returns them.

The official Python client validates models strictly and a real API server always sends
certain fields (a node's ``nodeInfo.bootID``, a container status's ``imageID``...), so every
builder here fills what the API fills; the project's tests deserialize each object through the
client's models to prove it. Field names and defaults follow the Kubernetes API reference
(kubernetes.io/docs/reference/kubernetes-api/) for core/v1, apps/v1, rbac/v1 and
admissionregistration/v1.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

Obj = dict[str, Any]


class Clock:
    """Timestamps relative to when the simulated cluster 'started' (``at``) or to the moment it was
    built (``ago``), so ages look real."""

    def __init__(self, started: float, now: float | None = None) -> None:
        self.started = started
        self.now = time.time() if now is None else now

    def at(self, offset: float = 0.0) -> str:
        return _stamp(self.started + offset)

    def ago(self, seconds: float) -> str:
        """``seconds`` before the cluster was built; negative: after, for state it reaches by itself."""
        return _stamp(self.now - seconds)

    @property
    def uptime(self) -> float:
        return self.now - self.started


def _stamp(moment: float) -> str:
    return datetime.fromtimestamp(moment, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _uid(*parts: str) -> str:
    return str(uuid.UUID(hashlib.md5("/".join(parts).encode()).hexdigest()))


def _hash(*parts: str, length: int = 10) -> str:
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


def meta(
    clock: Clock,
    name: str,
    namespace: str | None = None,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    **extra: Any,
) -> Obj:
    metadata: Obj = {
        "name": name,
        "uid": _uid(namespace or "", name),
        "resourceVersion": str(1000 + int(hashlib.md5(name.encode()).hexdigest()[:4], 16)),
        "creationTimestamp": clock.at(),
    }
    if namespace:
        metadata["namespace"] = namespace
    if labels:
        metadata["labels"] = dict(labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    metadata.update(extra)
    return metadata


def condition(
    kind: str,
    ok: bool,
    clock: Clock,
    reason: str = "",
    message: str = "",
    heartbeat: bool = False,
    since: str | None = None,
) -> Obj:
    """A status condition; ``since`` is its lastTransitionTime (default: a minute after the cluster started)."""
    cond = {"type": kind, "status": "True" if ok else "False", "lastTransitionTime": since or clock.at(60)}
    if heartbeat:
        cond["lastHeartbeatTime"] = clock.ago(30)
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


# --- nodes and namespaces ---------------------------------------------------------------------


def node(
    clock: Clock,
    name: str,
    *,
    version: str,
    control_plane: bool = False,
    ready: bool = True,
    cordoned: bool = False,
    pressure: str | None = None,
    index: int = 0,
    address: str | None = None,
) -> Obj:
    """A Node as the kubelet reports it; ``address`` is its InternalIP (kind's 172.18.0.x by default,
    a VM's own address on a kubeadm cluster such as the lab's 192.168.88.200)."""
    labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
    }
    taints = []
    if control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
        taints.append({"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"})
    if cordoned:
        taints.append({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": clock.at(3600)})
    if not ready:
        taints.append({"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "timeAdded": clock.at(3600)})
    conditions = [
        condition(
            kind,
            pressure == kind,
            clock,
            f"KubeletHas{'' if pressure == kind else 'No'}{kind}"
            if kind != "PIDPressure"
            else "KubeletHasSufficientPID",
            f"kubelet has {'' if pressure == kind else 'no '}{kind}",
            heartbeat=True,
        )
        for kind in ("MemoryPressure", "DiskPressure", "PIDPressure")
    ]
    if ready:
        conditions.append(
            condition("Ready", True, clock, "KubeletReady", "kubelet is posting ready status", heartbeat=True)
        )
    else:
        conditions.append(
            {
                "type": "Ready",
                "status": "Unknown",
                "reason": "NodeStatusUnknown",
                "message": "Kubelet stopped posting node status.",
                "lastHeartbeatTime": clock.at(3600),
                "lastTransitionTime": clock.at(3600),
            }
        )
    ip = address or f"172.18.0.{index + 2}"
    spec: Obj = {
        "podCIDR": f"10.244.{index}.0/24",
        "podCIDRs": [f"10.244.{index}.0/24"],
        "providerID": f"kind://docker/meshcheck/{name}",
    }
    if taints:
        spec["taints"] = taints
    if cordoned:
        spec["unschedulable"] = True
    resources = {
        "cpu": "8",
        "ephemeral-storage": "263174212Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": "32863472Ki",
        "pods": "110",
    }
    return {
        "metadata": meta(
            clock,
            name,
            labels=labels,
            annotations={
                "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        ),
        "spec": spec,
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "conditions": conditions,
            "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": _hash(name, "machine", length=32),
                "systemUUID": _uid(name, "system"),
                "bootID": _uid(name, "boot"),
                "kernelVersion": "6.1.0-18-amd64",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "containerRuntimeVersion": "containerd://1.7.13",
                "kubeletVersion": version,
                "kubeProxyVersion": version,
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
            "images": [{"names": [f"registry.k8s.io/kube-proxy:{version}"], "sizeBytes": 85934501}],
        },
    }


def namespace(clock: Clock, name: str, labels: dict[str, str] | None = None) -> Obj:
    all_labels = {"kubernetes.io/metadata.name": name, **(labels or {})}
    return {
        "metadata": meta(clock, name, labels=all_labels),
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


# --- workloads --------------------------------------------------------------------------------


def container(name: str, image: str, ports: list[int] | None = None, **extra: Any) -> Obj:
    spec: Obj = {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }
    if ports:
        spec["ports"] = [{"containerPort": p, "protocol": "TCP"} for p in ports]
    spec.update(extra)
    return spec


# kubelet restarts a crashed container after a back-off that starts at 10 s and doubles up to 5 minutes
# (pkg/kubelet/kuberuntime); the container of a crash loop runs a few seconds each time.
BACK_OFF_START, BACK_OFF_MAX, CRASH_RUN = 10.0, 300.0, 4.0


def crash_restarts(seconds: float) -> int:
    """How many times kubelet has restarted a container that has crash-looped for ``seconds``."""
    count, elapsed, delay = 0, CRASH_RUN, BACK_OFF_START
    while elapsed + delay + CRASH_RUN <= seconds:
        elapsed += delay + CRASH_RUN
        count += 1
        delay = min(delay * 2, BACK_OFF_MAX)
    return count


def back_off(restarts: int) -> float:
    return min(BACK_OFF_START * 2 ** min(max(restarts - 1, 0), 16), BACK_OFF_MAX)  # capped before it overflows


def go_duration(seconds: float) -> str:
    """A duration as Go prints it in kubelet's messages: 10s, 1m20s, 5m0s."""
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


@dataclass(frozen=True)
class Timeline:
    """When a pod was created, started and came up, in seconds before the clock's ``now`` (``up`` None:
    not yet), and since when it has crash-looped (``crashing``: its app container's restarts follow)."""

    created: float
    up: float | None
    crashing: float | None = None

    @classmethod
    def with_cluster(cls, clock: Clock, crashing: float | None = None) -> Timeline:
        """A pod that came up with the cluster: created as it started, running two minutes later."""
        return cls(clock.uptime, clock.uptime - 120, crashing)

    @property
    def started(self) -> float:
        return self.created - min(30.0, self.created / 4)

    def init_done(self) -> tuple[float, float]:
        """(startedAt, finishedAt) of a completed init container: from the pod's start, halfway to up."""
        up = self.up if self.up is not None else self.started - 2
        return self.started, (self.started + up) / 2


def container_status(
    clock: Clock,
    spec: Obj,
    *,
    ready: bool = True,
    restarts: int = 0,
    waiting: str | None = None,
    life: Timeline | None = None,
    pod_ref: str = "",
) -> Obj:
    """A container's status as kubelet reports it: running since the pod came up, waiting for a reason,
    not created yet (``life.up`` None), or in a crash loop (``life.crashing``, when ``waiting`` is
    CrashLoopBackOff: restarts, the back-off and the last run's exit as kubelet records them)."""
    life = life or Timeline.with_cluster(clock)
    image = spec["image"]
    status: Obj = {
        "name": spec["name"],
        "image": image,
        "imageID": f"{image.split(':')[0]}@sha256:{_hash(image, length=64)}",
        "containerID": f"containerd://{_hash(spec['name'], image, length=64)}",
        "ready": ready,
        "restartCount": restarts,
        "started": not waiting,
        "state": {},
        "lastState": {},
    }
    if waiting == "CrashLoopBackOff" and life.crashing is not None:
        restarts = max(crash_restarts(life.crashing), 1)
        delay = back_off(restarts)
        finished = delay / 3
        status["restartCount"] = restarts
        status["containerID"] = f"containerd://{_hash(spec['name'], image, str(restarts), length=64)}"
        status["state"] = {
            "waiting": {
                "reason": waiting,
                "message": f"back-off {go_duration(delay)} restarting failed container={spec['name']} pod={pod_ref}",
            }
        }
        status["lastState"] = {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": clock.ago(finished + CRASH_RUN),
                "finishedAt": clock.ago(finished),
                "containerID": status["containerID"],
            }
        }
        return status
    if waiting in ("PodInitializing", "ContainerCreating"):
        del status["containerID"]  # nothing created yet, no image pulled
        status["imageID"] = ""
        status["state"] = {"waiting": {"reason": waiting}}
        return status
    if waiting:
        message = f"back-off restarting failed container {spec['name']}"
        status["state"] = {"waiting": {"reason": waiting, "message": message}}
    else:
        status["state"] = {"running": {"startedAt": clock.ago(life.up if life.up is not None else 0)}}
    if restarts:
        status["lastState"] = {
            "terminated": {"exitCode": 1, "reason": "Error", "startedAt": clock.at(90), "finishedAt": clock.at(100)}
        }
    return status


def pod(
    clock: Clock,
    name: str,
    ns: str,
    *,
    labels: dict[str, str],
    containers: list[Obj],
    node_name: str,
    ip: str,
    ready: dict[str, bool] | None = None,
    restarts: dict[str, int] | None = None,
    waiting: dict[str, str] | None = None,
    init_containers: list[Obj] | None = None,
    annotations: dict[str, str] | None = None,
    owner: Obj | None = None,
    service_account: str = "default",
    life: Timeline | None = None,
) -> Obj:
    """A pod as kubelet reports it. ``life`` says when it was created and came up (default: with the
    cluster); one not up yet is Pending with its first init container running (or its containers
    being created), and one whose container crash-loops has been unready since the loop began."""
    life = life or Timeline.with_cluster(clock)
    ready = ready or {}
    restarts = restarts or {}
    waiting = waiting or {}
    init_containers = init_containers or []
    pod_ref = f"{name}_{ns}({_uid(ns, name)})"
    pending = life.up is None
    natives = [c for c in init_containers if c.get("restartPolicy") == "Always"]
    plain_init = [c for c in init_containers if c not in natives]
    creating = "PodInitializing" if plain_init else "ContainerCreating"

    def status_of(spec: Obj) -> Obj:
        reason = creating if pending else waiting.get(spec["name"])
        return container_status(
            clock,
            spec,
            ready=ready.get(spec["name"], True) and reason is None,
            restarts=restarts.get(spec["name"], 0),
            waiting=reason,
            life=life,
            pod_ref=pod_ref,
        )

    init_statuses = []
    for index, spec in enumerate(init_containers):
        if spec in natives:
            init_statuses.append(status_of(spec))
        elif pending and index == 0:
            running = container_status(clock, spec, ready=False, life=Timeline(life.created, life.started))
            init_statuses.append(running)
        elif pending:
            init_statuses.append(container_status(clock, spec, ready=False, waiting="PodInitializing"))
        else:
            done = container_status(clock, spec, ready=False, life=life)
            done["started"] = False
            began, ended = life.init_done()
            done["state"] = {
                "terminated": {
                    "exitCode": 0,
                    "reason": "Completed",
                    "startedAt": clock.ago(began),
                    "finishedAt": clock.ago(ended),
                    "containerID": done["containerID"],
                }
            }
            init_statuses.append(done)
    statuses = [status_of(c) for c in containers]
    must_be_ready = statuses + [s for s in init_statuses if s["name"] in {n["name"] for n in natives}]
    all_ready = all(s["ready"] for s in must_be_ready)
    unready = " ".join(s["name"] for s in must_be_ready if not s["ready"])
    spec: Obj = {
        "containers": containers,
        "nodeName": node_name,
        "restartPolicy": "Always",
        "serviceAccountName": service_account,
        "serviceAccount": service_account,
        "dnsPolicy": "ClusterFirst",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "terminationGracePeriodSeconds": 30,
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "tolerations": [
            {
                "key": "node.kubernetes.io/not-ready",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
            {
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300,
            },
        ],
    }
    if init_containers:
        spec["initContainers"] = init_containers
    metadata = meta(clock, name, ns, labels=labels, annotations=annotations)
    metadata["creationTimestamp"] = clock.ago(life.created)
    if owner:
        metadata["ownerReferences"] = [owner]
        metadata["generateName"] = name.rsplit("-", 1)[0] + "-"
    # Conditions of a pod that came up with the cluster keep their old look (a minute in); others
    # changed when the pod started, came up, or began to crash-loop.
    with_cluster = life.created == clock.uptime
    began = clock.at(60) if with_cluster else clock.ago(life.started)
    came_up = began if with_cluster or pending else clock.ago(life.up or 0)
    readiness = clock.ago(life.crashing) if life.crashing is not None and not all_ready else came_up
    if pending:
        readiness = began
    conditions = [
        condition("PodReadyToStartContainers", True, clock, since=began),
        condition(
            "Initialized",
            not (pending and plain_init),
            clock,
            "ContainersNotInitialized" if pending and plain_init else "",
            f"containers with incomplete status: [{plain_init[0]['name']}]" if pending and plain_init else "",
            since=began,
        ),
        condition(
            "Ready",
            all_ready,
            clock,
            "" if all_ready else "ContainersNotReady",
            "" if all_ready else f"containers with unready status: [{unready}]",
            since=readiness,
        ),
        condition(
            "ContainersReady",
            all_ready,
            clock,
            "" if all_ready else "ContainersNotReady",
            "" if all_ready else f"containers with unready status: [{unready}]",
            since=readiness,
        ),
        condition("PodScheduled", True, clock, since=clock.at(60) if with_cluster else clock.ago(life.created)),
    ]
    status: Obj = {
        "phase": "Pending" if pending else "Running",
        "conditions": conditions,
        "hostIP": f"172.18.0.{2 + (sum(map(ord, node_name)) % 3)}",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": clock.ago(life.started),
        "qosClass": "Burstable",
        "containerStatuses": statuses,
    }
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    return {"metadata": metadata, "spec": spec, "status": status}


def deployment(
    clock: Clock,
    name: str,
    ns: str,
    *,
    labels: dict[str, str],
    template: Obj,
    replicas: int = 1,
    available: int | None = None,
    updated: int | None = None,
    created: str | None = None,
    available_since: str | None = None,
    progressed: str | None = None,
    rolling: bool = False,
) -> Obj:
    """A Deployment as its controller leaves it (pkg/controller/deployment).

    By default its rollout completed as the cluster came up: Progressing=True NewReplicaSetAvailable,
    which it keeps when its pods later crash-loop (fewer ``available``, ``Available=False`` since
    ``available_since``): the progress deadline applies only during a rollout. ``rolling``: a rollout
    under way, the new ReplicaSet at ``updated`` replicas so far (Progressing=True ReplicaSetUpdated,
    last moved at ``progressed``). Progressing keeps the lastTransitionTime of its creation: its status
    never changed, only its reason and lastUpdateTime.
    """
    available = replicas if available is None else available
    updated = replicas if updated is None else updated
    created = created or clock.at()
    began = created if rolling or created != clock.at() else clock.at(60)
    ok = available >= min(replicas, 1)
    replica_set = f"{name}-{_hash(name)}"
    available_condition = condition(
        "Available",
        ok,
        clock,
        "MinimumReplicasAvailable" if ok else "MinimumReplicasUnavailable",
        "Deployment has minimum availability." if ok else "Deployment does not have minimum availability.",
        since=available_since or began,
    )
    available_condition["lastUpdateTime"] = available_condition["lastTransitionTime"]
    progressing = condition(
        "Progressing",
        True,
        clock,
        "ReplicaSetUpdated" if rolling else "NewReplicaSetAvailable",
        f'ReplicaSet "{replica_set}" is progressing.'
        if rolling
        else f'ReplicaSet "{replica_set}" has successfully progressed.',
        since=began,
    )
    progressing["lastUpdateTime"] = progressed or began
    pods = updated if rolling else replicas
    status: Obj = {
        "observedGeneration": 1,
        "replicas": pods,
        "updatedReplicas": updated,
        "readyReplicas": available,
        "availableReplicas": available,
        "conditions": [available_condition, progressing],
    }
    if available < max(pods, replicas):
        status["unavailableReplicas"] = max(pods, replicas) - available
    for key in ("updatedReplicas", "readyReplicas", "availableReplicas"):
        if not status[key]:
            del status[key]  # the API omits zero counts
    revision = {"deployment.kubernetes.io/revision": "1"}
    metadata = meta(clock, name, ns, labels=labels, generation=1, annotations=revision)
    metadata["creationTimestamp"] = created
    return {
        "metadata": metadata,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(template["metadata"]["labels"])},
            "template": template,
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
        },
        "status": status,
    }


def owner(kind: str, name: str, ns: str) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "name": name,
        "uid": _uid(ns, name),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_name(deployment_name: str, index: int = 0) -> str:
    return f"{deployment_name}-{_hash(deployment_name)}-{_hash(deployment_name, str(index), length=5)}"


# --- services and accounts --------------------------------------------------------------------


def service(
    clock: Clock,
    name: str,
    ns: str,
    *,
    ports: list[Obj],
    selector: dict[str, str] | None = None,
    kind: str = "ClusterIP",
    labels: dict[str, str] | None = None,
    lb_ingress: list[Obj] | None = None,
) -> Obj:
    octet = int(hashlib.md5(f"{ns}/{name}".encode()).hexdigest()[:4], 16)
    cluster_ip = f"10.96.{octet % 250}.{octet // 256 % 250 + 2}"
    full_ports = []
    for index, port in enumerate(ports):
        entry = {"protocol": "TCP", "targetPort": port["port"], **port}
        if kind in ("LoadBalancer", "NodePort"):
            entry.setdefault("nodePort", 30000 + (octet + index) % 2700)
        full_ports.append(entry)
    spec: Obj = {
        "ports": full_ports,
        "clusterIP": cluster_ip,
        "clusterIPs": [cluster_ip],
        "type": kind,
        "sessionAffinity": "None",
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "internalTrafficPolicy": "Cluster",
    }
    if selector:
        spec["selector"] = selector
    if kind == "LoadBalancer":
        spec["externalTrafficPolicy"] = "Cluster"
        spec["allocateLoadBalancerNodePorts"] = True
    status: Obj = {"loadBalancer": {}}
    if lb_ingress:
        status["loadBalancer"]["ingress"] = lb_ingress
    return {"metadata": meta(clock, name, ns, labels=labels), "spec": spec, "status": status}


def service_account(clock: Clock, name: str, ns: str) -> Obj:
    return {"metadata": meta(clock, name, ns)}


def token_secret(clock: Clock, account: str, ns: str) -> Obj:
    """The token Secret that Kubernetes up to 1.23 made for every ServiceAccount (the lab read its
    token from one). Its data is a made-up token: the suite reads Secrets as metadata only."""
    suffix = _hash(f"{ns}/{account}")[:5]
    token = base64.b64encode(f"sim-token.{_hash(account)}.{_hash(ns)}".encode()).decode()
    return {
        "metadata": meta(
            clock,
            f"{account}-token-{suffix}",
            ns,
            annotations={
                "kubernetes.io/service-account.name": account,
                "kubernetes.io/service-account.uid": _uid(ns, account),
            },
        ),
        "type": "kubernetes.io/service-account-token",
        "data": {"namespace": base64.b64encode(ns.encode()).decode(), "token": token},
    }


def cluster_role_binding(clock: Clock, name: str, role: str, subjects: list[Obj]) -> Obj:
    return {
        "metadata": meta(clock, name),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    }


def cluster_role(clock: Clock, name: str, rules: list[Obj]) -> Obj:
    return {"metadata": meta(clock, name, labels={"kubernetes.io/bootstrapping": "rbac-defaults"}), "rules": rules}


def sidecar_webhook(clock: Clock, istio_namespace: str, revision: str = "default") -> Obj:
    def hook(name: str, selector: Obj) -> Obj:
        return {
            "name": name,
            "admissionReviewVersions": ["v1beta1", "v1"],
            "clientConfig": {
                "service": {"name": "istiod", "namespace": istio_namespace, "path": "/inject", "port": 443},
                "caBundle": "LS0tLS1CRUdJTi==",
            },
            "failurePolicy": "Fail",
            "matchPolicy": "Equivalent",
            "namespaceSelector": selector,
            "objectSelector": {
                "matchExpressions": [{"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]}]
            },
            "reinvocationPolicy": "Never",
            "sideEffects": "None",
            "timeoutSeconds": 10,
            "rules": [
                {
                    "apiGroups": [""],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE"],
                    "resources": ["pods"],
                    "scope": "*",
                }
            ],
        }

    return {
        "metadata": meta(
            clock,
            "istio-sidecar-injector",
            labels={"app": "sidecar-injector", "istio.io/rev": revision, "release": "istio"},
        ),
        "webhooks": [
            hook(
                "rev.namespace.sidecar-injector.istio.io",
                {
                    "matchExpressions": [
                        {"key": "istio.io/rev", "operator": "In", "values": [revision]},
                        {"key": "istio-injection", "operator": "DoesNotExist"},
                    ]
                },
            ),
            hook(
                "namespace.sidecar-injector.istio.io",
                {"matchExpressions": [{"key": "istio-injection", "operator": "In", "values": ["enabled"]}]},
            ),
        ],
    }


def config_map(clock: Clock, name: str, ns: str, data: dict[str, str], labels: dict[str, str] | None = None) -> Obj:
    return {"metadata": meta(clock, name, ns, labels=labels), "data": data}


def custom(
    clock: Clock,
    api_version: str,
    kind: str,
    name: str,
    ns: str,
    spec: Obj,
    status: Obj | None = None,
    labels: dict[str, str] | None = None,
) -> Obj:
    obj = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": meta(clock, name, ns, labels=labels, generation=1),
        "spec": spec,
    }
    if status is not None:
        obj["status"] = status
    return obj
