"""Telemetry: Istio's Prometheus is ready, scrapes the boutique's sidecars and holds their metrics.

Four requests on a healthy cluster (/-/ready, /api/v1/targets, two /api/v1/query: the series, and
the calls by security policy). Each check fetches inside its wait, so a retry sees fresh data; nothing
is shared between the tests. The HTTP/gRPC workloads are both ends of the profile's traced edges: the
edges minus the plain TCP hops (cartservice→redis-cart), which Istio reports in istio_tcp_* metrics
instead. mTLS is judged here because the destinations' reports are where it shows; strict mode only
where the profile's policies require it.
"""

import pytest

from meshcheck import kube
from meshcheck.addons import prometheus as prom
from meshcheck.addons import tls_metrics
from meshcheck.checks import mtls, telemetry


def test_prometheus_is_ready(prometheus, wait, require):
    require(wait(lambda: telemetry.prometheus_ready(prom.readiness(prometheus))))


def test_prometheus_scrapes_boutique_sidecar_targets(prometheus, profile, boutique_namespace, wait, require):
    require(wait(lambda: telemetry.mesh_targets_up(
        prom.targets(prometheus), boutique_namespace, profile.workloads)))


def test_prometheus_has_mesh_request_series_for_workloads(prometheus, profile, boutique_namespace,
                                                            wait, require):
    expected = telemetry.request_workloads(profile.traced_edges)
    require(wait(lambda: telemetry.istio_requests_series(
        prom.request_series(prometheus, boutique_namespace), boutique_namespace, expected)))


@pytest.mark.nonblocking
def test_mesh_calls_arrive_over_mutual_tls(prometheus, cluster, profile, boutique_namespace, wait, require):
    """One more query (the destinations' reports by security policy); the objects that may explain a
    plaintext call (PeerAuthentications, DestinationRules) are read only when there is one."""
    root = profile.policies.root_namespace

    def look():
        reported = tls_metrics.edge_security(prometheus, boutique_namespace)
        if all(r.mutual for r in reported.values()):
            return mtls.edges_use_mutual_tls(reported, profile.traced_edges, boutique_namespace)
        return mtls.edges_use_mutual_tls(
            reported, profile.traced_edges, boutique_namespace, cluster.list_readable(kube.PODS),
            cluster.list_readable(kube.SERVICES), cluster.list_readable(kube.PEER_AUTHENTICATIONS),
            cluster.list_readable(kube.DESTINATION_RULES), root)
    require(wait(look))


@pytest.mark.nonblocking
def test_strict_mtls_covers_boutique_namespace(cluster, profile, boutique_namespace, require):
    if not profile.policies.required("mtls"):
        pytest.skip("not required by profile: it sets no policies.mtls (STRICT)")
    require(mtls.strict_mtls(cluster.list(kube.PEER_AUTHENTICATIONS), boutique_namespace, cluster.list(kube.PODS),
                             profile.policies.root_namespace))
