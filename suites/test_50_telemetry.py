"""Telemetry: Istio's Prometheus is ready, scrapes the boutique's sidecars and holds their metrics.

Three requests on a healthy cluster (/-/ready, /api/v1/targets, one /api/v1/query). Each check
fetches inside its wait, so a retry sees fresh data; nothing is shared between the tests.
The HTTP/gRPC workloads are both ends of the profile's traced edges: the edges minus the plain
TCP hops (cartservice→redis-cart), which Istio reports in istio_tcp_* metrics instead.
"""

from meshcheck.addons import prometheus as prom
from meshcheck.checks import telemetry


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
