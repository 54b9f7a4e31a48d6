"""The simulated Prometheus of Istio's add-on: health, scrape targets and instant queries.

What it serves and where the shapes come from:
- ``/-/healthy`` and ``/-/ready``: plain text "Prometheus Server is Healthy." / "... Ready."
  (prometheus/prometheus docs/prometheus/latest/management_api.md);
- ``/api/v1/targets``: ``{"status": "success", "data": {"activeTargets": [...], "droppedTargets":
  [...]}}`` with discoveredLabels, labels, scrapePool, scrapeUrl, globalUrl, lastError, lastScrape,
  lastScrapeDuration, health, scrapeInterval, scrapeTimeout (prometheus/prometheus
  docs/querying/api.md "Targets"; older releases omit globalUrl, scrapeInterval and scrapeTimeout);
- ``/api/v1/query``: ``{"status": "success", "data": {"resultType": "vector", "result": [{"metric":
  {...}, "value": [<unix time>, "<value>"]}]}}``, and for a query it cannot run the API's error
  shape ``{"status": "error", "errorType": "bad_data", "error": "invalid parameter \\"query\\": ..."}``
  with status 400 (docs/querying/api.md "Format overview", web/api/v1/api.go);
- anything else: Go's plain "404 page not found".

Targets follow the ``kubernetes-pods`` job of Istio's add-on (istio/istio
samples/addons/prometheus.yaml): pods annotated ``prometheus.io/scrape: "true"`` (Istio's injector
adds it with port 15020 and path /stats/prometheus) are scraped at podIP:port+path, keep their pod
labels (labelmap of ``__meta_kubernetes_pod_label_(.+)``) and gain ``namespace``, ``pod`` and
``node``; pods not Running are dropped. Istio's standard metrics and their labels
(``istio_requests_total`` with reporter, source_workload, destination_workload, request_protocol,
response_code...; ``istio_tcp_*`` for plain TCP) follow istio.io docs/reference/config/metrics/.

Knobs (``world.knobs("prometheus")``): ``istio_metrics: false`` (no istio_* series at all),
``targets_down: [app, ...]`` (those boutique pods fail their scrapes: targets down with
Prometheus's lastError, and the series they report go stale), ``version`` (default: the tag of
the prometheus image the simulated cluster runs, else "3.7.3"; a release before 2.30 answers
the older target shape, without globalUrl, scrapeInterval and scrapeTimeout).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

from meshcheck.sim.addons import mesh_tls, promql
from meshcheck.sim.protocol import SimRequest, SimResponse
from meshcheck.sim.world import World

Obj = dict[str, Any]

DEFAULT_VERSION = "3.7.3"
SCRAPE_INTERVAL = "15s"
SCRAPE_TIMEOUT = "10s"
JOB = "kubernetes-pods"


def handle(world: World, request: SimRequest) -> SimResponse:
    """Answer one request to the Prometheus Service (port 9090) as Prometheus would."""
    path = request.path.rstrip("/") or "/"
    if path in ("/-/healthy", "/-/ready"):
        return _health(path, request)
    if path == "/api/v1/targets":
        return _only_get(request) or _targets(world, request)
    if path == "/api/v1/query":
        return _query(world, request)
    return SimResponse.text("404 page not found\n", 404)


# --- health ---------------------------------------------------------------------------------

def _health(path: str, request: SimRequest) -> SimResponse:
    if request.method not in ("GET", "HEAD"):
        return SimResponse.text("Method Not Allowed\n", 405)
    word = "Healthy" if path == "/-/healthy" else "Ready"
    return SimResponse.text(f"Prometheus Server is {word}.\n")


def _only_get(request: SimRequest) -> SimResponse | None:
    if request.method == "GET":
        return None
    return SimResponse.text("Method Not Allowed\n", 405)


# --- targets --------------------------------------------------------------------------------

def _targets(world: World, request: SimRequest) -> SimResponse:
    state = (request.arg("state") or "any").lower()
    pool = request.arg("scrapePool")
    active = [t for t in active_targets(world) if pool is None or t["scrapePool"] == pool]
    data: Obj = {
        "activeTargets": active if state in ("active", "any", "") else [],
        "droppedTargets": [],
    }
    return SimResponse.json({"status": "success", "data": data})


def active_targets(world: World) -> list[Obj]:
    """Prometheus's own target plus one per scraped pod, as the targets API lists them."""
    knobs = world.knobs("prometheus")
    down = set(knobs.get("targets_down") or [])
    modern = _modern(version(world))
    targets = [_self_target(world, modern)]
    for pod in world.of_kind("pods"):
        scrape = _scrape_point(pod)
        if scrape is None:
            continue
        labels = pod["metadata"].get("labels") or {}
        failing = pod["metadata"].get("namespace") == world.namespace and labels.get("app") in down
        targets.append(_pod_target(world, pod, scrape, failing, modern))
    return targets


