"""The requests entering the mesh at one workload, as Prometheus counts them: the load layer's queries.

Istio's sidecars count every HTTP/gRPC request in ``istio_requests_total``, once by the caller's proxy
(``reporter="source"``) and once by the callee's (``reporter="destination"``) (istio.io
docs/reference/config/metrics/). Counting at the entry workload's own proxy (``reporter="destination"``,
``destination_workload="frontend"``) sees every request that reached it, whoever sent it: Online
Boutique's load generator, a shopper through the ingress gateway, or the suite's own Locust. Istio's
Service dashboard draws the same thing ("Client Request Volume": ``sum(irate(istio_requests_total
{reporter=~"$qrep",destination_service="$service"}[$__rate_interval]))``, istio/istio
manifests/addons/dashboards/istio-service-dashboard.json).
"""

from __future__ import annotations

from meshcheck.addons.prometheus import query
from meshcheck.endpoints import Endpoint


def entry_selector(namespace: str, workload: str) -> str:
    return (f'istio_requests_total{{reporter="destination",destination_workload="{workload}",'
            f'destination_workload_namespace="{namespace}"}}')


def rate_expr(namespace: str, workload: str, window: str) -> str:
    """Requests a second into the workload, averaged over the window (e.g. "5m")."""
    return f"sum(rate({entry_selector(namespace, workload)}[{window}]))"


def total_expr(namespace: str, workload: str) -> str:
    """Requests into the workload since its proxies started: what rises when more are sent."""
    return f"sum({entry_selector(namespace, workload)})"


def requests_counted(endpoint: Endpoint, namespace: str, workload: str) -> float | None:
    """Prometheus's count of requests into the workload now, or None when it holds no such series."""
    samples = query(endpoint, total_expr(namespace, workload))
    return sum(s.value for s in samples) if samples else None
