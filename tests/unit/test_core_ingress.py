"""meshcheck.ingress.find_ingress: which ingress is used, its address and its HTTP port."""

from __future__ import annotations

from typing import Any

import pytest

from meshcheck.ingress import Ingress, find_ingress, service_host
from meshcheck.profile import load_profile
from meshcheck.sim import scenario
from meshcheck.sim.build import build_world

PROFILE = load_profile()
NS = "online-boutique"


def obj(name: str, ns: str, spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None):
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec or {}, "status": status or {}}


def lb_service(name: str, ns: str, ports: list[dict[str, Any]], ingress: list[dict[str, str]] | None = None, **spec):
    return obj(name, ns, {"type": "LoadBalancer", "ports": ports, **spec}, {"loadBalancer": {"ingress": ingress or []}})


def from_world(name: str) -> tuple[Ingress, Any]:
    world = build_world(scenario.load(name), "127.0.0.9", 8080)
    objs = world.objects
    ingress = find_ingress(
        PROFILE,
        world.namespace,
        objs.get("gateways.networking.istio.io", []),
        objs.get("virtualservices.networking.istio.io", []),
        objs.get("gateways.gateway.networking.k8s.io", []),
        objs.get("httproutes.gateway.networking.k8s.io", []),
        objs["services"],
    )
    return ingress, world


def test_classic_detected_from_the_simulated_world():
    ingress, _ = from_world("healthy")
    assert ingress.kind == "classic"
    assert ingress.gateway["metadata"]["name"] == "frontend-gateway"
    assert ingress.route["metadata"]["name"] == "frontend-ingress"
    assert ingress.service["metadata"]["name"] == "istio-ingressgateway"
    assert ingress.address == "127.0.0.9"
    assert ingress.http_port == 8080  # the http2 port, not status-port 15021
    assert ingress.describe() == f"Istio Gateway {NS}/frontend-gateway"


def test_gateway_api_detected_from_the_simulated_world():
    ingress, world = from_world("healthy-gateway-api")
    assert ingress.kind == "gateway-api"
    assert ingress.gateway["metadata"]["name"] == "istio-gateway"
    assert ingress.route["metadata"]["name"] == "frontend-route"
    assert ingress.service["metadata"]["name"] == "istio-gateway-istio"
    assert ingress.service["metadata"]["namespace"] == world.namespace
    assert ingress.address == "127.0.0.9"
    assert ingress.describe().startswith("Gateway API Gateway")


def test_nothing_found_is_none():
    ingress = find_ingress(PROFILE, NS, [], [], [], [], [])
    assert ingress.kind == "none" and ingress.address is None and ingress.http_port is None
    assert ingress.describe() == "no ingress"


def test_classic_finds_a_virtual_service_bound_to_the_gateway_and_a_service_by_selector():
    gateway = obj("frontend-gateway", NS, {"selector": {"istio": "ingressgateway"}})
    unrelated = obj("other", NS, {"gateways": ["other-gateway"]})
    bound = obj("my-routes", NS, {"gateways": [f"{NS}/frontend-gateway"]})
    service = lb_service("custom-gw", "gw-ns", [{"name": "http", "port": 80}], selector={"istio": "ingressgateway"})
    ingress = find_ingress(PROFILE, NS, [gateway], [unrelated, bound], [], [], [service])
    assert ingress.kind == "classic"
    assert ingress.route is bound
    assert ingress.service is service
    unbound = find_ingress(PROFILE, NS, [gateway], [unrelated], [], [], [])
    assert unbound.route is None and unbound.service is None


def test_classic_prefers_the_boutique_namespace():
    elsewhere, here = obj("frontend-gateway", "other"), obj("frontend-gateway", NS)
    assert find_ingress(PROFILE, NS, [elsewhere, here], [], [], [], []).gateway is here
    assert find_ingress(PROFILE, "third", [elsewhere, here], [], [], [], []).gateway is elsewhere


def test_classic_takes_precedence_over_gateway_api():
    ingress = find_ingress(PROFILE, NS, [obj("frontend-gateway", NS)], [], [obj("istio-gateway", NS)], [], [])
    assert ingress.kind == "classic"


def test_gateway_api_address_from_gateway_status_when_the_service_has_none():
    gateway = obj(
        "istio-gateway",
        NS,
        {"gatewayClassName": "istio"},
        {"addresses": [{"type": "Hostname", "value": "shop.example"}]},
    )
    route = obj("r", NS, {"parentRefs": [{"name": "istio-gateway"}]})
    service = lb_service("istio-gateway-istio", NS, [{"name": "http", "port": 80}])
    ingress = find_ingress(PROFILE, NS, [], [], [gateway], [route], [service])
    assert ingress.kind == "gateway-api" and ingress.route is route
    assert ingress.address == "shop.example"
    with_lb = Ingress("gateway-api", gateway, route, lb_service("s", NS, [], [{"ip": "10.0.0.1"}]))
    assert with_lb.address == "10.0.0.1"
    # a classic Gateway's status never gives an address
    assert Ingress("classic", gateway, route, service).address is None


def test_gateway_api_service_must_be_in_the_gateway_namespace():
    gateway = obj("istio-gateway", NS)
    service = lb_service("istio-gateway-istio", "elsewhere", [{"name": "http", "port": 80}])
    assert find_ingress(PROFILE, NS, [], [], [gateway], [], [service]).service is None


def test_service_hostname_address():
    service = lb_service("gw", NS, [], [{"hostname": "a.elb.amazonaws.com"}])
    assert Ingress("classic", {}, None, service).address == "a.elb.amazonaws.com"


@pytest.mark.parametrize(
    ("ports", "expected"),
    [
        ([{"name": "status-port", "port": 15021}, {"name": "http2", "port": 31080}], 31080),
        ([{"name": "http", "port": 8080}, {"name": "web", "port": 80}], 8080),
        ([{"name": "web", "port": 80}, {"name": "https", "port": 443}], 80),
        ([{"name": "https", "port": 443}], None),
        ([], None),
    ],
)
def test_http_port_choice(ports: list[dict[str, Any]], expected: int | None):
    assert Ingress("classic", {}, None, lb_service("gw", NS, ports)).http_port == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("frontend", ("frontend", "ns")),
        ("frontend.shop", ("frontend", "shop")),
        ("frontend.shop.svc.cluster.local", ("frontend", "shop")),
    ],
)
def test_service_host(host: str, expected: tuple[str, str]):
    assert service_host(host, "ns") == expected
