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
- ``GET <web_root>/api/istio/status`` (every release; routing/routes.go "IstioStatus") answers a
  JSON list of ``{"name", "status", "is_core"}`` (kubernetes/istio.go ``ComponentStatus``; the key is
  ``isCore`` from v2.13.0, and ``"cluster"`` is added from v2.8.0). Status is "Healthy", "NotFound",
  "NotReady", "Unhealthy" or "Unreachable". Its add-on entries come from Kiali querying its own
  configured URLs (business/istio_status.go): the tracing entry, named "jaeger" before v1.75.0 and
  "tracing" since, says whether Kiali reaches its in-cluster tracing URL. Before v1.84.0 only
  components with a problem are listed, so a healthy tracing backend has no entry; from v1.84.0
  every component is (Healthy or Unreachable). A release without the route answers 404.
- Errors are ``{"error": "..."}`` (handlers/base.go ``RespondWithError``).

Kiali's configuration is read from Kubernetes, not from Kiali (no endpoint exposes the in-cluster
URL): the ``config.yaml`` key of ConfigMap ``kiali`` in Kiali's namespace (what the server reads,
whether Helm, Istio's add-on or the operator wrote it), else the operator's Kiali CR (kiali.io/v1alpha1
``kialis``, the same settings under ``spec``). Tracing lives under ``external_services.tracing``
(config/config.go ``TracingConfig``): ``enabled``, ``url`` and ``in_cluster_url`` in Kiali 1.x;
``external_url`` and ``internal_url`` from v2.0.0, where the old keys are still read as deprecated
aliases that win over the new ones (config.go ``Unmarshal``: "DEPRECATION NOTICE"). With no
in-cluster URL Kiali queries ``http://tracing.istio-system:16685/jaeger`` (the default of every
release); ``enabled`` defaults to true before v1.88.0 and to false since.

Istio's add-on serves Kiali under web root ``/kiali`` on Service ``kiali`` port 20001
(istio/istio samples/addons/kiali.yaml); a Kiali installed at ``/`` is found by falling back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from meshcheck import objects as o
from meshcheck.endpoints import Endpoint, describe_shape, snippet
from meshcheck.errors import AddonError

Obj = dict[str, Any]

WEB_ROOTS = ("/kiali", "")
STATUS_PATH = "/api/status"
ISTIO_STATUS_PATH = "/api/istio/status"
GRAPH_PATH = "/api/namespaces/graph"
CONFIG_KEY = "config.yaml"
DEFAULT_INTERNAL_URL = "http://tracing.istio-system:16685/jaeger"
TRACING_COMPONENTS = ("tracing", "jaeger")     # the istio-status entry: "jaeger" before v1.75.0
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
    traffic: Any = field(default=None, compare=False)  # Kiali's traffic block: rates and response codes, for pictures


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


# --- Kiali's own word on its integrations: /api/istio/status ---------------------------------


@dataclass(frozen=True)
class Component:
    """One entry of Kiali's istio status: an Istio component or an add-on Kiali queries."""
    name: str
    status: str                     # Healthy, Unreachable, NotFound, NotReady, Unhealthy
    is_core: bool = False
    cluster: str = ""


@dataclass(frozen=True)
class IstioStatus:
    components: tuple[Component, ...] = ()
    asked: bool = True              # False: this Kiali has no /api/istio/status (it answered 404)
    problem: str = ""               # it answered with an error: what came back

    @property
    def tracing(self) -> Component | None:
        """The tracing entry ("tracing", or "jaeger" before v1.75.0), if Kiali listed one."""
        return next((c for c in self.components if c.name.lower() in TRACING_COMPONENTS), None)


def fetch_istio_status(endpoint: Endpoint, web_root: str = "/kiali") -> IstioStatus:
    """Ask Kiali how its components and add-ons are; a Kiali without the route was simply not asked.

    An error answer (Kiali finds no Istio deployment, say) is kept as ``problem`` rather than
    raised: it says nothing about tracing, and the checks that read this go on without it.
    """
    path = web_root + ISTIO_STATUS_PATH
    response = endpoint.get(path, headers={"Accept": "application/json"})
    if response.status_code == 404 or (response.ok and _is_html(response)):
        return IstioStatus(asked=False)
    if not response.ok:
        return IstioStatus(problem=str(endpoint.refused("GET", path, response)))
    doc = _json_or_none(response)
    if doc is None:
        raise AddonError(f"{endpoint.name} answered GET {path} with a body that is not JSON ({endpoint.via}): "
                         f"{snippet(response.text)}; check the kiali pod's logs")
    return parse_istio_status(doc, where=f"{endpoint.name} GET {path}")


def parse_istio_status(doc: Any, where: str = "kiali /api/istio/status") -> IstioStatus:
    """Parse the component list; ``null`` (Go's nil slice) is an empty list."""
    doc = [] if doc is None else doc
    if not isinstance(doc, list) or not all(isinstance(c, dict) and c.get("name") for c in doc):
        raise AddonError(f"{where} has an unexpected shape: expected a list of {{\"name\", \"status\"}} "
                         f"objects, saw {describe_shape(doc)}; check that the kiali Service runs Kiali")
    return IstioStatus(tuple(
        Component(str(c["name"]), str(c.get("status", "")), bool(c.get("isCore", c.get("is_core", False))),
                  str(c.get("cluster") or ""))
        for c in doc
    ))


def lists_healthy_components(version: str) -> bool:
    """From v1.84.0 Kiali lists every component; before, only those with a problem."""
    return _release(version) >= (1, 84)


# --- Kiali's configuration: the kiali ConfigMap or the Kiali CR ------------------------------


