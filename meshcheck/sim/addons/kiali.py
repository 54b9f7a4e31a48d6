"""The simulated Kiali of Istio's add-on: health, status (with its tracing link) and the traffic graph.

What it serves (paths inside Service ``kiali`` port 20001, web root ``/kiali`` as in istio/istio
samples/addons/kiali.yaml) and where the shapes come from (kiali/kiali):
- ``/kiali/healthz``: 200 with an empty body (routing/routes.go "Healthz");
- ``/kiali/api`` and ``/kiali/api/status``: ``{"status": {"Kiali state", "Kiali version", "Kiali
  container version", "Kiali commit hash"}, "externalServices": [...], "warningMessages": [],
  "istioEnvironment": {...}}`` (status/status.go, status/versions.go, models/status.go). v1 lists
  Istio, Prometheus, Kubernetes and Grafana; v2 lists "Kubernetes-<cluster>" instead of Istio and
  adds "Disabled features". The tracing entry (named "Jaeger" up to v1.74, then after the provider,
  "jaeger"; ``url`` = the configured external URL, omitted when empty; ``tempoConfig`` from v1.82)
  is present only when tracing is enabled, both read from the kiali ConfigMap (``kiali_config``);
- ``/kiali/api/istio/status``: the component list of business/istio_status.go, its tracing entry
  Healthy or Unreachable as Kiali would find its in-cluster tracing URL (``kiali_config``);
- ``/kiali/api/namespaces/graph``: the Cytoscape graph (graph/config/cytoscape/cytoscape.go) for
  graphType workload, app, versionedApp or service, with or without injected service nodes,
  validated like graph/options.go (400 ``{"error": "Invalid graphType [x]"}``, "At least one
  namespace must be specified via the namespaces query parameter.", 403 "Requested namespace [x]
  is not accessible."); errors are ``{"error": "..."}`` (handlers/base.go). Node and edge ids are
  sha256 hex digests as Kiali's nodeHash/edgeHash make them;
- ``/kiali/api/namespaces/{ns}/istio``: the Istio config list with its validations (``kiali_validations``);
- the health of a namespace's apps, on the route of the release (``kiali_health``);
- other ``/kiali/api/...`` paths: Go's "404 page not found"; other ``/kiali/...`` paths: the UI's
  index.html; anything else: "404 page not found".

The graph comes from ``world.edges`` in ``world.namespace``: an answered call is drawn from the
caller to the callee's workload (or through the callee's service node when service nodes are
injected); a call no workload answered ends at the callee's service node with 503/UH (HTTP) or
gRPC status 14, as Istio reports an unknown destination workload. Protocols follow the callee
Service's port name (tcp-/tls- → tcp, grpc → grpc, otherwise http).

Knobs (``world.knobs("kiali")``): ``missing_edges: [[src, dst], ...]`` (absent from the graph),
``unanswered_edges: [[src, dst], ...]``, ``tracing_url`` (the configured external tracing URL;
default ``http://tracing.<istio namespace>/jaeger``; "" leaves it unset; null disables tracing),
``in_cluster_url`` (what Kiali queries; unset: Kiali's default), ``version`` ("v1.76.0" by default,
the add-on of Istio 1.20; "v2.x" answers in Kiali 2's shape), ``node_ports`` (see ``build``).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from meshcheck.sim.addons import kiali_config, kiali_health, kiali_validations
from meshcheck.sim.protocol import SimRequest, SimResponse
from meshcheck.sim.world import World

Obj = dict[str, Any]
Edge = tuple[str, str]

CLUSTER = kiali_config.CLUSTER
WEB_ROOT = "/kiali"
GRAPH_TYPES = ("app", "service", "versionedApp", "workload")
INDEX_HTML = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><base href="/kiali/">'
              "<title>Kiali</title></head><body><div id=\"root\"></div></body></html>")
NOT_FOUND = "404 page not found\n"


def handle(world: World, request: SimRequest) -> SimResponse:
    """Answer one request to the kiali Service as Kiali would."""
    path = request.path.rstrip("/") or "/"
    if path in (f"{WEB_ROOT}/healthz", f"{WEB_ROOT}/api/healthz"):
        return SimResponse(200, b"", {"Content-Length": "0"})
    if path in (f"{WEB_ROOT}/api", f"{WEB_ROOT}/api/status"):
        return _only_get(request) or SimResponse.json(status_document(world))
    if path == f"{WEB_ROOT}/api/istio/status":
        return _only_get(request) or SimResponse.json(kiali_config.istio_status(world))
    if path == f"{WEB_ROOT}/api/namespaces/graph":
        return _only_get(request) or _graph(world, request)
    if istio_config := kiali_validations.PATH.match(path):
        return _only_get(request) or kiali_validations.handle(world, request, istio_config.group(1))
    if kiali_health.serves(world, path):
        return _only_get(request) or kiali_health.handle(world, request)
    if path.startswith(f"{WEB_ROOT}/api/") or not path.startswith(WEB_ROOT):
        return SimResponse.text(NOT_FOUND, 404)
    return SimResponse.text(INDEX_HTML, 200, "text/html; charset=utf-8")


def _only_get(request: SimRequest) -> SimResponse | None:
    if request.method.upper() in ("GET", "HEAD"):
        return None
    return SimResponse(405, b"", {"Content-Length": "0"})


def _error(status: int, message: str) -> SimResponse:
    return SimResponse.json({"error": message}, status)


# --- status ---------------------------------------------------------------------------------


def _major(version: str) -> int:
    match = re.match(r"v?(\d+)", version)
    return int(match.group(1)) if match else 1


def status_document(world: World) -> Obj:
    """Kiali's /api/status for the world's Kiali version and tracing settings."""
    version = kiali_config.kiali_version(world.knobs("kiali"))
    v2 = _major(version) >= 2
    status = {
        "Kiali commit hash": hashlib.sha1(version.encode()).hexdigest(),
        "Kiali container version": version,
        "Kiali state": "running",
        "Kiali version": version,
    }
    if v2:
        status["Disabled features"] = ""
    services: list[Obj] = []
    if v2:
        services.append({"name": f"Kubernetes-{CLUSTER}", "version": "v1.30.0"})
    else:
        services.append({"name": "Istio", "version": world.istio_version})
    services.append({"name": "Prometheus", "version": "2.41.0"})
    if not v2:
        services.append({"name": "Kubernetes", "version": "v1.27.3"})
    services.append({"name": "Grafana"})
    tracing = _tracing_entry(world, version)
    if tracing is not None:
        services.append(tracing)
    environment: Obj = {"istioAPIEnabled": True} if v2 else {"isMaistra": False, "istioAPIEnabled": True}
    return {"status": status, "externalServices": services, "warningMessages": [],
            "istioEnvironment": environment}


def _tracing_entry(world: World, version: str) -> Obj | None:
    settings = kiali_config.tracing(world)
    if not settings.enabled:
        return None
    entry: Obj = {"name": "jaeger" if _minor_at_least(version, 1, 75) else "Jaeger", "version": "1.46.0"}
    if settings.external_url:
        entry["url"] = settings.external_url
    if _minor_at_least(version, 1, 82):
        entry["tempoConfig"] = {}
    return entry


def _minor_at_least(version: str, major: int, minor: int) -> bool:
    parts = re.findall(r"\d+", version)
    found = (int(parts[0]) if parts else 1, int(parts[1]) if len(parts) > 1 else 99)
    return found >= (major, minor)


# --- graph ----------------------------------------------------------------------------------


def _graph(world: World, request: SimRequest) -> SimResponse:
    duration = request.arg("duration") or "10m"
    seconds = _duration_seconds(duration)
    if seconds is None:
        return _error(400, f"Invalid duration [{duration}]")
    graph_type = request.arg("graphType") or "workload"
    if graph_type not in GRAPH_TYPES:
        return _error(400, f"Invalid graphType [{graph_type}]")
    inject_text = request.arg("injectServiceNodes") or "false"
    inject = _parse_bool(inject_text)
    if inject is None:
        return _error(400, f"Invalid injectServiceNodes [{inject_text}]")
    namespaces = [n.strip() for n in (request.arg("namespaces") or "").split(",") if n.strip()]
    if not namespaces:
        return _error(400, "At least one namespace must be specified via the namespaces query parameter.")
    accessible = _namespaces(world)
    for namespace in namespaces:
        if namespace not in accessible:
            return _error(403, f"Requested namespace [{namespace}] is not accessible.")
    builder = _GraphBuilder(world, graph_type, inject or graph_type == "service")
    if world.namespace in namespaces:
        builder.build()
    return SimResponse.json({
        "timestamp": int(world.now()),
        "duration": seconds,
        "graphType": graph_type,
        "elements": {"nodes": builder.node_list(), "edges": builder.edge_list()},
    })


def _duration_seconds(text: str) -> int | None:
    """Prometheus model durations ("10m", "1h30m", "600s"), as Kiali's graph options parse them."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|y)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return int(sum(int(n) * units[u] for n, u in parts))


