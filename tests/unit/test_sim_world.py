"""The simulated cluster's world: objects real clients accept, built from scenario settings."""

from __future__ import annotations

import json

import pytest
from kubernetes import client

from meshcheck.errors import ConfigError
from meshcheck.sim import scenario
from meshcheck.sim.build import build_world

MODELS = {"deployments": "V1Deployment", "pods": "V1Pod"}


@pytest.mark.parametrize("name", scenario.available())
def test_every_deployment_and_pod_deserializes_through_the_client_models(name: str):
    """The official client validates strictly: a field a real API server always sends must be there,
    in the state each scenario starts in."""
    built = build_world(scenario.load(name), "127.0.0.9", 80)
    api = client.ApiClient()
    found = [(plural, obj) for plural in MODELS for obj in built.objects.get(plural, [])]
    for plural, obj in found:
        api._ApiClient__deserialize(json.loads(json.dumps(obj)), MODELS[plural])


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
