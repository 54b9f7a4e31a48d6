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
    replicas: int = 1, available: int = 1, available_cond: str = "True", progressing: str = "True", reason: str = ""
) -> dict[str, Any]:
    conditions = [{"type": "Available", "status": available_cond}, {"type": "Progressing", "status": progressing}]
    if reason:
        conditions[1]["reason"] = reason
    status: dict[str, Any] = {"conditions": conditions}
    if available:
        status["availableReplicas"] = available
    return {"metadata": {"name": "web", "namespace": "ns"}, "spec": {"replicas": replicas}, "status": status}


def test_deployment_available_needs_the_condition_and_a_replica():
    assert o.deployment_available(deployment())
    assert o.deployment_available(deployment(replicas=3, available=1))
    assert not o.deployment_available(deployment(available=0))
    assert not o.deployment_available(deployment(available_cond="False"))
    assert not o.deployment_available({"metadata": {"name": "x"}, "spec": {}, "status": {}})


def test_deployment_settled_when_out_of_time_or_scaled_to_zero():
    rolling = deployment(available=0, available_cond="False")
    assert not o.deployment_settled(rolling)
    stuck = deployment(available=0, available_cond="False", progressing="False", reason="ProgressDeadlineExceeded")
    assert o.deployment_settled(stuck)
    assert "progress deadline exceeded" in o.deployment_state(stuck)
    assert "progress deadline" not in o.deployment_state(rolling)
    assert o.deployment_settled(deployment(replicas=0, available=0))
    assert o.deployment_state(deployment(replicas=2, available=1)) == "1/2 replicas available"


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