def _parse_bool(text: str) -> bool | None:
    """Go's strconv.ParseBool."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


def _namespaces(world: World) -> set[str]:
    names = {n["metadata"]["name"] for n in world.of_kind("namespaces")}
    return names or {world.namespace, world.istio_namespace, "default", "kube-system"}


def _pairs(raw: Any) -> set[Edge]:
    return {(str(a), str(b)) for a, b in raw or ()}


class _GraphBuilder:
    """Builds Kiali's nodes and edges for the world's calls, one graph type at a time."""

    def __init__(self, world: World, graph_type: str, inject: bool) -> None:
        knobs = world.knobs("kiali")
        self.world = world
        self.ns = world.namespace
        self.graph_type = graph_type
        self.inject = inject
        missing = _pairs(knobs.get("missing_edges"))
        self.unanswered = _pairs(knobs.get("unanswered_edges"))
        self.calls = [e for e in world.edges if e not in missing]
        self.services = _services_by_app(world)
        self.nodes: dict[str, Obj] = {}
        self.edges: dict[str, Obj] = {}

    # nodes

    def _node(self, key: str, data: Obj) -> str:
        node_id = hashlib.sha256(key.encode()).hexdigest()
        if node_id not in self.nodes:
            self.nodes[node_id] = {"id": node_id, "nodeType": "", "cluster": CLUSTER, "namespace": self.ns,
                                   **data, "traffic": [], "healthData": None}
        return node_id

    def app_node(self, app: str) -> str:
        """The node of a calling or answering app, in the graph type's flavour."""
        if self.graph_type == "service" and app in self.services:
            return self.service_node(app)
        if self.graph_type in ("app", "versionedApp"):
            data: Obj = {"nodeType": "app", "app": app}
            if self.graph_type == "versionedApp":
                data["workload"] = app
            return self._node(f"app_{self.ns}_{app}", data)
        return self._node(f"workload_{self.ns}_{app}", {"nodeType": "workload", "workload": app, "app": app})

    def service_node(self, app: str) -> str:
        name = self.services.get(app, app)
        return self._node(f"service_{self.ns}_{name}", {"nodeType": "service", "service": name})

    # edges

    def build(self) -> None:
        answered_callees = {b for a, b in self.calls if (a, b) not in self.unanswered}
        for caller, callee in self.calls:
            protocol = _protocol(self.world, callee)
            answered = (caller, callee) not in self.unanswered
            source = self.app_node(caller)
            if self.graph_type == "service" or (self.inject or not answered):
                service = self.service_node(callee)
                self._edge(source, service, protocol, caller, callee, answered)
                if self.inject and self.graph_type != "service" and callee in answered_callees:
                    self._edge(service, self.app_node(callee), protocol, caller, callee, True)
            else:
                self._edge(source, self.app_node(callee), protocol, caller, callee, True)
        self._mark_roots()

    def _edge(self, source: str, target: str, protocol: str, caller: str, callee: str, answered: bool) -> None:
        edge_id = hashlib.sha256(f"{source}.{target}.{protocol}".encode()).hexdigest()
        if edge_id in self.edges:
            return
        rate = _rate(caller, callee)
        data: Obj = {"id": edge_id, "source": source, "target": target,
                     "traffic": _edge_traffic(protocol, rate, self._host(callee), answered)}
        if protocol != "tcp" and answered:
            data["responseTime"] = str(5 + int(rate * 7) % 40)
        if answered:
            data.update(isMTLS="100", sourcePrincipal=_principal(self.ns, caller),
                        destPrincipal=_principal(self.ns, callee))
        self.edges[edge_id] = data
        self._count(source, protocol, "Out", rate)
        self._count(target, protocol, "In", rate)
        name = self.services.get(callee)
        if name:
            self.nodes[target]["destServices"] = [{"cluster": CLUSTER, "namespace": self.ns, "name": name}]

    def _host(self, callee: str) -> str:
        return f"{self.services.get(callee, callee)}.{self.ns}.svc.cluster.local"

    def _count(self, node_id: str, protocol: str, direction: str, rate: float) -> None:
        traffic = self.nodes[node_id]["traffic"]
        entry = next((t for t in traffic if t["protocol"] == protocol), None)
        if entry is None:
            entry = {"protocol": protocol, "rates": {}}
            traffic.append(entry)
        key = f"{protocol}{direction}"
        entry["rates"][key] = f"{float(entry['rates'].get(key, 0)) + rate:.2f}"

    def _mark_roots(self) -> None:
        targets = {e["target"] for e in self.edges.values()}
        for node_id, node in self.nodes.items():
            if node_id not in targets:
                node["isRoot"] = True

    # output

    def node_list(self) -> list[Obj]:
        def order(node: Obj) -> tuple[str, ...]:
            return (node["namespace"], node.get("app", ""), node.get("version", ""), node.get("service", ""),
                    node.get("workload", ""))
        return [{"data": {k: v for k, v in n.items() if v != []}} for n in sorted(self.nodes.values(), key=order)]

    def edge_list(self) -> list[Obj]:
        return [{"data": e} for e in sorted(self.edges.values(), key=lambda e: (e["source"], e["target"]))]


