"""The simulated cluster's world: objects real clients accept, and state that changes by itself (a rollout
completing), applied before the request that should see it."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from meshcheck import kube
from meshcheck import objects as o
from meshcheck.errors import ConfigError
from meshcheck.sim import scenario
from meshcheck.sim.build import build_world
from meshcheck.sim.world import Change, World
from tests.unit.simhttp import start_sim

MODELS = {"deployments": "V1Deployment", "daemonsets": "V1DaemonSet", "pods": "V1Pod"}


def pod(name: str, phase: str = "Running") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns"}, "status": {"phase": phase}}


def world(*changes: Change, **objects: list[dict[str, Any]]) -> World:
    return World("ns", "istio-system", "1.22.1", (), (), {}, objects=dict(objects), changes=list(changes))


@pytest.mark.parametrize("name", scenario.available())
def test_every_deployment_and_pod_deserializes_through_the_client_models(name: str):
    """The official client validates strictly: a field a real API server always sends must be there,
    in the state each scenario starts in and in the states it reaches by itself."""
    built = build_world(scenario.load(name), "127.0.0.9", 80)
    api = client.ApiClient()
    found = [(plural, obj) for plural in MODELS for obj in built.objects.get(plural, [])]
    found += [(plural, obj) for change in built.changes for plural, obj in change.put]
    for plural, obj in found:
        api._ApiClient__deserialize(json.loads(json.dumps(obj)), MODELS[plural])


def test_a_change_applies_only_once_due_and_swaps_the_lists():
    old = pod("a", "Pending")
    change = Change(10.0, put=(("pods", pod("a")), ("pods", pod("b"))), remove=(("pods", "ns", "gone"),))
    w = world(change, pods=[old, pod("gone")])
    served = w.objects["pods"]
    assert w.advance() == [] and w.objects["pods"] is served
    w.born -= 11  # as if eleven seconds had passed
    assert w.advance() == [change]
    assert [(p["metadata"]["name"], p["status"]["phase"]) for p in w.objects["pods"]] == [
        ("a", "Running"), ("b", "Running")]
    assert [p["metadata"]["name"] for p in served] == ["a", "gone"]  # a reader's list is never edited
    assert w.changes == [] and w.advance() == []


def test_changes_apply_oldest_first_and_once_under_concurrent_requests():
    first = Change(1.0, put=(("pods", pod("a", "Pending")),))
    second = Change(2.0, put=(("pods", pod("a")),))
    w = world(second, first, pods=[])
    w.born -= 5
    applied: list[Change] = []
    threads = [threading.Thread(target=lambda: applied.extend(w.advance())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert applied == [first, second]
    assert [p["status"]["phase"] for p in w.objects["pods"]] == ["Running"]


def test_the_rollout_scenario_completes_by_itself_before_the_next_request(tmp_path: Path,
                                                                          request: pytest.FixtureRequest):
    sim = start_sim("rollout-in-progress", tmp_path, request)
    assert sim.world is not None
    sim.world.born += 3600  # no rollout completes before the test says so, however slow the machine
    cluster = kube.Cluster.connect(str(sim.kubeconfig))

    def checkout() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        deployment = o.named(cluster.list(kube.DEPLOYMENTS), "checkoutservice")
        assert deployment is not None
        return deployment, o.pods_of(deployment, cluster.list(kube.PODS))

    rolling, pods = checkout()
    assert not o.deployment_available(rolling) and o.rolling_out(rolling)
    assert not o.deployment_settled(rolling, pods)
    assert [o.pod_state(p) for p in pods] == ["PodInitializing"]
    sim.world.born -= 3600 + 60  # as if a minute had passed since the cluster started
    cluster.refresh(kube.DEPLOYMENTS, kube.PODS)
    done, pods = checkout()
    assert o.deployment_available(done) and not o.rolling_out(done)
    assert o.condition(done, "Progressing")["reason"] == "NewReplicaSetAvailable"
    assert len(pods) == 2 and all(o.pod_ready(p) for p in pods)


def test_a_scenario_naming_a_deployment_the_cluster_lacks_is_refused():
    model = scenario.merge(scenario.load("healthy"), {"crash_looping": {"istiodd": "3d"}})
    with pytest.raises(ConfigError, match="crash_looping names no Deployment of the cluster: istiodd"):
        build_world(model, None, 0)


@pytest.mark.parametrize(("text", "seconds"), [(90, 90.0), ("90s", 90.0), ("45m", 2700.0), ("3h", 10800.0),
                                               ("2d", 172800.0), ("1.5h", 5400.0)])
def test_durations(text: object, seconds: float):
    assert scenario.duration(text) == seconds


def test_a_garbled_duration_says_how_to_write_one():
    with pytest.raises(ConfigError, match="not a duration"):
        scenario.duration("three days")
