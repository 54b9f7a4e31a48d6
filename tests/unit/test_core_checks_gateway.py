"""meshcheck.checks.gateway: gateway pods, routes to frontend, the external address and MetalLB."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import yaml

from meshcheck.checks import gateway as checks
from meshcheck.ingress import Ingress
from meshcheck.profile import load_profile

NS = "online-boutique"
PROFILE = load_profile()


def ago(seconds: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def service(
    name: str, ns: str = NS, kind: str = "ClusterIP", lb: list[dict[str, str]] | None = None, age: float = 7200
):
    return {
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": ago(age)},
        "spec": {"type": kind, "ports": [{"name": "http2", "port": 80}]},
        "status": {"loadBalancer": {"ingress": lb} if lb else {}},
    }


GATEWAY = {
    "metadata": {"name": "frontend-gateway", "namespace": NS},
    "spec": {"selector": {"istio": "ingressgateway"}},
}
SERVICES = [service("frontend"), service("cartservice"), service("frontend", ns="other-shop")]


def virtual_service(*hosts: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "frontend-ingress", "namespace": NS},
        "spec": {"gateways": ["frontend-gateway"], "http": [{"route": [{"destination": {"host": h}} for h in hosts]}]},
    }


def classic(route: dict[str, Any] | None, svc: dict[str, Any] | None = None) -> Ingress:
    return Ingress("classic", GATEWAY, route, svc)


# --- gateway_selects_pods ---------------------------------------------------------------------------


def test_classic_gateway_selects_its_pods_or_fails_naming_the_selector():
    gw_pod = {"metadata": {"name": "gw-1", "namespace": "istio-system", "labels": {"istio": "ingressgateway"}}}
    ok = checks.gateway_selects_pods(classic(None), [gw_pod])
    assert ok.passed and "istio-system/gw-1" in ok.message
    other = {"metadata": {"name": "x", "namespace": "a", "labels": {"istio": "egressgateway"}}}
    bad = checks.gateway_selects_pods(classic(None), [other])
    assert not bad.passed
    assert f"Gateway {NS}/frontend-gateway selects pods with" in bad.message and "ingressgateway" in bad.message
    assert "istio: ingressgateway" in bad.remediation


def test_gateway_api_gateway_needs_class_acceptance_and_pods():
    gateway = {
        "metadata": {"name": "istio-gateway", "namespace": NS},
        "spec": {"gatewayClassName": "istio"},
        "status": {"conditions": [{"type": "Accepted", "status": "True"}]},
    }
    pod = {
        "metadata": {
            "name": "gw",
            "namespace": NS,
            "labels": {"gateway.networking.k8s.io/gateway-name": "istio-gateway"},
        }
    }
    assert checks.gateway_selects_pods(Ingress("gateway-api", gateway), [pod]).passed
    no_pods = checks.gateway_selects_pods(Ingress("gateway-api", gateway), [])
    assert not no_pods.passed and "no gateway pod runs for it" in no_pods.message
    wrong_class = {**gateway, "spec": {"gatewayClassName": "nginx"}}
    result = checks.gateway_selects_pods(Ingress("gateway-api", wrong_class), [pod])
    assert not result.passed and "'nginx', not 'istio'" in result.message
    assert "gatewayClassName: istio" in result.remediation
    refused = {**gateway, "status": {"conditions": [{"type": "Accepted", "status": "False", "reason": "Invalid"}]}}
    result = checks.gateway_selects_pods(Ingress("gateway-api", refused), [pod])
    assert not result.passed and "is not Accepted (Invalid" in result.message


@pytest.mark.parametrize("istio, labels", [
    ("1.20.8", {"istio.io/gateway-name"}),
    ("1.24.2", {"istio.io/gateway-name", "gateway.networking.k8s.io/gateway-name"}),
])
def test_gateway_api_pods_are_found_by_the_label_their_istio_release_writes(istio, labels):
    """istiod labelled Gateway API pods istio.io/gateway-name before 1.21, and both labels since."""
    from meshcheck.ingress import find_ingress
    from meshcheck.sim import scenario
    from meshcheck.sim.build import build_world

    model = scenario.merge(scenario.load("healthy-gateway-api"), {"istio": {"version": istio}})
    objects = build_world(model, "192.0.2.10", 80).objects
    pods = [p for p in objects["pods"] if "gateway" in p["metadata"]["name"]]
    assert pods and all(labels <= set(p["metadata"]["labels"]) for p in pods)
    assert ("gateway.networking.k8s.io/gateway-name" in pods[0]["metadata"]["labels"]) == (len(labels) == 2)
    ingress = find_ingress(PROFILE, "default", [], [], objects["gateways.gateway.networking.k8s.io"],
                           objects["httproutes.gateway.networking.k8s.io"], objects["services"])
    result = checks.gateway_selects_pods(ingress, objects["pods"])
    assert result.passed, result.message


def test_no_ingress_fails_every_gateway_check():
    none = Ingress("none")
    for result in (
        checks.gateway_selects_pods(none, []),
        checks.route_reaches_frontend(none, SERVICES, NS, PROFILE),
        checks.external_address(none),
    ):
        assert not result.passed and "no ingress" in result.message
        assert "frontend-gateway" in result.remediation


# --- route_reaches_frontend -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["frontend", f"frontend.{NS}", f"frontend.{NS}.svc", f"frontend.{NS}.svc.cluster.local"]
)
def test_route_to_frontend_passes_for_every_host_form(host: str):
    result = checks.route_reaches_frontend(classic(virtual_service(host)), SERVICES, NS, PROFILE)
    assert result.passed, result.message
    assert f"routes to Service {NS}/frontend" in result.message


def test_route_to_a_host_in_another_namespace_fails():
    result = checks.route_reaches_frontend(classic(virtual_service("frontend.other-shop")), SERVICES, NS, PROFILE)
    assert not result.passed
    assert f"routes to other-shop/frontend, not to {NS}/frontend" in result.message
    assert "route it to Service frontend" in result.remediation


def test_route_to_a_missing_service_fails():
    result = checks.route_reaches_frontend(classic(virtual_service("frontendd")), SERVICES, NS, PROFILE)
    assert not result.passed
    assert f"VirtualService {NS}/frontend-ingress routes to host frontendd in {NS}" in result.message
    assert f"no Service {NS}/frontendd exists" in result.message
    assert "set the destination to the frontend Service (frontend)" in result.remediation


def test_route_to_an_existing_non_frontend_service_fails():
    result = checks.route_reaches_frontend(classic(virtual_service("cartservice")), SERVICES, NS, PROFILE)
    assert not result.passed
    assert f"routes to {NS}/cartservice, not to {NS}/frontend" in result.message


def test_missing_route_and_route_without_destination_fail():
    missing = checks.route_reaches_frontend(classic(None), SERVICES, NS, PROFILE)
    assert not missing.passed
    assert f"no VirtualService is bound to Istio Gateway {NS}/frontend-gateway" in missing.message
    assert "frontend-ingress" in missing.remediation
    empty = checks.route_reaches_frontend(classic(virtual_service()), SERVICES, NS, PROFILE)
    assert not empty.passed and "has no destination" in empty.message


def test_http_route_backend_refs():
    def route(**backend: str) -> dict[str, Any]:
        return {
            "metadata": {"name": "frontend-route", "namespace": NS},
            "spec": {"rules": [{"backendRefs": [{"kind": "Service", **backend}]}]},
        }

    gateway = {"metadata": {"name": "istio-gateway", "namespace": NS}}
    ok = checks.route_reaches_frontend(Ingress("gateway-api", gateway, route(name="frontend")), SERVICES, NS, PROFILE)
    assert ok.passed and "HTTPRoute" in ok.message
    elsewhere = Ingress("gateway-api", gateway, route(name="frontend", namespace="other-shop"))
    result = checks.route_reaches_frontend(elsewhere, SERVICES, NS, PROFILE)
    assert not result.passed and "HTTPRoute" in result.message and "other-shop/frontend" in result.message


# --- external_address ---------------------------------------------------------------------------------


def test_external_address_with_an_ip_or_a_hostname():
    ip = checks.external_address(classic(None, service("gw", kind="LoadBalancer", lb=[{"ip": "172.18.255.200"}])))
    assert ip.passed and ip.diagnostics["address"] == "172.18.255.200"
    host = "a1b2.elb.us-east-1.amazonaws.com"
    named = checks.external_address(classic(None, service("gw", kind="LoadBalancer", lb=[{"hostname": host}])))
    assert named.passed and host in named.message


def test_node_port_service_fails_with_a_patch_fix():
    result = checks.external_address(classic(None, service("gw", ns="istio-system", kind="NodePort")))
    assert not result.passed
    assert "Service istio-system/gw is of type NodePort, not LoadBalancer" in result.message
    assert "kubectl -n istio-system patch service gw" in result.remediation and "LoadBalancer" in result.remediation


def test_pending_address_is_settled_only_when_old():
    old = checks.external_address(classic(None, service("gw", kind="LoadBalancer", age=3600)))
    assert not old.passed and "has no EXTERNAL-IP (pending)" in old.message
    assert "MetalLB" in old.remediation
    assert old.settled
    new = checks.external_address(classic(None, service("gw", kind="LoadBalancer", age=5)))
    assert not new.passed and not new.settled


def test_missing_gateway_service_fails():
    result = checks.external_address(classic(None, None))
    assert not result.passed and "has no gateway Service" in result.message


# --- metallb_pool ----------------------------------------------------------------------------------------


def pool(*addresses: str) -> dict[str, Any]:
    return {"metadata": {"name": "default-pool", "namespace": "metallb-system"}, "spec": {"addresses": list(addresses)}}


ADVERT = [{"metadata": {"name": "default", "namespace": "metallb-system"}}]


def legacy(config: str) -> dict[str, Any]:
    return {"metadata": {"name": "config", "namespace": "metallb-system"}, "data": {"config": config}}


def test_no_metallb_at_all_passes():
    result = checks.metallb_pool("172.18.255.200", [], [], [])
    assert result.passed and "no MetalLB address pool" in result.message


@pytest.mark.parametrize("spec", ["172.18.255.0/24", "172.18.255.200/32", "172.18.255.1-172.18.255.250"])
def test_address_in_pool_passes(spec: str):
    result = checks.metallb_pool("172.18.255.200", [pool(spec)], ADVERT, [])
    assert result.passed and "metallb-system/default-pool" in result.message


@pytest.mark.parametrize("spec", ["10.0.0.0/24", "172.18.255.1-172.18.255.100", "not-an-address"])
def test_address_outside_pool_fails(spec: str):
    result = checks.metallb_pool("172.18.255.200", [pool(spec)], ADVERT, [])
    assert not result.passed
    assert f"EXTERNAL-IP 172.18.255.200 is outside MetalLB's IPAddressPool metallb-system/default-pool ({spec})" in (
        result.message
    )
    assert "recreate the gateway Service" in result.remediation


def test_pool_without_l2_advertisement_fails():
    result = checks.metallb_pool("172.18.255.200", [pool("172.18.255.0/24")], [], [])
    assert not result.passed
    assert "holds 172.18.255.200 but no L2Advertisement announces it" in result.message
    assert "create an L2Advertisement" in result.remediation


def test_hostname_and_missing_address():
    assert checks.metallb_pool("lb.example.com", [pool("10.0.0.0/8")], ADVERT, []).passed
    missing = checks.metallb_pool(None, [pool("10.0.0.0/8")], ADVERT, [])
    assert not missing.passed and "no external address" in missing.message
    assert "metallb-system logs" in missing.remediation


def test_legacy_config_map():
    config = yaml.safe_dump({"address-pools": [{"name": "default", "addresses": ["172.18.255.1-172.18.255.250"]}]})
    ok = checks.metallb_pool("172.18.255.200", [], [], [legacy(config)])
    assert ok.passed and "ConfigMap metallb-system/config" in ok.message
    outside = checks.metallb_pool("10.1.1.1", [], [], [legacy(config)])
    assert not outside.passed and "outside MetalLB's ConfigMap metallb-system/config" in outside.message
    broken = checks.metallb_pool("172.18.255.200", [], [], [legacy("address-pools: [")])
    assert not broken.passed and "not valid YAML" in broken.message and "data.config" in broken.remediation


def test_config_map_of_the_same_name_elsewhere_is_not_metallb():
    other = {"metadata": {"name": "config", "namespace": "default"}, "data": {"config": "x"}}
    assert "no MetalLB" in checks.metallb_pool("172.18.255.200", [], [], [other]).message


def test_legacy_config_that_is_not_a_mapping_fails_cleanly():
    result = checks.metallb_pool("172.18.255.200", [], [], [legacy("- 172.18.255.0/24\n")])
    assert not result.passed and "metallb-system/config" in result.message


# --- frontend_external_removed --------------------------------------------------------------------------


def test_frontend_external_removed():
    assert checks.frontend_external_removed(SERVICES, NS, PROFILE).passed
    left = checks.frontend_external_removed([*SERVICES, service("frontend-external")], NS, PROFILE)
    assert not left.passed and f"Service {NS}/frontend-external still exists" in left.message
    assert f"kubectl -n {NS} delete service frontend-external" in left.remediation