def _services_by_app(world: World) -> dict[str, str]:
    """Service name per app label in the boutique namespace; without Service objects, callee = Service."""
    found = {}
    for svc in world.of_kind("services", world.namespace):
        selector = (svc.get("spec") or {}).get("selector") or {}
        if selector.get("app"):
            found.setdefault(selector["app"], svc["metadata"]["name"])
    if not found:
        found = {b: b for _, b in world.edges}
    return found


def _protocol(world: World, callee: str) -> str:
    for svc in world.of_kind("services", world.namespace):
        if ((svc.get("spec") or {}).get("selector") or {}).get("app") != callee:
            continue
        port = ((svc["spec"].get("ports") or [{}])[0].get("name") or "").lower()
        if port.startswith(("tcp", "tls", "mongo", "redis", "mysql")):
            return "tcp"
        if port.startswith("grpc"):
            return "grpc"
        return "http"
    return "http"


def _rate(caller: str, callee: str) -> float:
    digest = int(hashlib.sha256(f"{caller}->{callee}".encode()).hexdigest()[:6], 16)
    return round(0.5 + digest % 400 / 100, 2)


def _edge_traffic(protocol: str, rate: float, host: str, answered: bool) -> Obj:
    if protocol == "tcp":
        flag = "-" if answered else "UF"
        return {"protocol": "tcp", "rates": {"tcp": f"{rate * 120:.2f}"},
                "responses": {"-": {"flags": {flag: "100.0"}, "hosts": {host: "100.0"}}}}
    code = ("200" if protocol == "http" else "0") if answered else ("503" if protocol == "http" else "14")
    flag = "-" if answered else "UH"
    rates = {protocol: f"{rate:.2f}", f"{protocol}PercentReq": "100.0"}
    if not answered:
        rates[f"{protocol}{'5xx' if protocol == 'http' else 'Err'}"] = f"{rate:.2f}"
        rates[f"{protocol}PercentErr"] = "100.0"
    return {"protocol": protocol, "rates": rates,
            "responses": {code: {"flags": {flag: "100.0"}, "hosts": {host: "100.0"}}}}


def _principal(namespace: str, app: str) -> str:
    return f"spiffe://cluster.local/ns/{namespace}/sa/{app}"
