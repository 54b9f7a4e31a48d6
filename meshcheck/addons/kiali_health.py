"""Kiali's health of a namespace's apps, and the status Kiali shows for each, computed as Kiali computes it.

Formats read from Kiali's source (kiali/kiali):
- before v1.82.0: ``GET <web_root>/api/namespaces/{namespace}/health?type=app&rateInterval=10m``
  (routing/routes.go "NamespaceHealth" at v1.63.0 and v1.76.0; handlers/health.go: ``type`` is app,
  service or workload, ``rateInterval`` defaults to 10m) answers ``{"<app>": {"workloadStatuses":
  [{"name", "desiredReplicas", "currentReplicas", "availableReplicas", "syncedProxies"}], "requests":
  {"inbound": {"<protocol>": {"<code>": rate}}, "outbound": {...}, "healthAnnotations": {}}}}``
  (models/health.go ``NamespaceAppHealth``);
- from v1.82.0 (and all of 2.x) that route is gone: ``GET <web_root>/api/clusters/health?namespaces=
  {namespace}&type=app&rateInterval=10m`` (handlers/health.go ``ClustersHealth``) answers
  ``{"namespaceAppHealth": {"<namespace>": {...the same map...}}}`` (models ``ClustersNamespaceHealth``);
- from v2.22.0 each app also carries ``"status": {"status": "Healthy|Degraded|Failure|Not Ready|NA",
  "errorRatio", "totalRequestRate"}``, computed by the server (models/health.go ``CalculatedHealthStatus``).

Older releases leave the status to the UI, so it is computed here as the UI does
(frontend/src/types/Health.ts ``ratioCheck`` and ``AppHealth``, frontend/src/types/ErrorRate at
v1.76.0): the worst of the pods' status and the inbound and outbound error rates, each rate judged
against Kiali's default tolerances (config/config.go ``AddHealthDefault``: HTTP 5xx fails from 10%,
4xx degrades from 10% and fails from 20%, gRPC status 1-16 fails from 10%, no response ("-") fails
from 10%; any error under the failure threshold degrades). gRPC codes are ``grpc_response_status``
as Kiali aggregates them (models/health.go ``aggregate``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from meshcheck.addons.kiali import release
from meshcheck.endpoints import Endpoint, describe_shape
from meshcheck.errors import AddonError

NAMESPACE_HEALTH_PATH = "/api/namespaces/{namespace}/health"
CLUSTERS_HEALTH_PATH = "/api/clusters/health"
CLUSTERS_HEALTH_SINCE = (1, 82)
RATE_INTERVAL = "10m"

HEALTHY, DEGRADED, FAILURE, NOT_READY, NA = "Healthy", "Degraded", "Failure", "Not Ready", "NA"
PRIORITY = {NA: 0, HEALTHY: 1, NOT_READY: 2, DEGRADED: 3, FAILURE: 4}


@dataclass(frozen=True)
class Tolerance:
    code: str                       # a regex, "X" standing for a digit (frontend/src/config/HealthConfig.ts)
    protocol: str
    failure: float                  # percent
    degraded: float = 0.0

    def matches_code(self, code: str) -> bool:
        return re.search(self.code.replace("X", r"\d").replace("x", r"\d"), code) is not None


DEFAULT_TOLERANCES = (
    Tolerance("5XX", "http", failure=10),
    Tolerance("4XX", "http", failure=20, degraded=10),
    Tolerance("^[1-9]$|^1[0-6]$", "grpc", failure=10),
    Tolerance("^-$", "http|grpc", failure=10),
)


@dataclass(frozen=True)
class WorkloadStatus:
    name: str
    desired: int
    current: int
    available: int
    synced_proxies: int = -1


@dataclass(frozen=True)
class AppHealth:
    app: str
    status: str                     # Healthy, Degraded, Failure, Not Ready, NA
    reasons: tuple[str, ...] = ()   # why it is not Healthy, as Kiali's health tooltip says it
    computed_by: str = "kiali's UI rules"


def fetch_app_health(endpoint: Endpoint, namespace: str, version: str,
                     web_root: str = "/kiali") -> dict[str, AppHealth]:
    """The health of every app of ``namespace``, from the route this Kiali release serves."""
    if release(version) >= CLUSTERS_HEALTH_SINCE:
        path = web_root + CLUSTERS_HEALTH_PATH
        params = {"namespaces": namespace, "type": "app", "rateInterval": RATE_INTERVAL}
        doc = endpoint.get_json(path, params)
        where = f"{endpoint.name} GET {path}"
        if not isinstance(doc, dict):
            raise AddonError(f"{where} has an unexpected shape: expected {{\"namespaceAppHealth\": ...}}, "
                             f"saw {describe_shape(doc)}")
        apps = (doc.get("namespaceAppHealth") or {}).get(namespace) or {}
        return parse_app_health(apps, where)
    path = web_root + NAMESPACE_HEALTH_PATH.format(namespace=namespace)
    doc = endpoint.get_json(path, {"type": "app", "rateInterval": RATE_INTERVAL})
    return parse_app_health(doc, f"{endpoint.name} GET {path}")


def parse_app_health(doc: Any, where: str = "kiali health") -> dict[str, AppHealth]:
    """Each app's status: the server's when it sends one (v2.22+), else Kiali's UI rules applied here."""
    doc = {} if doc is None else doc
    if not isinstance(doc, dict) or not all(isinstance(v, dict) for v in doc.values()):
        raise AddonError(f"{where} has an unexpected shape: expected a map of app name to "
                         f"{{\"workloadStatuses\", \"requests\"}}, saw {describe_shape(doc)}")
    return {app: app_health(app, entry) for app, entry in sorted(doc.items())}


