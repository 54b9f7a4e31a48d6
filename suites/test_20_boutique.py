"""Boutique layer: Online Boutique's Deployments available and every pod 2/2 with istio-proxy; and the
resilience and access policies its profile requires (circuit breakers, local rate limits, authorization),
each skipped where the profile requires none. The policy kinds are listed only when the profile requires
them (``meshcheck.suite``)."""

import pytest

from meshcheck import kube
from meshcheck.checks import authorization, resilience
from meshcheck.checks import boutique as checks


def test_boutique_namespace_found(cluster, profile, require):
    require(checks.namespace_found(cluster.list(kube.DEPLOYMENTS), profile))


def test_boutique_deployments_available(cluster, boutique_namespace, profile, require, wait):
    require(
        wait(
            lambda: checks.deployments_available(
                cluster.list(kube.DEPLOYMENTS), cluster.list_readable(kube.PODS), boutique_namespace, profile
            ),
            kube.DEPLOYMENTS,
            kube.PODS,
        )
    )


def test_boutique_pods_have_ready_sidecars(cluster, boutique_namespace, profile, require, wait):
    require(wait(lambda: checks.pods_have_sidecars(cluster.list(kube.PODS), boutique_namespace, profile), kube.PODS))


@pytest.mark.nonblocking
def test_boutique_restarts_within_budget(cluster, boutique_namespace, profile, require):
    require(checks.restarts_within_budget(cluster.list(kube.PODS), boutique_namespace, profile))


def _required(profile, policy: str, what: str) -> None:
    if not profile.policies.required(policy):
        pytest.skip(f"not required by profile: it sets no policies.{policy} ({what})")


@pytest.mark.nonblocking
def test_boutique_circuit_breakers_in_place(cluster, boutique_namespace, profile, require):
    _required(profile, "circuit_breakers", "DestinationRules with outlierDetection/connectionPool")
    require(resilience.circuit_breakers(profile.policies.circuit_breakers, cluster.list(kube.DESTINATION_RULES),
                                        cluster.list(kube.SERVICES), boutique_namespace,
                                        profile.policies.root_namespace))


@pytest.mark.nonblocking
def test_boutique_local_rate_limits_in_place(cluster, boutique_namespace, profile, require):
    _required(profile, "rate_limits", "EnvoyFilters with envoy.filters.http.local_ratelimit")
    require(resilience.rate_limits(profile.policies.rate_limits, cluster.list(kube.ENVOY_FILTERS),
                                   cluster.list(kube.PODS), boutique_namespace, profile.policies.root_namespace))


@pytest.mark.nonblocking
def test_boutique_authorization_allows_only_the_call_graph(suite, cluster, boutique_namespace, profile, require):
    _required(profile, "authorization", "AuthorizationPolicies: deny by default, allow the call graph")
    pods = cluster.list(kube.PODS)
    require(authorization.authorization(
        cluster.list(kube.AUTHORIZATION_POLICIES), profile.edges, pods, cluster.list(kube.SERVICES),
        boutique_namespace, profile.policies.root_namespace, authorization.gateway_caller(suite.ingress.service, pods),
        profile.anchor))
