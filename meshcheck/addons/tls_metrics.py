"""Which calls into the app's namespace the receiving sidecars saw over mutual TLS, from Prometheus.

Istio's standard metrics label each request with ``connection_security_policy``: the destination's
proxy reports ``mutual_tls`` for a call that arrived over Istio mTLS and ``none`` for plaintext; the
source's proxy cannot know and reports ``unknown`` (istio.io docs/reference/config/metrics/ "Labels";
istio/istio tests/integration/telemetry/stats/prometheus). So only ``reporter="destination"`` series
are asked for, grouped by caller, callee and that label: one small answer for the whole namespace.

``istio_requests_total`` counts since each proxy started, so a call made in plaintext before a fix
keeps its ``none`` series until the receiving pods restart: the check's remedy says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from meshcheck.addons import prometheus
from meshcheck.endpoints import Endpoint

MUTUAL_TLS = "mutual_tls"


@dataclass(frozen=True)
class EdgeSecurity:
    """One caller→callee pair as its destination reported it: requests per security policy."""

    source: str
    destination: str
    source_namespace: str = ""
    policies: dict[str, float] = field(default_factory=dict)  # "mutual_tls"/"none" -> requests counted

    @property
    def mutual(self) -> bool:
        return set(self.policies) == {MUTUAL_TLS}

    @property
    def plaintext(self) -> float:
        return sum(v for k, v in self.policies.items() if k != MUTUAL_TLS)


def security_expr(namespace: str) -> str:
    return ("sum by (source_workload, source_workload_namespace, destination_workload, connection_security_policy) "
            f'(istio_requests_total{{reporter="destination", destination_workload_namespace="{namespace}"}})')


def edges(samples: Iterable[prometheus.Sample]) -> dict[tuple[str, str], EdgeSecurity]:
    """The samples as one record per (caller, callee) workload pair."""
    found: dict[tuple[str, str], EdgeSecurity] = {}
    for sample in samples:
        labels = sample.labels
        key = (labels.get("source_workload", "unknown"), labels.get("destination_workload", "unknown"))
        record = found.setdefault(key, EdgeSecurity(*key, labels.get("source_workload_namespace", "")))
        policy = labels.get("connection_security_policy") or "unknown"
        record.policies[policy] = record.policies.get(policy, 0.0) + sample.value
    return found


def edge_security(endpoint: Endpoint, namespace: str) -> dict[tuple[str, str], EdgeSecurity]:
    return edges(prometheus.query(endpoint, security_expr(namespace)))