def version(world: World) -> str:
    return world.addon_version("prometheus", "prom/prometheus", DEFAULT_VERSION)


def _modern(version: str) -> bool:
    """Releases before 2.30 list targets without scrapeInterval, scrapeTimeout and globalUrl."""
    try:
        major, minor = (int(part) for part in version.lstrip("v").split(".")[:2])
    except ValueError:
        return True
    return (major, minor) >= (2, 30)


def _scrape_point(pod: Obj) -> tuple[str, str] | None:
    """The (port, path) the kubernetes-pods job scrapes a pod at, or None when it keeps no target.

    Istio's injector annotates every injected pod; a pod that has an istio-proxy container but
    whose scenario did not write the annotations gets the injector's values.
    """
    if (pod.get("status") or {}).get("phase") != "Running" or not pod["status"].get("podIP"):
        return None
    notes = pod["metadata"].get("annotations") or {}
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    has_proxy = any(c.get("name") == "istio-proxy" for c in containers)
    if notes.get("prometheus.io/scrape") == "true":
        return notes.get("prometheus.io/port", "15020"), notes.get("prometheus.io/path", "/metrics")
    if has_proxy and "prometheus.io/scrape" not in notes:
        return "15020", "/stats/prometheus"
    return None


def _sanitize(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name)


