"""The profile's policies: how they are read (extends, policies), the circuit breaker, rate limit and
authorization checks both ways, the skip where nothing is required, the policy deployable, and the
kinds listed only for the policies a profile makes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from meshcheck import kube, layers
from meshcheck.checks import authorization, resilience
from meshcheck.deploy import plan
from meshcheck.errors import ConfigError
from meshcheck.istioconfig import authz
from meshcheck.profile import load_profile
from meshcheck.suite import Suite
from tests.harness import ROOT
from tests.unit.istioobjects import NS, obj, pod, service

PROFILE = load_profile()
HARDENED = load_profile("hardened")


# --- profiles ----------------------------------------------------------------------------------------------


def test_the_default_profile_requires_no_policy_and_hardened_extends_it():
    assert not any(PROFILE.policies.required(p) for p in ("mtls", "circuit_breakers", "rate_limits", "authorization"))
    assert HARDENED.edges == PROFILE.edges and HARDENED.workloads == PROFILE.workloads
    assert HARDENED.policies.mtls == "STRICT" and HARDENED.policies.authorization == "call-graph"
    assert HARDENED.policies.circuit_breakers == {"productcatalogservice": ("outlierDetection", "connectionPool")}
    assert load_profile(ROOT / "tests" / "profiles" / "rate-limited.yaml").policies.rate_limits == ("frontend",)


@pytest.mark.parametrize(("policies", "fragment"), [
    ({"mtls": "PERMISSIVE"}, "policies.mtls must be STRICT"),
    ({"circuit_breakers": {"cartservice": ["retries"]}}, "may require outlierDetection and connectionPool"),
    ({"authorization": "everything"}, "policies.authorization must be call-graph"),
    ({"mtsl": "STRICT"}, "policies has unknown keys mtsl"),
])
def test_a_policy_the_checks_would_not_understand_is_refused(tmp_path: Path, policies: dict, fragment: str):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"extends": "online-boutique", "policies": policies}))
    with pytest.raises(ConfigError, match=fragment):
        load_profile(path)


def test_profiles_extending_each_other_in_a_circle_are_refused(tmp_path: Path):
    (tmp_path / "a.yaml").write_text(f"extends: {tmp_path / 'b.yaml'}\n")
    (tmp_path / "b.yaml").write_text(f"extends: {tmp_path / 'a.yaml'}\n")
    with pytest.raises(ConfigError, match="in a circle"):
        load_profile(tmp_path / "a.yaml")


# --- circuit breakers ----------------------------------------------------------------------------------------

SERVICES = [service("productcatalogservice", port=3550), service("paymentservice"), service("frontend", port=80)]
BREAKER = {"connectionPool": {"tcp": {"maxConnections": 100}}, "outlierDetection": {"consecutive5xxErrors": 5}}


def rule(name: str, host: str, policy: dict, namespace: str = NS) -> dict:
    return obj("DestinationRule", name, namespace, {"host": host, "trafficPolicy": policy})


def breakers(*rules: dict):
    return resilience.circuit_breakers(HARDENED.policies.circuit_breakers, list(rules), SERVICES, NS)


def test_a_destination_rule_with_both_settings_passes_port_level_ones_count():
    assert breakers(rule("pc", "productcatalogservice", BREAKER)).passed
    ported = {"portLevelSettings": [{"port": {"number": 3550}, **BREAKER}]}
    assert breakers(rule("pc", "productcatalogservice.online-boutique.svc.cluster.local", ported)).passed


def test_a_missing_setting_a_missing_rule_and_a_rule_for_no_host_are_named():
    result = breakers(rule("pc", "productcatalogservice", {"outlierDetection": {"consecutive5xxErrors": 5}}))
    assert "DestinationRule online-boutique/pc for productcatalogservice sets no connectionPool" in result.message
    result = breakers(rule("typo", "productcatalog", BREAKER))
    assert "no DestinationRule names host productcatalogservice" in result.message
    assert "DestinationRule online-boutique/typo sets connectionPool and outlierDetection for host productcatalog, " \
           "which names no Service (read as productcatalog.online-boutique.svc.cluster.local)" in result.message
    assert "manifests/policy/circuit-breaker.yaml" in result.remediation


def test_a_tls_only_rule_or_a_subset_policy_is_no_circuit_breaker():
    subset = obj("DestinationRule", "pc", NS, {"host": "productcatalogservice",
                                               "subsets": [{"name": "v1", "trafficPolicy": BREAKER}]})
    assert not breakers(subset).passed
    assert resilience.breaker_settings(rule("t", "x", {"tls": {"mode": "ISTIO_MUTUAL"}})) == set()


# --- rate limits -----------------------------------------------------------------------------------------------


def envoy_filter(name: str, selector: dict | None, namespace: str = NS) -> dict:
    spec: dict = {"configPatches": [{"applyTo": "HTTP_FILTER", "patch": {"operation": "INSERT_BEFORE", "value": {
        "name": "envoy.filters.http.local_ratelimit", "typed_config": {
            "@type": "type.googleapis.com/udpa.type.v1.TypedStruct"}}}}]}
    if selector:
        spec["workloadSelector"] = {"labels": selector}
    return obj("EnvoyFilter", name, namespace, spec)


PODS = [pod(app) for app in ("frontend", "checkoutservice", "paymentservice", "loadgenerator", "cartservice")]


def test_an_envoy_filter_selecting_the_workload_or_its_namespace_passes():
    assert resilience.rate_limits(("frontend",), [envoy_filter("rl", {"app": "frontend"})], PODS, NS).passed
    assert resilience.rate_limits(("frontend",), [envoy_filter("rl", None, "istio-system")], PODS, NS).passed


def test_no_filter_or_a_filter_selecting_no_pod_fails_naming_it():
    result = resilience.rate_limits(("frontend",), [envoy_filter("rl", {"app": "front"})], PODS, NS)
    assert "no EnvoyFilter inserts envoy.filters.http.local_ratelimit into frontend's sidecar" in result.message
    assert "EnvoyFilter online-boutique/rl inserts the local rate limit for workloadSelector {'app': 'front'}, " \
           "which selects no pod" in result.message


# --- authorization ---------------------------------------------------------------------------------------------

EDGES = (("loadgenerator", "frontend"), ("frontend", "checkoutservice"), ("checkoutservice", "paymentservice"),
         ("cartservice", "redis-cart"))
ALL_PODS = [*PODS, pod("redis-cart", account="default")]


def allow(callee: str, *callers: str) -> dict:
    principals = [authz.principal(NS, c) for c in callers]
    return obj("AuthorizationPolicy", callee, NS, {"selector": {"matchLabels": {"app": callee}},
                                                   "rules": [{"from": [{"source": {"principals": principals}}]}]})


GOOD = [obj("AuthorizationPolicy", "allow-nothing", NS, {}), allow("frontend", "loadgenerator"),
        allow("checkoutservice", "frontend"), allow("paymentservice", "checkoutservice"),
        allow("redis-cart", "cartservice")]


def check(policies: list[dict], gateway: authz.Caller | None = None):
    return authorization.authorization(policies, EDGES, ALL_PODS, SERVICES, NS, gateway=gateway)


def test_deny_by_default_and_every_edge_allowed_passes():
    result = check(GOOD)
    assert result.passed and "allow all 4 required calls" in result.message


def test_without_deny_by_default_the_check_fails_even_if_every_edge_is_allowed():
    result = check(GOOD[1:])
    assert not result.passed and "no AuthorizationPolicy denies by default in online-boutique" in result.message


def test_a_denied_edge_and_the_ingress_gateway_are_named_with_the_identity_tried():
    gateway = authz.Caller("cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account", "istio-system")
    result = check([p for p in GOOD if p["metadata"]["name"] != "paymentservice"], gateway)
    assert "2 required calls are not allowed: checkoutservice→paymentservice " \
           "(cluster.local/ns/online-boutique/sa/checkoutservice: no rule of the ALLOW policies that apply " \
           "(online-boutique/allow-nothing) matches it); ingress gateway→frontend " \
           "(cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account" in result.message


def test_a_policy_selecting_no_pod_is_named():
    result = check([*GOOD, allow("paymentsvc", "checkoutservice")])
    assert "AuthorizationPolicy online-boutique/paymentsvc (selector {'app': 'paymentsvc'}) selects no pod" \
        in result.message


def test_the_gateway_identity_is_read_from_its_pods():
    gateway_service = {"metadata": {"name": "istio-ingressgateway", "namespace": "istio-system"},
                       "spec": {"selector": {"istio": "ingressgateway"}}}
    gateway_pod = {"metadata": {"name": "gw", "namespace": "istio-system", "labels": {"istio": "ingressgateway"}},
                   "spec": {"serviceAccountName": "istio-ingressgateway-service-account"}}
    caller = authorization.gateway_caller(gateway_service, [gateway_pod])
    assert caller == authz.Caller("cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account",
                                  "istio-system")
    assert authorization.gateway_caller(None, []) is None


# --- the policy deployable and the kinds a run lists -----------------------------------------------------------


def test_the_policy_layer_is_last_and_not_deployed_by_default():
    assert layers.DEPLOYABLES[-1].name == "policy" and not layers.DEPLOYABLES[-1].default
    assert "policy" not in plan.DeployOptions().layers and "policy" in plan.LAYERS


def test_the_policy_layer_applies_its_files_into_the_namespace_with_the_ingress_of_the_flavour():
    applied: list[dict] = []

    class Recorder:
        options = plan.DeployOptions(namespace="shop", ingress="gateway-api")

        def own(self, relative: str) -> list[dict]:
            return plan._documents((plan.MANIFESTS / relative).read_text(), relative)

        def apply(self, layer: str, docs: list[dict]) -> None:
            applied.extend(docs)

    plan.policy(Recorder())  # type: ignore[arg-type]
    where = {(d["kind"], d["metadata"]["name"]): d["metadata"]["namespace"] for d in applied}
    assert where[("PeerAuthentication", "default")] == "istio-system"
    assert where[("DestinationRule", "productcatalogservice")] == "shop"
    ingress = next(d for d in applied if d["metadata"]["name"] == "frontend-from-ingress")
    assert ingress["spec"]["rules"][0]["from"][0]["source"]["principals"] == [
        "cluster.local/ns/shop/sa/istio-gateway-istio"]
    principals = [p for d in applied if d["kind"] == "AuthorizationPolicy" for r in d["spec"].get("rules", [])
                  for f in r["from"] for p in f["source"]["principals"]]
    assert principals and all("/ns/online-boutique/" not in p for p in principals)


class _Recording:
    def __init__(self) -> None:
        self.prefetched: list = []

    def prefetch(self, keys, resources=()) -> None:
        self.prefetched = list(keys)


@pytest.mark.parametrize(("profile", "expected"), [
    (PROFILE, set()),
    (HARDENED, {kube.PEER_AUTHENTICATIONS, kube.DESTINATION_RULES, kube.AUTHORIZATION_POLICIES}),
])
def test_policy_kinds_are_listed_only_for_the_policies_a_profile_makes(profile, expected):
    cluster = _Recording()
    Suite(cluster, profile).prefetch(["boutique", "telemetry"])  # type: ignore[arg-type]
    policy_kinds = {kube.PEER_AUTHENTICATIONS, kube.DESTINATION_RULES, kube.AUTHORIZATION_POLICIES, kube.ENVOY_FILTERS}
    assert set(cluster.prefetched) & policy_kinds == expected


def test_envoy_filters_are_read_at_the_only_version_istio_serves():
    assert kube.ENVOY_FILTERS.version == "v1alpha3"
