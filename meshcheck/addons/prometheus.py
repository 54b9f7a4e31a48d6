"""Prometheus client: readiness, scrape targets and instant queries, parsed into small records.

Formats read from the Prometheus documentation and source:
- ``GET /-/ready`` answers 200 with "Prometheus Server is Ready." once it serves queries and 503
  while it starts (prometheus/prometheus docs/prometheus/latest/management_api.md);
- ``GET /api/v1/targets?state=active`` answers ``{"status": "success", "data": {"activeTargets":
  [{"discoveredLabels", "labels", "scrapePool", "scrapeUrl", "lastError", "lastScrape",
  "lastScrapeDuration", "health"}...], "droppedTargets": [...]}}``; health is "up", "down" or
  "unknown" (not scraped yet); newer releases add globalUrl, scrapeInterval and scrapeTimeout,
  and the oldest (before 2.2) answered a list of pools instead, which is refused here
  (prometheus/prometheus docs/querying/api.md "Targets", web/api/v1/api.go);
- ``GET /api/v1/query?query=...`` answers ``{"status": "success", "data": {"resultType": "vector",
  "result": [{"metric": {...}, "value": [<unix time>, "<value>"]}]}}``; a sample of a native
  histogram carries "histogram" instead of "value"; newer releases may add "warnings"/"infos"
  (docs/querying/api.md "Instant queries", "Expression query result formats").

Istio's add-on scrapes the sidecars with the ``kubernetes-pods`` job, which keeps each pod's
labels (``app``) and adds ``namespace`` and ``pod`` (istio/istio samples/addons/prometheus.yaml).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from meshcheck.endpoints import Endpoint
from meshcheck.errors import AddonError

TARGETS_PATH = "/api/v1/targets"
QUERY_PATH = "/api/v1/query"
READY_PATH = "/-/ready"


@dataclass(frozen=True)
class Readiness:
    ready: bool
    status: int
    text: str
    via: str = ""


@dataclass(frozen=True)
class Target:
    pool: str
    instance: str
    health: str                    # up, down, unknown
    last_error: str
    scrape_url: str
    namespace: str
    pod: str
    app: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Sample:
    labels: Mapping[str, str]
    value: float


def readiness(endpoint: Endpoint) -> Readiness:
    """Ask /-/ready: it says both that Prometheus is alive and that it answers queries."""
    response = endpoint.get(READY_PATH)
    text = " ".join(response.text.split())[:200]
    return Readiness(response.status_code == 200, response.status_code, text, endpoint.via)


def targets(endpoint: Endpoint) -> tuple[Target, ...]:
    """The active scrape targets (dropped ones can run to megabytes and say nothing here)."""
    return parse_targets(endpoint.get_json(TARGETS_PATH, {"state": "active"}))


def query(endpoint: Endpoint, expr: str) -> tuple[Sample, ...]:
    """Run one instant query and return its vector."""
    return parse_vector(endpoint.get_json(QUERY_PATH, {"query": expr}), expr)


def request_series_expr(namespace: str) -> str:
    """One expression for the calls into the namespace, grouped by calling and called workload.

    Every call is counted twice by Istio (reporter source and destination), and either report
    alone is enough to show a workload sends or receives traffic: grouping by both workload labels
    over all reporters names every workload that has series, in one small answer.
    """
    return ("count by (source_workload, destination_workload) "
            f'(istio_requests_total{{destination_workload_namespace="{namespace}"}})')


def request_series(endpoint: Endpoint, namespace: str) -> tuple[Sample, ...]:
    return query(endpoint, request_series_expr(namespace))


# --- parsing ---------------------------------------------------------------------------------

def _fail(path: str, expected: str, seen: Any) -> AddonError:
    shown = " ".join(repr(seen).split())[:120]
    return AddonError(f"prometheus answered GET {path} with an unexpected shape: expected {expected}, "
                      f"saw {shown}; check that the prometheus Service fronts Prometheus 2.x or 3.x")


def _data(payload: Any, path: str) -> Any:
    if not isinstance(payload, dict) or payload.get("status") != "success" or "data" not in payload:
        raise _fail(path, 'an object with "status": "success" and "data"', payload)
    return payload["data"]


def parse_targets(payload: Any) -> tuple[Target, ...]:
    """Parse the targets API's answer; labels after relabelling win over discovered ones."""
    data = _data(payload, TARGETS_PATH)
    if not isinstance(data, dict) or not isinstance(data.get("activeTargets"), list):
        raise _fail(TARGETS_PATH, "data.activeTargets as a list (Prometheus 2.2 or later)", data)
    return tuple(_target(item) for item in data["activeTargets"])


def _target(item: Any) -> Target:
    if not isinstance(item, dict) or not isinstance(item.get("labels"), dict):
        raise _fail(TARGETS_PATH, "each active target to be an object with labels", item)
    labels = {str(k): str(v) for k, v in item["labels"].items()}
    found = item.get("discoveredLabels") or {}

    def pick(*names: str) -> str:
        for name in names:
            value = labels.get(name) or found.get(name)
            if value:
                return str(value)
        return ""

    return Target(
        pool=str(item.get("scrapePool") or labels.get("job", "")),
        instance=labels.get("instance", ""),
        health=str(item.get("health") or "unknown"),
        last_error=str(item.get("lastError") or ""),
        scrape_url=str(item.get("scrapeUrl") or ""),
        namespace=pick("namespace", "kubernetes_namespace", "__meta_kubernetes_namespace"),
        pod=pick("pod", "kubernetes_pod_name", "__meta_kubernetes_pod_name"),
        app=pick("app", "__meta_kubernetes_pod_label_app", "service_istio_io_canonical_name"),
        labels=labels,
    )


def parse_vector(payload: Any, expr: str = "") -> tuple[Sample, ...]:
    """Parse an instant query's vector result into samples."""
    path = f"{QUERY_PATH}?query={expr}" if expr else QUERY_PATH
    data = _data(payload, path)
    if not isinstance(data, dict) or data.get("resultType") != "vector" \
            or not isinstance(data.get("result"), list):
        raise _fail(path, 'data.resultType "vector" with a result list', data)
    return tuple(_sample(item, path) for item in data["result"])


def _sample(item: Any, path: str) -> Sample:
    if not isinstance(item, dict) or not isinstance(item.get("metric"), dict):
        raise _fail(path, "each result to carry a metric object", item)
    pair = item.get("value")
    raw: Any = None
    if isinstance(pair, list) and len(pair) == 2:
        raw = pair[1]
    elif isinstance(item.get("histogram"), list) and len(item["histogram"]) == 2:
        raw = (item["histogram"][1] or {}).get("count")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise _fail(path, 'each result to carry "value": [time, "number"]', item) from None
    return Sample({str(k): str(v) for k, v in item["metric"].items()}, value)