def _timestamp(moment: float) -> str:
    text = datetime.fromtimestamp(moment, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text + "123Z"


def _discovered(pod: Obj, scrape: tuple[str, str]) -> Obj:
    meta = pod["metadata"]
    spec = pod.get("spec") or {}
    found = {
        "__address__": f"{pod['status']['podIP']}:15090",
        "__meta_kubernetes_namespace": meta.get("namespace", ""),
        "__meta_kubernetes_pod_name": meta["name"],
        "__meta_kubernetes_pod_ip": pod["status"]["podIP"],
        "__meta_kubernetes_pod_node_name": spec.get("nodeName", ""),
        "__meta_kubernetes_pod_phase": pod["status"].get("phase", ""),
        "__meta_kubernetes_pod_container_name": "istio-proxy",
        "__meta_kubernetes_pod_container_port_name": "http-envoy-prom",
        "__meta_kubernetes_pod_container_port_number": "15090",
        "__metrics_path__": "/metrics",
        "__scheme__": "http",
        "__scrape_interval__": SCRAPE_INTERVAL,
        "__scrape_timeout__": SCRAPE_TIMEOUT,
        "job": JOB,
    }
    for key, value in (meta.get("labels") or {}).items():
        found[f"__meta_kubernetes_pod_label_{_sanitize(key)}"] = value
        found[f"__meta_kubernetes_pod_labelpresent_{_sanitize(key)}"] = "true"
    for key, value in (meta.get("annotations") or {}).items():
        found[f"__meta_kubernetes_pod_annotation_{_sanitize(key)}"] = value
    return found


def target_labels(pod: Obj, port: str) -> Obj:
    """The labels a pod's target keeps after the kubernetes-pods job's relabelling."""
    meta = pod["metadata"]
    labels = {_sanitize(k): v for k, v in (meta.get("labels") or {}).items()}
    labels.update({
        "instance": f"{pod['status']['podIP']}:{port}", "job": JOB,
        "namespace": meta.get("namespace", ""), "pod": meta["name"],
        "node": (pod.get("spec") or {}).get("nodeName", ""),
    })
    return labels


def _pod_target(world: World, pod: Obj, scrape: tuple[str, str], failing: bool, modern: bool) -> Obj:
    port, path = scrape
    url = f"http://{pod['status']['podIP']}:{port}{path}"
    error = ""
    if failing:
        address = f"{pod['status']['podIP']}:{port}"
        error = f'Get "{url}": dial tcp {address}: connect: connection refused'
    target = {
        "discoveredLabels": _discovered(pod, scrape),
        "labels": target_labels(pod, port),
        "scrapePool": JOB,
        "scrapeUrl": url,
        "globalUrl": url,
        "lastError": error,
        "lastScrape": _timestamp(world.now() - 4.2),
        "lastScrapeDuration": 0.000412 if failing else 0.011873,
        "health": "down" if failing else "up",
        "scrapeInterval": SCRAPE_INTERVAL,
        "scrapeTimeout": SCRAPE_TIMEOUT,
    }
    return _shape(target, modern)


def _self_target(world: World, modern: bool) -> Obj:
    target = {
        "discoveredLabels": {"__address__": "localhost:9090", "__metrics_path__": "/metrics",
                             "__scheme__": "http", "__scrape_interval__": SCRAPE_INTERVAL,
                             "__scrape_timeout__": SCRAPE_TIMEOUT, "job": "prometheus"},
        "labels": {"instance": "localhost:9090", "job": "prometheus"},
        "scrapePool": "prometheus",
        "scrapeUrl": "http://localhost:9090/metrics",
        "globalUrl": "http://prometheus-7b8b9dd44c-x2x6h:9090/metrics",
        "lastError": "",
        "lastScrape": _timestamp(world.now() - 7.9),
        "lastScrapeDuration": 0.006215,
        "health": "up",
        "scrapeInterval": SCRAPE_INTERVAL,
        "scrapeTimeout": SCRAPE_TIMEOUT,
    }
    return _shape(target, modern)


def _shape(target: Obj, modern: bool) -> Obj:
    if modern:
        return target
    for key in ("globalUrl", "scrapeInterval", "scrapeTimeout"):
        target.pop(key)
    for key in ("__scrape_interval__", "__scrape_timeout__"):
        target["discoveredLabels"].pop(key, None)
    return target


# --- series and queries ---------------------------------------------------------------------

def _query(world: World, request: SimRequest) -> SimResponse:
    if request.method not in ("GET", "POST"):
        return SimResponse.text("Method Not Allowed\n", 405)
    expr = request.arg("query")
    if expr is None and request.method == "POST":
        expr = (parse_qs(request.body.decode("utf-8", "replace")).get("query") or [None])[0]
    if not expr:
        return _bad_data('invalid parameter "query": 1:1: parse error: no expression found in input')
    from meshcheck.sim.addons import promrange  # counters over time: rate/increase, served and stopped traffic

    try:
        vector = promrange.evaluate(expr, world)
    except promql.PromQLError as exc:
        return _bad_data(f'invalid parameter "query": {exc}')
    stamp = round(world.now(), 3)
    result = [{"metric": labels, "value": [stamp, promql.format_value(value)]} for labels, value in vector]
    return SimResponse.json({"status": "success", "data": {"resultType": "vector", "result": result}})


def _bad_data(message: str) -> SimResponse:
    return SimResponse.json({"status": "error", "errorType": "bad_data", "error": message}, 400)


def series(world: World) -> list[promql.Series]:
    """Every series the simulated Prometheus holds: ``up`` per target and Istio's mesh metrics."""
    targets = active_targets(world)
    found: list[promql.Series] = [
        ({"__name__": "up", **t["labels"]}, 1.0 if t["health"] == "up" else 0.0) for t in targets]
    if world.knobs("prometheus").get("istio_metrics", True) is False:
        return found
    down = set(world.knobs("prometheus").get("targets_down") or [])
    pods = _first_pod_by_app(world)
    elapsed = max(world.now() - world.started, 60.0)
    for caller, callee in world.edges:
        protocol = _protocol(world, callee)
        for reporter, scraped in (("source", caller), ("destination", callee)):
            if scraped in down:
                continue
            scrape_labels = _scrape_labels(pods.get(scraped))
            found.extend(_edge_series(world, caller, callee, protocol, reporter, scrape_labels, elapsed))
    return found


def _first_pod_by_app(world: World) -> dict[str, Obj]:
    pods: dict[str, Obj] = {}
    for pod in world.of_kind("pods", world.namespace):
        app = (pod["metadata"].get("labels") or {}).get("app")
        if app and app not in pods:
            pods[app] = pod
    return pods


def _scrape_labels(pod: Obj | None) -> Obj:
    scrape = _scrape_point(pod) if pod is not None else None
    if pod is None or scrape is None:
        return {}
    return target_labels(pod, scrape[0])


def _protocol(world: World, workload: str) -> str:
    """http, grpc or tcp, read from the callee Service's port name as Istio reads it."""
    for svc in world.of_kind("services", world.namespace):
        if svc["metadata"]["name"] != workload:
            continue
        for port in svc.get("spec", {}).get("ports") or []:
            name = (port.get("appProtocol") or port.get("name") or "").lower()
            for prefix in ("grpc", "http", "tcp", "tls", "redis"):
                if name.startswith(prefix):
                    return "tcp" if prefix in ("tcp", "tls", "redis") else prefix
    if "redis" in workload:
        return "tcp"
    return "http" if workload == "frontend" else "grpc"


def _edge_series(world: World, caller: str, callee: str, protocol: str, reporter: str,
                 scrape_labels: Obj, elapsed: float) -> list[promql.Series]:
    ns = world.namespace
    common = {
        **scrape_labels,
        "reporter": reporter,
        "source_workload": caller, "source_workload_namespace": ns,
        "source_app": caller, "source_version": "", "source_canonical_service": caller,
        "source_canonical_revision": "latest", "source_cluster": "Kubernetes",
        "source_principal": f"spiffe://cluster.local/ns/{ns}/sa/{caller}",
        "destination_workload": callee, "destination_workload_namespace": ns,
        "destination_app": callee, "destination_version": "", "destination_canonical_service": callee,
        "destination_canonical_revision": "latest", "destination_cluster": "Kubernetes",
        "destination_principal": f"spiffe://cluster.local/ns/{ns}/sa/{callee}",
        "destination_service": f"{callee}.{ns}.svc.cluster.local",
        "destination_service_name": callee, "destination_service_namespace": ns,
        "connection_security_policy": (mesh_tls.security_policy(world, caller, callee) if reporter == "destination"
                                       else "unknown"),
    }
    if protocol == "tcp":
        opened = float(int(elapsed / 30) + 1)
        return [
            ({"__name__": "istio_tcp_connections_opened_total", **common, "response_flags": "-"}, opened),
            ({"__name__": "istio_tcp_sent_bytes_total", **common, "response_flags": "-"}, opened * 5120),
            ({"__name__": "istio_tcp_received_bytes_total", **common, "response_flags": "-"}, opened * 2048),
        ]
    requests = float(int(elapsed * 1.5))
    request = {**common, "request_protocol": protocol, "response_flags": "-", "response_code": "200",
               "grpc_response_status": "0" if protocol == "grpc" else ""}
    found = [({"__name__": "istio_requests_total", **request}, requests)]
    if protocol == "http":
        found.append(({"__name__": "istio_requests_total", **request, "response_code": "302"},
                      float(int(elapsed * 0.2))))
    return found
