"""meshcheck.checks.istio: istiod, gateways, the injector, injection labels and version skew."""

from __future__ import annotations

from typing import Any

import pytest

from meshcheck.checks import istio as checks
from meshcheck.sim import scenario
from meshcheck.sim.build import build_world


def world_of(name: str):
    return build_world(scenario.load(name), "127.0.0.9", 80)


@pytest.fixture(scope="module")
def healthy():
    return world_of("healthy")


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}}


# --- deployments and webhook ---------------------------------------------------------------------


def test_istiod_and_ingress_gateway_available(healthy):
    istiod = checks.istiod_available(healthy.objects["deployments"], healthy.objects["pods"])
    assert istiod.passed and "istio-system/istiod" in istiod.message
    gateway = checks.ingress_gateway_available(healthy.objects["deployments"], healthy.objects["pods"])
    assert gateway.passed and "istio-system/istio-ingressgateway" in gateway.message


def test_istiod_down_names_the_deployment_and_the_fix():
    world = world_of("istiod-down")
    result = checks.istiod_available(world.objects["deployments"], world.objects["pods"])
    assert not result.passed and result.settled
    assert "istiod Deployment istio-system/istiod is not available" in result.message
    assert "logs deploy/istiod" in result.remediation


def test_istiod_crash_looping_for_days_is_settled_though_still_progressing():
    world = world_of("istiod-crashlooping-for-days")
    istiod = next(d for d in world.objects["deployments"] if d["metadata"]["name"] == "istiod")
    progressing = next(c for c in istiod["status"]["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("True", "NewReplicaSetAvailable")
    result = checks.istiod_available(world.objects["deployments"], world.objects["pods"])
    assert not result.passed and result.settled
    assert "0/1 replicas available (pod istiod-" in result.message
    assert "CrashLoopBackOff, 856 restarts" in result.message
    assert checks.istiod_available(world.objects["deployments"], []).settled  # unavailable for days says enough


def test_istiod_missing_says_install_istio():
    result = checks.istiod_available([], [])
    assert not result.passed and "no istiod Deployment" in result.message
    assert "istioctl install" in result.remediation


def test_injector_registered_passes_and_fails(healthy):
    ok = checks.injector_registered(healthy.objects["mutatingwebhookconfigurations"])
    assert ok.passed and "sidecar-injector.istio.io" in ok.message
    other = [{"metadata": {"name": "x"}, "webhooks": [{"name": "something.else.io"}]}]
    missing = checks.injector_registered(other)
    assert not missing.passed and "sidecar-injector.istio.io" in missing.message
    assert "reinstall Istio" in missing.remediation


# --- namespace injection ---------------------------------------------------------------------------


def test_injection_label_enabled_passes():
    result = checks.namespace_injection([namespace("shop", **{"istio-injection": "enabled"})], "shop")
    assert result.passed and "istio-injection=enabled" in result.message


def test_revision_label_is_accepted():
    result = checks.namespace_injection([namespace("shop", **{"istio.io/rev": "canary"})], "shop")
    assert result.passed and "istio.io/rev=canary" in result.message


def test_injection_disabled_is_rejected_even_with_a_revision_label():
    labels = {"istio-injection": "disabled", "istio.io/rev": "default"}
    result = checks.namespace_injection([namespace("shop", **labels)], "shop")
    assert not result.passed
    assert "namespace shop is not labelled for sidecar injection (istio-injection=disabled)" in result.message
    assert "kubectl label namespace shop istio-injection=enabled --overwrite" in result.remediation
    assert "rollout restart" in result.remediation


def test_no_label_and_missing_namespace_fail():
    unlabelled = checks.namespace_injection([namespace("shop")], "shop")
    assert not unlabelled.passed and "istio-injection=absent" in unlabelled.message
    missing = checks.namespace_injection([namespace("shop")], "other")
    assert not missing.passed and "namespace other does not exist" in missing.message
    assert "kubectl create namespace other" in missing.remediation


# --- versions ----------------------------------------------------------------------------------------


def istiod(image: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "istiod", "namespace": "istio-system", "labels": {"app": "istiod"}},
        "spec": {"template": {"spec": {"containers": [{"name": "discovery", "image": image}]}}},
    }


def proxy_pod(name: str, image: str, native: bool = False) -> dict[str, Any]:
    proxy = {"name": "istio-proxy", "image": image}
    spec: dict[str, Any] = {"containers": [{"name": "server", "image": "app:1"}]}
    if native:
        spec["initContainers"] = [{**proxy, "restartPolicy": "Always"}]
    else:
        spec["containers"].append(proxy)
    return {"metadata": {"name": name, "namespace": "shop"}, "spec": spec}


def test_versions_agree_in_the_simulated_world(healthy):
    result = checks.versions_agree(healthy.objects["deployments"], healthy.objects["pods"])
    assert result.passed and "1.22.1" in result.message
    assert result.diagnostics["proxies"] == {"1.22.1": sum(result.diagnostics["proxies"].values())}


def test_versions_agree_reads_registry_ports_and_native_sidecars():
    deployments = [istiod("localhost:5000/istio/pilot:1.22.1")]
    pods = [
        proxy_pod("a", "localhost:5000/istio/proxyv2:1.22.1"),
        proxy_pod("b", "localhost:5000/istio/proxyv2:1.22.1", native=True),
    ]
    result = checks.versions_agree(deployments, pods)
    assert result.passed
    assert "control plane and 2 proxies all run 1.22.1" in result.message


def test_version_skew_names_the_odd_proxies():
    deployments = [istiod("docker.io/istio/pilot:1.22.1")]
    pods = [
        proxy_pod("new", "docker.io/istio/proxyv2:1.22.1"),
        proxy_pod("old", "docker.io/istio/proxyv2:1.21.0", native=True),
        proxy_pod("pinned", "docker.io/istio/proxyv2@sha256:" + "c" * 64),
    ]
    result = checks.versions_agree(deployments, pods)
    assert not result.passed
    assert "control plane is 1.22.1 but 2 proxies run another version" in result.message
    assert "shop/old (1.21.0)" in result.message and "shop/pinned (untagged)" in result.message
    assert "shop/new" not in result.message
    assert "rollout restart" in result.remediation
    assert result.diagnostics["proxies"] == {"1.22.1": 1, "1.21.0": 1, "": 1}


def test_proxy_version_skew_scenario_fails():
    world = world_of("proxy-version-skew")
    result = checks.versions_agree(world.objects["deployments"], world.objects["pods"])
    assert not result.passed and "another version" in result.message


def test_untagged_control_plane_cannot_be_read():
    result = checks.versions_agree([istiod("docker.io/istio/pilot")], [])
    assert not result.passed
    assert "cannot read the control plane's version" in result.message
    assert "istioctl" in result.remediation
