"""meshcheck.objects: the rules checks share (ready, sidecar, image tags, ages, Deployments)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from meshcheck import objects as o

PROXY = "docker.io/istio/proxyv2:1.22.1"


def container(name: str, image: str = "app:1", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": image, **extra}


def status(name: str, ready: bool = True, **state: Any) -> dict[str, Any]:
    return {"name": name, "ready": ready, "restartCount": 0, "state": state or {"running": {}}}


INIT_DONE = status("istio-init", False, terminated={"exitCode": 0, "reason": "Completed"})


def sidecar_pod(proxy_ready: bool = True, server_ready: bool = True) -> dict[str, Any]:
    """A pod with istio-proxy as a regular container, after istio-init completed."""
    return {
        "metadata": {"name": "frontend-abc", "namespace": "online-boutique"},
        "spec": {
            "initContainers": [container("istio-init", PROXY)],
            "containers": [container("server"), container("istio-proxy", PROXY)],
        },
        "status": {
            "phase": "Running",
            "initContainerStatuses": [INIT_DONE],
            "containerStatuses": [status("server", server_ready), status("istio-proxy", proxy_ready)],
        },
    }


def native_pod(proxy_ready: bool = True) -> dict[str, Any]:
    """A pod with istio-proxy as a native sidecar: an init container with restartPolicy Always."""
    return {
        "metadata": {"name": "frontend-xyz", "namespace": "online-boutique"},
        "spec": {
            "initContainers": [
                container("istio-init", PROXY),
                container("istio-proxy", PROXY, restartPolicy="Always"),
            ],
            "containers": [container("server")],
        },
        "status": {
            "phase": "Running",
            "initContainerStatuses": [INIT_DONE, status("istio-proxy", proxy_ready)],
            "containerStatuses": [status("server")],
        },
    }


def plain_pod() -> dict[str, Any]:
    return {
        "metadata": {"name": "plain", "namespace": "default"},
        "spec": {"initContainers": [container("setup")], "containers": [container("server")]},
        "status": {
            "initContainerStatuses": [status("setup", False, terminated={"reason": "Completed"})],
            "containerStatuses": [status("server")],
        },
    }


def stamp(seconds_ago: float, fraction: str = "") -> str:
    moment = datetime.now(timezone.utc) - timedelta(seconds=seconds_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


# --- ready_count and has_sidecar -------------------------------------------------------------


def test_ready_count_counts_a_regular_sidecar_and_not_the_init_container():
    assert o.ready_count(sidecar_pod()) == (2, 2)
    assert o.has_sidecar(sidecar_pod())


def test_ready_count_sees_an_unready_regular_sidecar():
    assert o.ready_count(sidecar_pod(proxy_ready=False)) == (1, 2)
    assert o.not_ready_containers(sidecar_pod(proxy_ready=False)) == ["istio-proxy"]


def test_native_sidecar_counts_with_its_status_in_init_container_statuses():
    assert o.ready_count(native_pod()) == (2, 2)
    assert o.has_sidecar(native_pod())
    assert o.ready_count(native_pod(proxy_ready=False)) == (1, 2)
    assert o.not_ready_containers(native_pod(proxy_ready=False)) == ["istio-proxy"]


def test_plain_init_container_is_not_counted_and_is_no_sidecar():
    assert o.ready_count(plain_pod()) == (1, 1)
    assert not o.has_sidecar(plain_pod())


def test_init_container_named_istio_proxy_without_restart_policy_is_no_sidecar():
    pod = plain_pod()
    pod["spec"]["initContainers"] = [container("istio-proxy", PROXY)]
    assert not o.has_sidecar(pod)
    assert o.ready_count(pod) == (1, 1)


def test_container_without_status_is_not_ready():
    pod = sidecar_pod()
    pod["status"]["containerStatuses"] = [status("server")]
    assert o.ready_count(pod) == (1, 2)


# --- image_tag --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("docker.io/istio/proxyv2:1.22.1", "1.22.1"),
        ("localhost:5000/istio/proxyv2:1.22.1", "1.22.1"),
        ("localhost:5000/istio/proxyv2", ""),
        ("proxyv2:1.17.2-distroless", "1.17.2-distroless"),
        ("proxyv2", ""),
        ("docker.io/istio/proxyv2@sha256:" + "a" * 64, ""),
        ("localhost:5000/istio/proxyv2:1.22.1@sha256:" + "b" * 64, "1.22.1"),
        ("", ""),
    ],
)
def test_image_tag(image: str, tag: str):
    assert o.image_tag(image) == tag


# --- age_seconds and stale ----------------------------------------------------------------------


def test_age_seconds_reads_z_timestamps():
    age = o.age_seconds(stamp(600))
    assert age is not None and 599 <= age <= 610


@pytest.mark.parametrize("fraction", [".5", ".123456", ".123456789"])
def test_age_seconds_reads_fractional_seconds(fraction: str):
    age = o.age_seconds(stamp(1000, fraction))
    assert age is not None and 998 <= age <= 1010


def test_age_seconds_of_missing_or_garbage_is_none_and_future_is_zero():
    assert o.age_seconds(None) is None
    assert o.age_seconds("") is None
    assert o.age_seconds("yesterday") is None
    assert o.age_seconds(stamp(-3600)) == 0.0


def test_age_seconds_of_timestamp_without_offset_is_not_a_crash():
    naive = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    age = o.age_seconds(naive)
    assert age is None or 3500 < age < 3700


def test_stale_is_true_only_past_the_grace():
    assert o.stale(stamp(o.GRACE_SECONDS + 60))
    assert o.stale(stamp(o.GRACE_SECONDS + 60, ".250000"))
    assert not o.stale(stamp(10))
    assert not o.stale(stamp(10, ".5"))
    assert not o.stale(None)
    assert not o.stale("not a time")
    assert o.stale(stamp(120), grace=60)
    assert not o.stale(stamp(30), grace=60)


# --- Deployments --------------------------------------------------------------------------------


def deployment(
    replicas: int = 1,
    available: int = 1,
    available_cond: str = "True",
    progressing: str = "True",
    reason: str = "NewReplicaSetAvailable",
    available_since: float | None = None,
    updated: int | None = None,
    generation: int = 1,
    observed: int = 1,
) -> dict[str, Any]:
    """A Deployment as the API sends it (zero counts omitted), selecting pods labelled app=web."""
    conditions = [{"type": "Available", "status": available_cond}, {"type": "Progressing", "status": progressing}]
    if available_since is not None:
        conditions[0]["lastTransitionTime"] = stamp(available_since)
    if reason:
        conditions[1]["reason"] = reason
    status: dict[str, Any] = {"observedGeneration": observed, "conditions": conditions}
    updated = replicas if updated is None else updated
    if updated:
        status["updatedReplicas"] = updated
    if available:
        status["availableReplicas"] = available
    return {
        "metadata": {"name": "web", "namespace": "ns", "generation": generation},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}},
        "status": status,
    }


def broken(since: float, **extra: Any) -> dict[str, Any]:
    """A Deployment whose rollout completed and which has been unavailable for ``since`` seconds."""
    return deployment(available=0, available_cond="False", available_since=since, **extra)


def web_pod(
    age: float,
    waiting: str | None = None,
    restarts: int = 0,
    ready: bool = False,
    unready_for: float | None = None,
    ns: str = "ns",
    app: str = "web",
    init_waiting: str | None = None,
) -> dict[str, Any]:
    """A pod of the Deployment above, ``age`` seconds old, its container waiting or running."""
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    pod: dict[str, Any] = {
        "metadata": {"name": f"{app}-1", "namespace": ns, "labels": {"app": app}, "creationTimestamp": stamp(age)},
        "spec": {"containers": [container("server")]},
        "status": {
            "phase": "Running" if not init_waiting else "Pending",
            "startTime": stamp(age),
            "conditions": [{"type": "Ready", "status": str(ready), "lastTransitionTime": stamp(unready_for or age)}],
            "containerStatuses": [{"name": "server", "ready": ready, "restartCount": restarts, "state": state}],
        },
    }
    if init_waiting:
        pod["spec"]["initContainers"] = [container("istio-init", PROXY)]
        pod["status"]["initContainerStatuses"] = [status("istio-init", False, waiting={"reason": init_waiting})]
        pod["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "PodInitializing"}}
    return pod


def test_deployment_available_needs_the_condition_and_a_replica():
    assert o.deployment_available(deployment())
    assert o.deployment_available(deployment(replicas=3, available=1))
    assert not o.deployment_available(deployment(available=0))
    assert not o.deployment_available(deployment(available_cond="False"))
    assert not o.deployment_available({"metadata": {"name": "x"}, "spec": {}, "status": {}})


def test_a_rollout_in_progress_is_worth_waiting_for():
    """A new ReplicaSet scaling up: the controller has fewer updated replicas than wanted, or has not
    observed the new generation yet. Even a Deployment broken for days is waited for then: it may be the fix."""
    rolling = deployment(replicas=2, available=0, available_cond="False", reason="ReplicaSetUpdated", updated=1)
    assert not o.deployment_settled(rolling, [])
    assert not o.deployment_settled(rolling, [web_pod(7200, "CrashLoopBackOff", restarts=300)])
    unobserved = broken(86400, generation=2, observed=1)
    assert not o.deployment_settled(unobserved, [web_pod(86400, "CrashLoopBackOff", restarts=300)])
    assert o.rolling_out(rolling) and o.rolling_out(unobserved)
    assert o.deployment_state(rolling) == "0/2 replicas available (rollout in progress, 1/2 updated)"


def test_a_rollout_past_its_progress_deadline_is_settled():
    stuck = deployment(available=0, available_cond="False", progressing="False", reason="ProgressDeadlineExceeded")
    assert o.deployment_settled(stuck, [])
    assert "progress deadline exceeded" in o.deployment_state(stuck)


def test_a_completed_rollout_unavailable_for_long_is_settled_though_still_progressing():
    """Progressing=True NewReplicaSetAvailable stays after the rollout, however long the pod crash-loops."""
    long_broken = broken(o.GRACE_SECONDS + 600)
    assert o.condition(long_broken, "Progressing")["status"] == "True"
    assert not o.rolling_out(long_broken)
    assert o.deployment_settled(long_broken, [])
    assert o.deployment_settled(long_broken, [web_pod(60, "CrashLoopBackOff", restarts=1)])


def test_a_completed_rollout_unavailable_for_seconds_with_young_pods_is_worth_a_wait():
    recent = broken(20)
    assert not o.deployment_settled(recent, [web_pod(60, "CrashLoopBackOff", restarts=1)])
    assert not o.deployment_settled(recent, [web_pod(30, "ContainerCreating")])
    assert not o.deployment_settled(recent, [])  # no pods to go on (not created yet, or not readable)


def test_a_recent_outage_whose_pods_are_stuck_is_settled():
    recent = broken(20)
    assert o.deployment_settled(recent, [web_pod(86400, "CrashLoopBackOff", restarts=400, unready_for=20)])
    assert o.deployment_settled(recent, [web_pod(30, "ImagePullBackOff")])
    assert not o.deployment_settled(recent, [web_pod(30, "ImagePullBackOff"), web_pod(30, "ContainerCreating")])
    assert not o.deployment_settled(recent, [web_pod(86400, ready=True)])  # a ready pod: availability follows


def test_a_rollout_step_judges_by_the_pods_not_by_the_outage_age():
    """Progressing=True ReplicaSetUpdated with every replica updated: a crash loop that was briefly ready
    flips the reason so; its many restarts settle it. A fix rolling out onto a long outage is waited for."""
    step = broken(86400, reason="ReplicaSetUpdated")
    assert o.deployment_settled(step, [web_pod(86400, "CrashLoopBackOff", restarts=400, unready_for=30)])
    assert not o.deployment_settled(step, [web_pod(20, "PodInitializing")])
    assert not o.deployment_settled(step, [])


def test_a_deployment_scaled_to_zero_is_settled():
    assert o.deployment_settled(deployment(replicas=0, available=0, available_cond="False"), [])


def test_a_paused_deployment_is_no_rollout():
    paused = broken(o.GRACE_SECONDS + 60, reason="DeploymentPaused", updated=0)
    paused["spec"]["paused"] = True
    assert not o.rolling_out(paused) and o.deployment_settled(paused, [])


def test_only_the_deployments_own_live_pods_count():
    recent = broken(20)
    others = [web_pod(30, "ContainerCreating", ns="elsewhere"), web_pod(30, "ContainerCreating", app="api")]
    stuck = web_pod(86400, "CrashLoopBackOff", restarts=400, unready_for=20)
    assert o.deployment_settled(recent, [stuck, *others])
    evicted = web_pod(30, "ContainerCreating")
    evicted["status"]["phase"] = "Failed"
    terminating = web_pod(30, "ContainerCreating")
    terminating["metadata"]["deletionTimestamp"] = stamp(1)
    assert o.pods_of(recent, [stuck, evicted, terminating, *others]) == [stuck]
    assert "pod web-1 CrashLoopBackOff, 400 restarts" in o.deployment_state(recent, [stuck, *others])


def test_label_selector_matches_labels_and_expressions():
    selector = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["front", "back"]},
            {"key": "canary", "operator": "DoesNotExist"},
        ],
    }
    assert o.label_selector_matches(selector, {"app": "web", "tier": "front"})
    assert not o.label_selector_matches(selector, {"app": "web", "tier": "db"})
    assert not o.label_selector_matches(selector, {"app": "web", "tier": "front", "canary": "1"})
    assert not o.label_selector_matches({}, {"app": "web"})
    assert o.label_selector_matches({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, {"app": "x"})
    assert not o.label_selector_matches({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["x"]}]},
                                        {"app": "x"})


# --- pod_settled -------------------------------------------------------------------------------


def test_a_crash_loop_with_many_restarts_is_settled():
    assert o.pod_settled(web_pod(86400, "CrashLoopBackOff", restarts=400, unready_for=20))
    assert o.pod_settled(web_pod(400, "CrashLoopBackOff", restarts=o.CRASH_LOOP_RESTARTS))


def test_a_young_pod_with_one_restart_is_worth_a_wait():
    """One or two restarts a minute in: how a workload waits for istiod or its database."""
    assert not o.pod_settled(web_pod(60, "CrashLoopBackOff", restarts=1))
    errored = web_pod(60, restarts=2)
    errored["status"]["containerStatuses"][0]["state"] = {"terminated": {"reason": "Error", "exitCode": 1}}
    assert o.crashing_container(errored) is not None and not o.pod_settled(errored)


def test_an_old_pod_that_just_crashed_once_is_worth_a_wait():
    assert not o.pod_settled(web_pod(86400, "CrashLoopBackOff", restarts=1, unready_for=15))


def test_image_and_config_errors_are_settled_at_once():
    for reason in ("ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CreateContainerConfigError"):
        assert o.pod_settled(web_pod(20, reason)), reason
    assert o.pod_settled(web_pod(20, init_waiting="ImagePullBackOff"))  # behind an init container
    assert not o.pod_settled(web_pod(20, init_waiting="PodInitializing"))


def test_a_pod_unready_for_longer_than_the_grace_is_settled():
    assert o.pod_settled(web_pod(7200, "ContainerCreating"))
    assert not o.pod_settled(web_pod(7200, unready_for=30))  # running for hours, unready since seconds
    assert o.pod_settled(web_pod(7200, unready_for=o.GRACE_SECONDS + 60))


def test_pod_state_reads_like_kubectl():
    assert o.pod_state(web_pod(60, "CrashLoopBackOff", restarts=1)) == "CrashLoopBackOff, 1 restart"
    assert o.pod_state(web_pod(60, "ContainerCreating")) == "ContainerCreating"
    assert o.pod_state(web_pod(60, ready=True)) == "Running"


# --- waiting_reason ------------------------------------------------------------------------------


def test_waiting_reason_names_a_waiting_or_terminated_container():
    pod = plain_pod()
    pod["status"]["initContainerStatuses"] = []
    assert o.waiting_reason(pod) is None
    pod["status"]["containerStatuses"] = [status("server", False, waiting={"reason": "CrashLoopBackOff"})]
    assert o.waiting_reason(pod) == "CrashLoopBackOff"
    pod["status"]["containerStatuses"] = [status("server", False, terminated={"reason": "OOMKilled"})]
    assert o.waiting_reason(pod) == "OOMKilled"
    pod["status"]["containerStatuses"] = [status("server", False, waiting={})]
    assert o.waiting_reason(pod) is None


def test_waiting_reason_of_a_healthy_pod_without_init_containers_is_none():
    pod = sidecar_pod()
    del pod["status"]["initContainerStatuses"]
    assert o.waiting_reason(pod) is None


def test_waiting_reason_skips_a_completed_init_container():
    pod = sidecar_pod(server_ready=False)
    pod["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
    assert o.waiting_reason(pod) == "CrashLoopBackOff"


@pytest.mark.parametrize("stamp", ["2024-01-01T00:00:00+02:00", "2024-01-01T00:00:00.123456789Z",
                                   "2024-01-01T00:00:00.5-0130"])
def test_age_seconds_reads_offsets_and_nanoseconds(stamp: str) -> None:
    utc = datetime(2024, 1, 1, tzinfo=timezone.utc)
    expected = (datetime.now(timezone.utc) - utc).total_seconds()
    shift = {"+02:00": 7200, "-0130": -5400}.get(stamp[-6:] if "+" in stamp else stamp[-5:], 0)
    assert abs(o.age_seconds(stamp) - (expected + shift)) < 2
