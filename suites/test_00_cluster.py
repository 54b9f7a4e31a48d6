"""Cluster layer: nodes Ready, kube-system running, cluster DNS, the Kubernetes dashboard with an admin account."""

import pytest

from meshcheck import kube
from meshcheck.checks import cluster as checks

DASHBOARD_DEPLOYMENTS = ("kubernetes-dashboard", "kubernetes-dashboard-web")
DASHBOARD_SERVICES = ("kubernetes-dashboard", "kubernetes-dashboard-kong-proxy")


def test_nodes_ready(cluster, require, wait):
    require(wait(lambda: checks.nodes_ready(cluster.list(kube.NODES)), kube.NODES))


def test_kube_system_pods_running(cluster, require, wait):
    require(wait(lambda: checks.system_pods_running(cluster.list(kube.PODS)), kube.PODS))


def test_cluster_dns_available(cluster, require, wait):
    require(wait(lambda: checks.cluster_dns_available(cluster.list(kube.DEPLOYMENTS), cluster.list_readable(kube.PODS)),
                 kube.DEPLOYMENTS, kube.PODS))


@pytest.mark.nonblocking
def test_dashboard_deployed(cluster, profile, require, wait):
    namespace = profile.dashboard["namespace"]
    names = tuple(dict.fromkeys((profile.dashboard["deployment"], *DASHBOARD_DEPLOYMENTS)))
    require(
        wait(
            lambda: checks.dashboard_deployed(
                cluster.list(kube.DEPLOYMENTS), cluster.list_readable(kube.PODS), namespace, names
            ),
            kube.DEPLOYMENTS,
            kube.PODS,
        )
    )


@pytest.mark.nonblocking
def test_dashboard_service(cluster, profile, require):
    names = tuple(dict.fromkeys((profile.dashboard["service"], *DASHBOARD_SERVICES)))
    require(checks.dashboard_service(cluster.list(kube.SERVICES), profile.dashboard["namespace"], names))


@pytest.mark.nonblocking
def test_dashboard_admin_account(cluster, profile, require):
    dashboard = profile.dashboard
    token_api = any(r.get("name") == "serviceaccounts/token" for r in cluster.resources("v1"))
    secrets = [] if token_api else cluster.list_metadata(kube.SECRETS, None, "type=kubernetes.io/service-account-token")
    require(
        checks.dashboard_admin(
            cluster.list(kube.SERVICE_ACCOUNTS),
            cluster.list(kube.CLUSTER_ROLE_BINDINGS),
            secrets,
            token_api,
            dashboard["namespace"],
            dashboard.get("admin_service_account"),
            tuple(dashboard.get("admin_roles") or ("cluster-admin",)),
        )
    )
