"""Istio layer: istiod and the ingress gateway available, the injector registered, versions agreeing."""

import pytest

from meshcheck import kube
from meshcheck.checks import istio as checks


def test_istiod_available(cluster, require, wait):
    require(
        wait(
            lambda: checks.istiod_available(cluster.list(kube.DEPLOYMENTS), cluster.list_readable(kube.PODS)),
            kube.DEPLOYMENTS,
            kube.PODS,
        )
    )


def test_istio_ingress_gateway_available(cluster, require, wait):
    require(
        wait(
            lambda: checks.ingress_gateway_available(cluster.list(kube.DEPLOYMENTS), cluster.list_readable(kube.PODS)),
            kube.DEPLOYMENTS,
            kube.PODS,
        )
    )


def test_istio_sidecar_injector_registered(cluster, require):
    require(checks.injector_registered(cluster.list(kube.MUTATING_WEBHOOKS)))


def test_istio_injection_label_on_boutique_namespace(cluster, boutique_namespace, require):
    require(checks.namespace_injection(cluster.list(kube.NAMESPACES), boutique_namespace))


@pytest.mark.nonblocking
def test_istio_control_and_data_plane_versions_agree(cluster, require):
    require(checks.versions_agree(cluster.list(kube.DEPLOYMENTS), cluster.list(kube.PODS)))