def app_health(app: str, entry: Mapping[str, Any]) -> AppHealth:
    computed = entry.get("status")
    if isinstance(computed, dict) and computed.get("status"):
        status = str(computed["status"])
        reasons = []
        if status not in (HEALTHY, NA) and computed.get("errorRatio") is not None:
            reasons.append(f"error rate {float(computed['errorRatio']):.2f}%")
        return AppHealth(app, status, tuple(reasons) + _pod_reasons(entry), "Kiali's server")
    statuses = [(s, ratio_check(s)) for s in workload_statuses(entry)]
    pods = max((st for _, st in statuses), key=PRIORITY.__getitem__, default=NA)
    reasons = [f"workload {s.name}: {s.available}/{s.desired} available ({st})" for s, st in statuses if st != HEALTHY]
    requests = entry.get("requests") or {}
    worst = pods
    for direction in ("inbound", "outbound"):
        status, why = traffic_status(requests.get(direction) or {})
        if status not in (HEALTHY, NA):
            reasons.append(f"{direction} {why}")
        worst = max(worst, status, key=PRIORITY.__getitem__)
    return AppHealth(app, worst, tuple(reasons))


def _pod_reasons(entry: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(f"workload {s.name}: {s.available}/{s.desired} available ({st})"
                 for s in workload_statuses(entry) if (st := ratio_check(s)) != HEALTHY)


def workload_statuses(entry: Mapping[str, Any]) -> list[WorkloadStatus]:
    return [WorkloadStatus(str(w.get("name", "")), int(w.get("desiredReplicas", 0)), int(w.get("currentReplicas", 0)),
                           int(w.get("availableReplicas", 0)), int(w.get("syncedProxies", -1)))
            for w in entry.get("workloadStatuses") or [] if isinstance(w, dict)]


def ratio_check(w: WorkloadStatus) -> str:
    """frontend/src/types/Health.ts ``ratioCheck``, rule by rule."""
    if w.desired == 0:
        return NOT_READY
    if w.current > 0 and w.available > 0 and (w.current < w.desired or w.available < w.desired):
        return DEGRADED
    if w.available == 0:
        return FAILURE
    if w.desired == w.available and w.available != w.current:
        return FAILURE
    if 0 <= w.synced_proxies < w.desired:
        return DEGRADED
    if w.desired == w.current == w.available:
        return HEALTHY
    return DEGRADED


def traffic_status(requests: Mapping[str, Mapping[str, float]],
                   tolerances: tuple[Tolerance, ...] = DEFAULT_TOLERANCES) -> tuple[str, str]:
    """The worst status any tolerance gives one direction's rates, and why (frontend ErrorRate.ts)."""
    worst, why = NA, ""
    for tolerance in tolerances:
        for protocol, codes in requests.items():
            if not re.search(tolerance.protocol, protocol):
                continue
            total = sum(float(v) for v in codes.values())
            if total <= 0:
                continue
            errors = sum(float(v) for code, v in codes.items() if tolerance.matches_code(str(code)))
            percent = 100.0 * errors / total
            status = HEALTHY
            if percent > 0 and percent >= tolerance.failure:
                status = FAILURE
            elif percent > 0 and percent >= tolerance.degraded:
                status = DEGRADED
            if PRIORITY[status] > PRIORITY[worst]:
                limit = tolerance.failure if status == FAILURE else tolerance.degraded
                worst, why = status, (f"{protocol} error rate {percent:.2f}% ({tolerance.code} codes; "
                                      f"Kiali's {status.lower()} threshold {limit:g}%)")
    return worst, why
