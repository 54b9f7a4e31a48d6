"""Gateway layer: the ingress selects its pods, routes to frontend, and has an external address."""

import pytest

from meshcheck import kube
from meshcheck.checks import gateway as checks


def test_gateway_selects_ingress_pods(suite, cluster, require):
    require(checks.gateway_selects_pods(suite.ingress, cluster.list(kube.PODS)))


def test_gateway_routes_to_frontend_service(suite, cluster, boutique_namespace, profile, require):
    require(checks.route_reaches_frontend(suite.ingress, cluster.list(kube.SERVICES), boutique_namespace, profile))


def test_gateway_has_external_address(suite, require, wait):
    def look():
        suite.__dict__.pop("ingress", None)  # the Service is read again on each look
        return checks.external_address(suite.ingress)

    require(wait(look, kube.SERVICES, kube.GATEWAYS))


@pytest.mark.nonblocking
def test_gateway_address_in_metallb_pool(suite, cluster, require):
    require(
        checks.metallb_pool(
            suite.ingress.address,
            cluster.list(kube.IP_ADDRESS_POOLS),
            cluster.list(kube.L2_ADVERTISEMENTS),
            cluster.list(kube.CONFIG_MAPS, "metallb-system"),
        )
    )


@pytest.mark.nonblocking
def test_gateway_frontend_external_removed(cluster, boutique_namespace, profile, require):
    require(checks.frontend_external_removed(cluster.list(kube.SERVICES), boutique_namespace, profile))
