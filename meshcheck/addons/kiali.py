"""Kiali client: its status (state, version, tracing link) and its traffic graph, parsed into records.

Formats read from Kiali's source (kiali/kiali):
- ``GET <web_root>/api/status`` answers ``{"status": {"Kiali state": "running", "Kiali version":
  "v1.76.0", "Kiali container version", "Kiali commit hash", ...}, "externalServices": [{"name",
  "version", "url"}...], "warningMessages": [...], "istioEnvironment": {...}}``
  (status/status.go, models/status.go). The oldest releases named the version "Kiali core version"
  (status/status.go before v1.0). It is served by every release, v1.x and v2.x alike.
- The tracing link is exposed there: when tracing is enabled, one ``externalServices`` entry
  names the tracing provider ("Jaeger" in old releases, the provider "jaeger"/"tempo" later) and
  carries ``url`` = the configured *external* tracing URL, omitted when empty (status/versions.go:
  ``jaegerVersion``/``tracingVersion``: ``product.Url = tracingConfig.URL`` in v1.x,
  ``tracingConfig.ExternalURL`` in v2.x). The other places that expose it differ between majors:
  ``/api/jaeger`` (``JaegerInfo``, v1.6x) became ``/api/tracing`` (``TracingInfo``, v1.7x+/v2,
  handlers/tracing.go), and ``/api/config`` never carries it (handlers/config.go ``PublicConfig``).
  Kiali's in-cluster URL (``in_cluster_url`` / v2 ``internal_url``) is exposed by no endpoint.
- ``GET <web_root>/api/namespaces/graph?namespaces=..&graphType=..&injectServiceNodes=..&duration=..``
  answers the Cytoscape JSON ``{"timestamp", "duration", "graphType", "elements": {"nodes":
  [{"data": {"id", "nodeType", "cluster", "namespace", "workload", "app", "version", "service",
  "destServices", "traffic", "parent", "isBox", ...}}], "edges": [{"data": {"id", "source",
  "target", "traffic": {"protocol", "rates", "responses"}, ...}}]}}``
  (graph/config/cytoscape/cytoscape.go; graph/options.go for the query parameters, handlers/testdata
  for recorded graphs). nodeType is app, workload, service, unknown, box or aggregate; older
  releases sent ``destServices`` as a map and edge ``traffic`` as a list, which are ignored here.
- Errors are ``{"error": "..."}`` (handlers/base.go ``RespondWithError``).

Istio's add-on serves Kiali under web root ``/kiali`` on Service ``kiali`` port 20001
(istio/istio samples/addons/kiali.yaml); a Kiali installed at ``/`` is found by falling back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from meshcheck.endpoints import Endpoint, describe_shape, snippet
from meshcheck.errors import AddonError

WEB_ROOTS = ("/kiali", "")
STATUS_PATH = "/api/status"
GRAPH_PATH = "/api/namespaces/graph"
TRACING_NAMES = ("jaeger", "tempo", "zipkin", "tracing")


@dataclass(frozen=True)
class KialiStatus:
    state: str                      # "running" when healthy
    version: str
    tracing_enabled: bool           # a tracing provider is listed among the external services
    tracing_provider: str
    tracing_url: str                # the configured (external) tracing URL; "" when not set
    external_services: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    web_root: str = "/kiali"


@dataclass(frozen=True)
class GraphNode:
    id: str
    node_type: str                  # app, workload, service, unknown, box, aggregate
    namespace: str
    workload: str = ""
    app: str = ""
    version: str = ""
    service: str = ""

    @property
    def name(self) -> str:
        """The name the call graph uses: the app label, else the workload, else the service."""
        for candidate in (self.app, self.workload, self.service):
            if candidate and candidate != "unknown":
                return candidate
        return "unknown"


@dataclass(frozen=True)
class GraphEdge:
    source: str                     # node ids
    target: str
    protocol: str = ""


@dataclass(frozen=True)
class ObservedEdge:
    """A call seen in the graph, by name; ``answered`` is False when it ends at a service node."""
    source: str
    target: str
    answered: bool


@dataclass(frozen=True)
class KialiGraph:
    graph_type: str
    nodes: Mapping[str, GraphNode] = field(default_factory=dict)
    edges: tuple[GraphEdge, ...] = ()
    duration: int = 0


# --- status ---------------------------------------------------------------------------------


def fetch_status(endpoint: Endpoint) -> KialiStatus:
    """Read /api/status under Kiali's web root, trying /kiali (Istio's add-on) before /.

    Only a 404 or an HTML page (Kiali's UI answers unknown paths under its web root) sends the
    search on to the next web root; any other answer is Kiali's, good or bad.
    """
    tried: list[str] = []
    for root in WEB_ROOTS:
        path = root + STATUS_PATH
        response = endpoint.get(path, headers={"Accept": "application/json"})
        if response.status_code == 404 or (response.ok and _is_html(response)):
            tried.append(f"{path} answered {response.status_code}")
            continue
        if not response.ok:
            raise endpoint.refused("GET", path, response)
        doc = _json_or_none(response)
        if doc is None:
            raise AddonError(f"{endpoint.name} answered GET {path} with a body that is not JSON ({endpoint.via}): "
                             f"{snippet(response.text)}; check the kiali pod's logs and that the Service runs Kiali")
        return parse_status(doc, where=f"{endpoint.name} GET {path}", web_root=root)
    raise AddonError(f"{endpoint.name} has no status API ({endpoint.via}): {'; '.join(tried)}; check that the "
                     "Service runs Kiali and where its web root is (server.web_root, /kiali in Istio's add-on)")


def parse_status(doc: Any, where: str = "kiali /api/status", web_root: str = "/kiali") -> KialiStatus:
    """Parse Kiali's status document; a missing ``status`` map means this is not Kiali."""
    if not isinstance(doc, dict) or not isinstance(doc.get("status"), dict):
        raise AddonError(f"{where} has an unexpected shape: expected an object with a \"status\" map, "
                         f"saw {describe_shape(doc)}; check that the kiali Service runs Kiali")
    status = {str(k): str(v) for k, v in doc["status"].items()}
    services = doc.get("externalServices") or []
    if not isinstance(services, list):
        raise AddonError(f"{where} has an unexpected shape: expected \"externalServices\" to be a list, "
                         f"saw {describe_shape(services)}")
    entries = [s for s in services if isinstance(s, dict)]
    tracing = next((s for s in entries if str(s.get("name", "")).lower() in TRACING_NAMES), None)
    warnings = doc.get("warningMessages") or []
    return KialiStatus(
        state=status.get("Kiali state", ""),
        version=_kiali_version(status),
        tracing_enabled=tracing is not None,
        tracing_provider=str(tracing.get("name", "")) if tracing else "",
        tracing_url=str(tracing.get("url") or "") if tracing else "",
        external_services=tuple(str(s.get("name", "")) for s in entries),
        warnings=tuple(str(w) for w in warnings) if isinstance(warnings, list) else (),
        web_root=web_root,
    )


def _kiali_version(status: Mapping[str, str]) -> str:
    """"Kiali version" since v1.x; "Kiali core version" in the oldest releases."""
    for key in ("Kiali version", "Kiali core version", "Kiali container version"):
        if status.get(key):
            return status[key]
    return ""


# --- graph ----------------------------------------------------------------------------------


def fetch_graph(
    endpoint: Endpoint,
    namespace: str,
    *,
    graph_type: str = "workload",
    inject_service_nodes: bool = False,
    duration: str = "10m",
    web_root: str = "/kiali",
) -> KialiGraph:
    """Read the namespace's traffic graph.

    Without injected service nodes Kiali draws answered calls workload→workload and sends a call
    that no workload answered to the callee's service node, so each caller is judged on its own;
    graphs with injected service nodes are read correctly too (see ``observed_edges``).
    """
    path = web_root + GRAPH_PATH
    params = {"namespaces": namespace, "graphType": graph_type, "duration": duration,
              "injectServiceNodes": "true" if inject_service_nodes else "false"}
    return parse_graph(endpoint.get_json(path, params), where=f"{endpoint.name} GET {path}")


def parse_graph(doc: Any, where: str = "kiali /api/namespaces/graph") -> KialiGraph:
    """Parse the Cytoscape graph; nodes and edges lists are required, their extra fields are not."""
    elements = doc.get("elements") if isinstance(doc, dict) else None
    if not isinstance(elements, dict):
        raise AddonError(f"{where} has an unexpected shape: expected an object with \"elements\", "
                         f"saw {describe_shape(doc)}; check that the kiali Service runs Kiali")
    raw_nodes = elements.get("nodes")
    raw_edges = elements.get("edges")
    raw_nodes = [] if raw_nodes is None else raw_nodes          # a null list is an empty graph
    raw_edges = [] if raw_edges is None else raw_edges
    if not isinstance(raw_nodes, list) or not isinstance(raw_edges, list):
        raise AddonError(f"{where} has an unexpected shape: expected elements.nodes and elements.edges "
                         f"lists, saw {describe_shape(raw_nodes)} and {describe_shape(raw_edges)}")
    nodes = {}
    for item in raw_nodes:
        node = _node(item, where)
        nodes[node.id] = node
    edges = tuple(_edge(item, where) for item in raw_edges)
    duration = doc.get("duration")
    return KialiGraph(str(doc.get("graphType", "")), nodes, edges,
                      int(duration) if isinstance(duration, int | float) else 0)


def _data(item: Any, kind: str, where: str) -> dict[str, Any]:
    data = item.get("data") if isinstance(item, dict) else None
    if not isinstance(data, dict) or not data.get("id"):
        raise AddonError(f"{where} has an unexpected shape: expected each {kind} as {{\"data\": {{\"id\": ...}}}}, "
                         f"saw {describe_shape(item)}")
    return data


def _node(item: Any, where: str) -> GraphNode:
    data = _data(item, "node", where)
    node_type = str(data.get("nodeType", ""))
    if data.get("isBox"):
        node_type = "box"
    return GraphNode(
        id=str(data["id"]),
        node_type=node_type,
        namespace=str(data.get("namespace", "")),
        workload=str(data.get("workload", "") or ""),
        app=str(data.get("app", "") or ""),
        version=str(data.get("version", "") or ""),
        service=str(data.get("service", "") or ""),
    )


def _edge(item: Any, where: str) -> GraphEdge:
    data = _data(item, "edge", where)
    if not data.get("source") or not data.get("target"):
        raise AddonError(f"{where} has an unexpected shape: expected each edge to have source and target, "
                         f"saw {describe_shape(data)}")
    traffic = data.get("traffic")
    protocol = str(traffic.get("protocol", "")) if isinstance(traffic, dict) else ""
    return GraphEdge(str(data["source"]), str(data["target"]), protocol)


def observed_edges(graph: KialiGraph, namespace: str) -> tuple[ObservedEdge, ...]:
    """The calls between nodes of ``namespace``, by name, seen through injected service nodes.

    A call to a service node is followed on to the workloads (or apps) behind it; a service node
    with nothing behind it means the requests got no answer from any workload. In a service
    graph (graphType=service) the service nodes are the callers and callees themselves.
    """
    service_graph = graph.graph_type == "service"
    seen: dict[tuple[str, str], bool] = {}
    for edge in graph.edges:
        source = graph.nodes.get(edge.source)
        target = graph.nodes.get(edge.target)
        if source is None or target is None or "box" in (source.node_type, target.node_type):
            continue
        if source.namespace != namespace or target.namespace != namespace:
            continue
        if source.node_type == "service" and not service_graph:
            continue            # the hop behind a service node is credited to its callers
        destinations = [(target.name, True)] if service_graph else _destinations(graph, target)
        for name, answered in destinations:
            key = (source.name, name)
            seen[key] = seen.get(key, False) or answered
    return tuple(ObservedEdge(src, dst, ok) for (src, dst), ok in sorted(seen.items()))


def _destinations(graph: KialiGraph, target: GraphNode) -> list[tuple[str, bool]]:
    if target.node_type != "service":
        return [(target.name, True)]
    behind = [graph.nodes[e.target] for e in graph.edges
              if e.source == target.id and e.target in graph.nodes
              and graph.nodes[e.target].node_type not in ("service", "box")]
    if not behind:
        return [(target.name, False)]
    return [(node.name, True) for node in behind]


# --- helpers --------------------------------------------------------------------------------


def _is_html(response: Any) -> bool:
    return "html" in response.headers.get("Content-Type", "").lower()


def _json_or_none(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