@dataclass(frozen=True)
class TracingSettings:
    """Kiali's tracing settings as configured, and where they were read from."""
    namespace: str                  # Kiali's namespace, where its ConfigMap was looked for
    source: str = ""                # "ConfigMap istio-system/kiali" or "Kiali CR ns/name"; "" when none was found
    problem: str = ""               # why the settings could not be read (403, bad YAML); "" when read
    enabled: bool | None = None     # as configured; None: not set, the release's default applies
    external_url: str = ""          # the link Kiali's UI shows
    internal_url: str = ""          # what Kiali queries; "" means Kiali's default
    external_key: str = ""          # the keys that set them, as written ("url", "external_url", ...)
    internal_key: str = ""

    @property
    def read(self) -> bool:
        return bool(self.source) and not self.problem

    @property
    def in_cluster_url(self) -> str:
        """The URL Kiali queries: the configured one, else the default of every Kiali release."""
        return self.internal_url or DEFAULT_INTERNAL_URL


def tracing_keys(version: str) -> tuple[str, str]:
    """The (external, in-cluster) URL keys of this Kiali release, for messages that say what to set."""
    major = _release(version)[0] if version else 0
    if major >= 2:
        return "external_url", "internal_url"
    if major == 1:
        return "url", "in_cluster_url"
    return "url (external_url from Kiali v2)", "in_cluster_url (internal_url from Kiali v2)"


def tracing_enabled_by_default(version: str) -> bool:
    """``external_services.tracing.enabled`` defaults to true before v1.88.0 (config/config.go)."""
    return _release(version) < (1, 88)


def tracing_settings(config_maps: Iterable[Obj], kialis: Iterable[Obj], namespace: str,
                     version: str = "") -> TracingSettings:
    """Kiali's tracing settings: its ConfigMap in ``namespace`` (what the server reads), else a Kiali CR
    that deploys Kiali there; with neither, settings that say nothing was found."""
    config_map = _kiali_config_map(list(config_maps), namespace)
    if config_map is not None:
        return parse_config_map(config_map, version)
    cr = next((k for k in kialis if namespace in (o.namespace(k), _dig(k, "spec", "deployment", "namespace"))),
              None)
    if cr is not None:
        return parse_kiali_cr(cr, version)
    return TracingSettings(namespace)


def unreadable_settings(namespace: str, reason: str) -> TracingSettings:
    """Settings that could not be read, and why (a reader role without ConfigMaps: 403)."""
    return TracingSettings(namespace, problem=reason)


def parse_config_map(config_map: Obj, version: str = "") -> TracingSettings:
    """The tracing settings in a ConfigMap's ``config.yaml``."""
    source = f"ConfigMap {o.ref(config_map)}"
    namespace = o.namespace(config_map)
    text = (config_map.get("data") or {}).get(CONFIG_KEY)
    if text is None:
        return TracingSettings(namespace, source, problem=f"{source} has no {CONFIG_KEY} key")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())[:160]
        return TracingSettings(namespace, source, problem=f"{CONFIG_KEY} of {source} is not valid YAML ({reason})")
    return _settings(doc, source, namespace, version)


def parse_kiali_cr(cr: Obj, version: str = "") -> TracingSettings:
    """The tracing settings under a Kiali CR's ``spec`` (the operator writes them into the ConfigMap)."""
    namespace = _dig(cr, "spec", "deployment", "namespace") or o.namespace(cr)
    return _settings(cr.get("spec"), f"Kiali CR {o.ref(cr)}", str(namespace), version)


def _settings(doc: Any, source: str, namespace: str, version: str) -> TracingSettings:
    tracing = _dig(doc, "external_services", "tracing")
    if tracing is not None and not isinstance(tracing, dict):
        return TracingSettings(namespace, source, problem=f"external_services.tracing of {source} is not a map")
    tracing = tracing or {}
    major = _release(version)[0] if version else 0
    # Kiali 1.x knows only url/in_cluster_url; v2 reads the old keys too, and they win (config.go Unmarshal).
    external_keys = ("url",) if major == 1 else ("url", "external_url")
    internal_keys = ("in_cluster_url",) if major == 1 else ("in_cluster_url", "internal_url")
    external_key = next((k for k in external_keys if tracing.get(k)), "")
    internal_key = next((k for k in internal_keys if tracing.get(k)), "")
    enabled = tracing.get("enabled")
    return TracingSettings(
        namespace,
        source,
        enabled=enabled if isinstance(enabled, bool) else None,
        external_url=str(tracing[external_key]) if external_key else "",
        internal_url=str(tracing[internal_key]) if internal_key else "",
        external_key=external_key,
        internal_key=internal_key,
    )


def _kiali_config_map(config_maps: list[Obj], namespace: str) -> Obj | None:
    """ConfigMap ``kiali`` (the default instance name), else one labelled as Kiali's that holds config.yaml."""
    mine = [c for c in config_maps if o.namespace(c) == namespace]
    named = o.named(mine, "kiali")
    if named is not None:
        return named
    return next((c for c in mine if o.labels(c).get("app.kubernetes.io/name") == "kiali"
                 and CONFIG_KEY in (c.get("data") or {})), None)


def _dig(doc: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _release(version: str) -> tuple[int, ...]:
    """"v1.63.1" → (1, 63, 1); a version without numbers compares as the newest."""
    numbers = [int(n) for n in re.findall(r"\d+", version)[:3]]
    return tuple(numbers) if numbers else (99,)


def release(version: str) -> tuple[int, ...]:
    """A Kiali version as numbers to compare ("v1.63.1" → (1, 63, 1)); without numbers, the newest."""
    return _release(version)


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
    return GraphEdge(str(data["source"]), str(data["target"]), protocol, traffic)


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
