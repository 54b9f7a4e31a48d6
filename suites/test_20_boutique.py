"""Boutique layer: Online Boutique's Deployments available and every pod 2/2 with istio-proxy."""

import pytest

from meshcheck import kube
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
