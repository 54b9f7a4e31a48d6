"""Failures about Kubernetes objects name them (``CheckResult.objects``), so reports can show their Events,
a summary and their logs. Every bundled scenario's world is judged by the checks that read objects, as
the suite calls them (without the API server between: the objects are the ones it would serve)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from meshcheck import objects as o
from meshcheck.checks import boutique, cluster, gateway, istio
from meshcheck.checks import load as load_checks
from meshcheck.diagnostics import ObjectRef
from meshcheck.ingress import find_ingress
from meshcheck.profile import Profile, load_profile
from meshcheck.results import CheckResult
from meshcheck.sim import loadgen
from meshcheck.sim import scenario as scenarios
from meshcheck.sim.build import build_world

Objs = dict[str, list[o.Obj]]

# Failures about something that is not there name nothing: there is no object to look at.
NOTHING_TO_NAME = (
    "no Deployment", "has no nodes", "has no pods", "no namespace holds", "does not exist", "no Service",
    "registers a", "no ingress", "no ServiceAccount is bound", "missing:", "has no gateway Service",
    "no VirtualService is bound", "no HTTPRoute is bound", "no pod of", "in any namespace", "no istiod",
)

# What a scenario's failures must name (a prefix of one of the result's objects, per check).
EXPECTED: dict[str, dict[str, tuple[str, ...]]] = {
    "boutique-crashlooping-for-days": {
        "boutique.deployments_available": ("Deployment/online-boutique/currencyservice",),
        "boutique.pods_have_sidecars": ("Pod/online-boutique/currencyservice-",),
        "boutique.restarts_within_budget": ("Pod/online-boutique/currencyservice-",)},
    "paymentservice-down": {"boutique.deployments_available": ("Deployment/online-boutique/paymentservice",)},
    "istiod-down": {"istio.istiod_available": ("Deployment/istio-system/istiod",)},
    "lab-istiod-crashlooping-for-days": {"istio.istiod_available": ("Deployment/istio-system/istiod",)},
    "ingress-gateway-down": {"istio.ingress_gateway_available": ("Deployment/istio-system/istio-ingressgateway",)},
    "coredns-crashing": {"cluster.system_pods_running": ("Pod/kube-system/coredns-",)},
    "node-not-ready": {"cluster.nodes_ready": ("Node//meshcheck-worker",)},
    "proxy-not-ready": {"boutique.pods_have_sidecars": ("Pod/online-boutique/cartservice-",)},
    "restarts": {"boutique.restarts_within_budget": ("Pod/online-boutique/cartservice-",)},
    "no-injection-label": {"istio.namespace_injection": ("Namespace//online-boutique",)},
    "external-ip-pending": {"gateway.external_address": ("Service/istio-system/istio-ingressgateway",)},
    "frontend-external-left": {"gateway.frontend_external_removed": ("Service/online-boutique/frontend-external",)},
    "gateway-selector-wrong": {"gateway.gateway_selects_pods": ("Gateway/online-boutique/frontend-gateway",)},
    "virtualservice-bad-host": {"gateway.route_reaches_frontend": ("VirtualService/online-boutique/frontend-ingress",)},
    "proxy-version-skew": {"istio.versions_agree": ("Pod/online-boutique/",)},
    "dashboard-admin-unbound": {"cluster.dashboard_admin": ("ServiceAccount/kubernetes-dashboard/admin-user",)},
    "loadgenerator-crashlooping": {"load.generator_runs": ("Pod/online-boutique/loadgenerator-",
                                                           "Deployment/online-boutique/loadgenerator")},
    "loadgenerator-scaled-to-zero": {"load.generator_runs": ("Deployment/online-boutique/loadgenerator",)},
    "metallb-pool-mismatch": {"gateway.metallb_pool": ("IPAddressPool/metallb-system/",)},
}


def _world(name: str) -> Objs:
    world = build_world(scenarios.load(name), "127.0.0.9", 80)
    loadgen.shape(world)
    return world.objects


def _judge(objs: Objs, profile: Profile) -> list[CheckResult]:
    """The object checks of the cluster, istio, boutique, gateway and load layers, as the suite calls them."""
    def of(key: str) -> list[o.Obj]:
        return objs.get(key, [])

    deployments, pods, services = of("deployments"), of("pods"), of("services")
    dashboard = profile.dashboard
    looks: list[Callable[[], CheckResult]] = [
        lambda: cluster.nodes_ready(of("nodes")),
        lambda: cluster.system_pods_running(pods),
        lambda: cluster.dashboard_deployed(deployments, pods, dashboard["namespace"],
                                           (dashboard["deployment"], "kubernetes-dashboard")),
        lambda: cluster.dashboard_admin(of("serviceaccounts"), of("clusterrolebindings"), [], True,
                                        dashboard["namespace"], dashboard.get("admin_service_account")),
        lambda: istio.istiod_available(deployments, pods),
        lambda: istio.ingress_gateway_available(deployments, pods),
        lambda: istio.versions_agree(deployments, pods),
    ]
    namespace = boutique.find_namespace(deployments, profile)
    if namespace is not None:
        ingress = find_ingress(profile, namespace, of("gateways.networking.istio.io"),
                               of("virtualservices.networking.istio.io"), of("gateways.gateway.networking.k8s.io"),
                               of("httproutes.gateway.networking.k8s.io"), services)
        looks += [
            lambda: istio.namespace_injection(of("namespaces"), namespace),
            lambda: boutique.deployments_available(deployments, pods, namespace, profile),
            lambda: boutique.pods_have_sidecars(pods, namespace, profile),
            lambda: boutique.restarts_within_budget(pods, namespace, profile),
            lambda: gateway.gateway_selects_pods(ingress, pods),
            lambda: gateway.route_reaches_frontend(ingress, services, namespace, profile),
            lambda: gateway.external_address(ingress),
            lambda: gateway.metallb_pool(ingress.address, of("ipaddresspools.metallb.io"),
                                         of("l2advertisements.metallb.io"),
                                         [c for c in of("configmaps") if o.namespace(c) == "metallb-system"]),
            lambda: gateway.frontend_external_removed(services, namespace, profile),
            lambda: load_checks.generator_runs(load_checks.locate(deployments, pods, namespace, "loadgenerator",
                                                                  "main")),
        ]
    return [look() for look in looks]


PROFILE = load_profile(None)


@pytest.mark.parametrize("name", scenarios.available())
def test_failures_about_objects_name_them(name: str) -> None:
    objs = _world(name)
    for result in _judge(objs, PROFILE):
        if result.passed:
            continue
        assert all(ObjectRef.parse(ref) is not None for ref in result.objects), result.objects
        if any(words in result.message for words in NOTHING_TO_NAME):
            continue
        assert result.objects, f"{name}: {result.check} names no object: {result.message}"
        for ref in result.objects:  # what it names exists in the cluster
            found = ObjectRef.parse(ref)
            assert found is not None
            plural = {"Node": "nodes", "Namespace": "namespaces"}.get(found.kind)
            if plural:
                assert any(o.name(x) == found.name for x in objs[plural]), ref


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_scenario_names_the_broken_objects(name: str) -> None:
    results = {r.check: r for r in _judge(_world(name), PROFILE)}
    for check, wanted in EXPECTED[name].items():
        result = results[check]
        assert not result.passed, f"{name}: {check} passed"
        for prefix in wanted:
            assert any(ref.startswith(prefix) for ref in result.objects), (name, check, prefix, result.objects)


def test_a_healthy_cluster_names_nothing() -> None:
    assert all(r.passed and not r.objects for r in _judge(_world("healthy"), PROFILE))
