"""meshcheck.checks.boutique: namespace, Deployments, sidecars and restarts."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from meshcheck.checks import boutique as checks
from meshcheck.profile import load_profile
from meshcheck.sim import scenario
from meshcheck.sim.build import build_world

NS = "online-boutique"
PROFILE = load_profile()


def world_of(name: str):
    return build_world(scenario.load(name), "127.0.0.9", 80)


@pytest.fixture(scope="module")
def healthy():
    return world_of("healthy")


@pytest.fixture
def pods(healthy) -> list[dict[str, Any]]:
    return copy.deepcopy(healthy.objects["pods"])


def boutique_pod(pods: list[dict[str, Any]], app: str) -> dict[str, Any]:
    return next(p for p in pods if p["metadata"].get("namespace") == NS and p["metadata"]["labels"].get("app") == app)


def ago(seconds: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- namespace and Deployments -----------------------------------------------------------------------


def test_namespace_found_and_not_found(healthy):
    ok = checks.namespace_found(healthy.objects["deployments"], PROFILE)
    assert ok.passed and ok.diagnostics["namespace"] == NS
    missing = checks.namespace_found([], PROFILE)
    assert not missing.passed
    assert "no namespace holds a Deployment named frontend" in missing.message
    assert "kubectl apply" in missing.remediation


def test_find_namespace_prefers_the_profile_order():
    deps = [{"metadata": {"name": "frontend", "namespace": ns}} for ns in ("zzz", "default", NS)]
    assert checks.find_namespace(deps, PROFILE) == NS
    assert checks.find_namespace(deps[:2], PROFILE) == "default"
    assert checks.find_namespace(deps[:1], PROFILE) == "zzz"


def test_deployments_available_passes_in_the_healthy_world(healthy):
    result = checks.deployments_available(healthy.objects["deployments"], healthy.objects["pods"], NS, PROFILE)
    assert result.passed and "all 12 Deployments" in result.message


def test_unavailable_deployment_is_named_with_state():
    world = world_of("paymentservice-down")
    result = checks.deployments_available(world.objects["deployments"], world.objects["pods"], NS, PROFILE)
    assert not result.passed
    assert "paymentservice (0/1 replicas available (pod paymentservice-" in result.message
    assert "CrashLoopBackOff, 15 restarts))" in result.message
    assert "frontend" not in result.message
    assert f"kubectl -n {NS} describe deployment" in result.remediation
    assert result.settled and result.diagnostics["unavailable"] == ["paymentservice"]


def test_missing_deployments_are_listed(healthy):
    deps = [d for d in healthy.objects["deployments"] if d["metadata"]["name"] not in ("adservice", "redis-cart")]
    result = checks.deployments_available(deps, healthy.objects["pods"], NS, PROFILE)
    assert not result.passed
    assert "2 of 12 Deployments" in result.message and "missing: adservice, redis-cart" in result.message
    assert f"to namespace {NS}" in result.remediation
    assert result.diagnostics["missing"] == ["adservice", "redis-cart"]


def test_a_deployment_crash_looping_for_days_is_settled_and_one_rolling_out_is_not():
    """Both keep Progressing=True; the crash loop's pods and age say it will not recover, the rollout is
    worth its wait. Without its pods (not readable) a recent outage is given the wait."""
    broken = world_of("boutique-crashlooping-for-days")
    result = checks.deployments_available(broken.objects["deployments"], broken.objects["pods"], NS, PROFILE)
    assert not result.passed and result.settled
    assert "currencyservice (0/1 replicas available (pod currencyservice-" in result.message
    assert "CrashLoopBackOff, 572 restarts" in result.message
    rolling = world_of("rollout-in-progress")
    result = checks.deployments_available(rolling.objects["deployments"], rolling.objects["pods"], NS, PROFILE)
    assert not result.passed and not result.settled
    assert "checkoutservice (0/2 replicas available (rollout in progress, 1/2 updated; pod checkoutservice-" in (
        result.message)
    assert "PodInitializing" in result.message


# --- sidecars -------------------------------------------------------------------------------------------


def test_pods_have_sidecars_passes_in_the_healthy_world(pods):
    result = checks.pods_have_sidecars(pods, NS, PROFILE)
    assert result.passed and "(2/2)" in result.message


def test_native_sidecars_pass():
    world = world_of("healthy-gateway-api")
    result = checks.pods_have_sidecars(world.objects["pods"], world.namespace, PROFILE)
    assert result.passed, result.message


def test_pod_without_sidecar_fails_with_the_injection_fix(pods):
    pod = boutique_pod(pods, "cartservice")
    pod["spec"]["containers"] = [c for c in pod["spec"]["containers"] if c["name"] != "istio-proxy"]
    result = checks.pods_have_sidecars(pods, NS, PROFILE)
    assert not result.passed
    assert f"1 pod in {NS} without an istio-proxy container: {pod['metadata']['name']} (1/1)" in result.message
    assert f"label namespace {NS} with istio-injection=enabled" in result.remediation


def test_pod_with_unready_proxy_fails_and_recent_start_is_unsettled(pods):
    pod = boutique_pod(pods, "frontend")
    next(s for s in pod["status"]["containerStatuses"] if s["name"] == "istio-proxy")["ready"] = False
    result = checks.pods_have_sidecars(pods, NS, PROFILE)
    assert not result.passed
    assert f"{pod['metadata']['name']} (1/2, not ready: istio-proxy" in result.message
    assert "logs NAME -c istio-proxy" in result.remediation
    assert result.settled  # started hours ago
    pod["status"]["startTime"] = ago(20)
    assert not checks.pods_have_sidecars(pods, NS, PROFILE).settled


def test_no_app_pods_fails(pods):
    result = checks.pods_have_sidecars(pods, "elsewhere", PROFILE)
    assert not result.passed and "namespace elsewhere has no pods of online-boutique" in result.message


def test_crash_looping_pod_is_reported_with_its_reason():
    world = world_of("paymentservice-down")
    result = checks.pods_have_sidecars(world.objects["pods"], NS, PROFILE)
    assert not result.passed
    assert "CrashLoopBackOff" in result.message


# --- restarts -------------------------------------------------------------------------------------------


def test_restarts_within_budget_passes_at_the_budget_and_notes_restarts(pods):
    boutique_pod(pods, "adservice")["status"]["containerStatuses"][0]["restartCount"] = PROFILE.max_restarts
    result = checks.restarts_within_budget(pods, NS, PROFILE)
    assert result.passed
    assert f"({PROFILE.max_restarts})" in result.message


def test_restarts_over_budget_fail(pods):
    pod = boutique_pod(pods, "adservice")
    pod["status"]["containerStatuses"][0]["restartCount"] = PROFILE.max_restarts + 1
    result = checks.restarts_within_budget(pods, NS, PROFILE)
    assert not result.passed
    assert f"{pod['metadata']['name']} ({PROFILE.max_restarts + 1} restarts)" in result.message
    assert f"more than {PROFILE.max_restarts} times" in result.message
    assert "--previous" in result.remediation
