"""The call graph as Kiali observed it, compared edge by edge with the profile's: the data behind the picture.

Reports draw it (``callgraph_svg``) and list it as a table from the same rows (``compare``), so the
picture and the table can never disagree.

Each expected caller→callee edge is in one of three states, and the graph may hold a fourth kind:

- ``healthy``: Kiali draws it, a workload answers, and no request failed;
- ``failing``: Kiali draws it, but requests failed (Kiali's ``httpPercentErr``/``grpcPercentErr`` above
  zero) or no workload answered (the call ends at the callee's service node: Istio reports an unknown
  destination workload, 503 UH or gRPC 14);
- ``missing``: Kiali does not draw it: no traffic was recorded for that call in the graph's window;
- ``unexpected``: Kiali draws a call between the namespace's workloads that the profile does not list.

Edge traffic is read as Kiali's UI reads it (kiali/kiali frontend: ``getEdgeColor`` and the traffic
list): ``traffic.rates`` carries the protocol's rate (``http``/``grpc`` in requests/s, ``tcp`` in
bytes/s) and ``httpPercentErr``/``grpcPercentErr``; ``traffic.responses`` maps each response code to
the Envoy response flags and hosts seen, in percent. Kiali's UI draws an edge red from 20% errors
(``REQUESTS_THRESHOLDS.failure``) and orange above 0.1%; here any error at all makes the edge failing
(a conformance run wants none), and ``severe`` says whether it crosses Kiali's red line.

``KialiGraph`` (``meshcheck.addons.kiali``) keeps which calls exist and whether they were answered but
not their rates, so ``observed_calls`` reads the graph document itself when it has it, and falls back
to presence alone with a parsed graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from meshcheck.addons.kiali import GraphNode, KialiGraph, ObservedEdge, observed_edges, parse_graph

Edge = tuple[str, str]

HEALTHY = "healthy"
FAILING = "failing"
MISSING = "missing"
UNEXPECTED = "unexpected"
STATES = (HEALTHY, FAILING, MISSING, UNEXPECTED)

FAILURE_PERCENT = 20.0      # Kiali's REQUESTS_THRESHOLDS.failure: its UI draws the edge red from here

GRPC_CODES = {              # google.golang.org/grpc/codes, as Istio reports grpc_response_status
    "1": "CANCELLED", "2": "UNKNOWN", "3": "INVALID_ARGUMENT", "4": "DEADLINE_EXCEEDED", "5": "NOT_FOUND",
    "6": "ALREADY_EXISTS", "7": "PERMISSION_DENIED", "8": "RESOURCE_EXHAUSTED", "9": "FAILED_PRECONDITION",
    "10": "ABORTED", "11": "OUT_OF_RANGE", "12": "UNIMPLEMENTED", "13": "INTERNAL", "14": "UNAVAILABLE",
    "15": "DATA_LOSS", "16": "UNAUTHENTICATED",
}


@dataclass(frozen=True)
class ObservedCall(ObservedEdge):
    """A call Kiali draws, with its traffic when the graph document carried it.

    An ``ObservedEdge`` (source, target, answered) with what the picture needs to say how it fares;
    plain ``ObservedEdge`` records are accepted wherever these are, with nothing known of their traffic.
    """
    protocol: str = ""
    rate: float | None = None               # requests/s (http, grpc) or bytes/s (tcp); None: not known
    error_percent: float | None = None      # share of requests that failed; None: not known
    errors: tuple[str, ...] = ()            # failing responses, most frequent first: "503 UH", "gRPC 14 UNAVAILABLE"


@dataclass(frozen=True)
class CallEdge:
    """One row of the comparison: an edge of either graph, its state, and the words for it."""
    source: str
    target: str
    state: str                              # HEALTHY, FAILING, MISSING or UNEXPECTED
    expected: bool                          # in the profile's call graph
    protocol: str = ""
    rate: float | None = None
    error_percent: float | None = None
    detail: str = ""                        # what a person reads: why it is in this state

    @property
    def arrow(self) -> str:
        return f"{self.source}→{self.target}"

    @property
    def severe(self) -> bool:
        """Missing, unanswered, or failing at Kiali's red line (20% errors) or above."""
        if self.state == MISSING:
            return True
        if self.state != FAILING:
            return False
        return self.error_percent is None or self.error_percent >= FAILURE_PERCENT

    @property
    def traffic(self) -> str:
        """The rate in Kiali's units ("2.31 req/s", "277 B/s"), "" when not known."""
        return format_rate(self.rate, self.protocol)


def observed_calls(graph: Mapping[str, Any] | KialiGraph, namespace: str) -> tuple[ObservedCall, ...]:
    """The calls between the namespace's workloads in Kiali's graph, with their traffic.

    ``graph`` is the graph document Kiali answered (``/api/namespaces/graph``, the JSON ``fetch_graph``
    parses; one that is not a graph raises ``AddonError`` as ``parse_graph`` does), or an already parsed
    ``KialiGraph``: its edges carry no traffic today, so only presence and answer are known, unless a
    ``GraphEdge`` keeps the edge's ``traffic`` block as an attribute of that name, which is read. Which calls
    exist, and whether a workload answered, is decided by ``meshcheck.addons.kiali.observed_edges``: a
    call through an injected service node counts for the workloads behind it. Its traffic is the caller's
    own edge (to the callee or to its service node), summed over protocols when there are several.
    """
    if isinstance(graph, KialiGraph):
        parsed = graph
        raw = [{"source": e.source, "target": e.target, "traffic": getattr(e, "traffic", None)} for e in graph.edges]
    else:
        parsed = parse_graph(graph)
        raw = _raw_edges(graph)
    traffic = _traffic_by_pair(parsed, raw, namespace)
    calls = []
    for edge in observed_edges(parsed, namespace):
        found = traffic.get((edge.source, edge.target))
        if found is None:
            calls.append(ObservedCall(edge.source, edge.target, edge.answered))
            continue
        calls.append(ObservedCall(edge.source, edge.target, edge.answered, found.protocol, found.rate,
                                  found.error_percent, found.errors))
    return tuple(calls)


def compare(expected: Iterable[Edge], observed: Iterable[ObservedEdge]) -> tuple[CallEdge, ...]:
    """Each expected edge with its observed state, in the profile's order, then the unexpected ones by name.

    ``observed`` holds ``ObservedCall`` records (from ``observed_calls``) or the addons' plain
    ``ObservedEdge`` ones; an empty sequence is an empty graph: every edge missing.
    """
    seen: dict[Edge, ObservedEdge] = {}
    for edge in observed:
        seen[(edge.source, edge.target)] = edge
    wanted = list(dict.fromkeys((str(a), str(b)) for a, b in expected))
    rows = [_row(pair, seen.get(pair)) for pair in wanted]
    rows += [_row(pair, seen[pair], expected=False) for pair in sorted(set(seen) - set(wanted))]
    return tuple(rows)


def counts(rows: Iterable[CallEdge]) -> dict[str, int]:
    """How many edges are in each state, every state named (zero included), in ``STATES`` order."""
    found = dict.fromkeys(STATES, 0)
    for row in rows:
        found[row.state] += 1
    return found


def format_rate(rate: float | None, protocol: str = "") -> str:
    if rate is None:
        return ""
    if protocol == "tcp":
        return f"{rate:.0f} B/s"
    return f"{rate:.2f} req/s"


# --- rows -----------------------------------------------------------------------------------------


def _row(pair: Edge, seen: ObservedEdge | None, *, expected: bool = True) -> CallEdge:
    source, target = pair
    if seen is None:
        return CallEdge(source, target, MISSING, expected,
                        detail="not in Kiali's graph: no traffic recorded for this call in the graph's time window")
    protocol = getattr(seen, "protocol", "")
    rate = getattr(seen, "rate", None)
    percent = getattr(seen, "error_percent", None)
    errors: Sequence[str] = getattr(seen, "errors", ())
    codes = f" ({', '.join(errors)})" if errors else ""
    traffic = format_rate(rate, protocol)
    if not seen.answered:
        state = FAILING
        percent = 100.0 if percent is None else percent
        detail = f"requests sent, no workload answered: the call ends at {target}'s service node{codes}"
    elif percent:
        state = FAILING
        detail = f"{_percent(percent)} of requests failed{codes}" + (f" at {traffic}" if traffic else "")
    else:
        state = HEALTHY
        detail = "answered" + (f", {traffic}" if traffic else "") + (", no errors" if percent == 0 else "")
    if not expected:
        detail = f"not in the profile's call graph; {detail}"
        state = UNEXPECTED
    return CallEdge(source, target, state, expected, protocol, rate, percent, detail)


def _percent(value: float) -> str:
    return f"{value:.0f}%" if value >= 10 or value == int(value) else f"{value:.2g}%"


# --- traffic from the graph document ---------------------------------------------------------------


@dataclass(frozen=True)
class _Traffic:
    protocol: str
    rate: float | None
    error_percent: float | None
    errors: tuple[str, ...]


def _raw_edges(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The edges' data maps (``parse_graph`` has already refused a document without them)."""
    return [item["data"] for item in (doc["elements"].get("edges") or [])]


def _traffic_by_pair(graph: KialiGraph, raw_edges: list[dict[str, Any]], namespace: str) -> dict[Edge, _Traffic]:
    """Each caller→callee pair's traffic, from the edges that leave the caller (as ``observed_edges`` walks)."""
    service_graph = graph.graph_type == "service"
    parts: dict[Edge, list[_Traffic]] = {}
    for data in raw_edges:
        source = graph.nodes.get(str(data["source"]))
        target = graph.nodes.get(str(data["target"]))
        if source is None or target is None or "box" in (source.node_type, target.node_type):
            continue
        if source.namespace != namespace or target.namespace != namespace:
            continue
        if source.node_type == "service" and not service_graph:
            continue
        entries = data.get("traffic")
        if entries is None:
            continue
        entries = entries if isinstance(entries, list) else [entries]     # a list in Kiali 0.x/1.0
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            for callee in _callees(graph, target, service_graph):
                parts.setdefault((source.name, callee), []).append(_edge_traffic(entry))
    return {pair: _merge(found) for pair, found in parts.items()}


def _callees(graph: KialiGraph, target: GraphNode, service_graph: bool) -> list[str]:
    if service_graph or target.node_type != "service":
        return [target.name]
    behind = [graph.nodes[e.target].name for e in graph.edges
              if e.source == target.id and e.target in graph.nodes
              and graph.nodes[e.target].node_type not in ("service", "box")]
    return behind or [target.name]


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _edge_traffic(entry: dict[str, Any]) -> _Traffic:
    protocol = str(entry.get("protocol") or "")
    rates = entry.get("rates") if isinstance(entry.get("rates"), dict) else {}
    responses = entry.get("responses") if isinstance(entry.get("responses"), dict) else {}
    rate = _number(rates.get(protocol))
    percent = _number(rates.get(f"{protocol}PercentErr"))
    if percent is None and rate:
        failed = [_number(rates.get(protocol + k)) for k in ("4xx", "5xx", "Err", "NoResponse")]
        if any(f is not None for f in failed):
            percent = 100.0 * sum(f or 0.0 for f in failed) / rate
    errors = _error_responses(protocol, responses)
    if protocol == "tcp" and percent is None and responses:
        flagged = sum(_number(share) or 0.0 for detail in responses.values() if isinstance(detail, dict)
                      for flag, share in (detail.get("flags") or {}).items() if flag != "-")
        percent = min(flagged, 100.0)
    if percent is None and rate is not None and protocol in ("http", "grpc"):
        percent = 0.0                       # Kiali omits PercentErr when nothing failed
    return _Traffic(protocol, rate, percent, errors)


def _error_responses(protocol: str, responses: dict[str, Any]) -> tuple[str, ...]:
    """The failing response codes with their Envoy flags, most frequent first ("503 UH", "gRPC 14 UNAVAILABLE")."""
    found: list[tuple[float, str]] = []
    for code, detail in responses.items():
        detail = detail if isinstance(detail, dict) else {}
        flags = {str(f): _number(s) or 0.0 for f, s in (detail.get("flags") or {}).items()}
        failing_flags = [f for f in flags if f != "-"]
        if protocol == "grpc":
            failed = str(code) not in ("0", "-")
            name = f"gRPC {code} {GRPC_CODES.get(str(code), '')}".rstrip()
        elif protocol == "tcp":
            failed = bool(failing_flags)
            name = "TCP"
        else:
            failed = str(code) == "0" or str(code)[:1] in ("4", "5")
            name = "no response" if str(code) == "0" else str(code)
        if not failed:
            continue
        share = sum(flags.values()) if flags else 0.0
        found.append((share, " ".join([name, *sorted(failing_flags)])))
    return tuple(text for _, text in sorted(found, key=lambda item: (-item[0], item[1])))


def _merge(parts: list[_Traffic]) -> _Traffic:
    """Several edges for one pair (protocols, service-node hops): rates add up, errors weigh by rate."""
    if len(parts) == 1:
        return parts[0]
    protocol = "/".join(dict.fromkeys(p.protocol for p in parts if p.protocol))
    rated = [p for p in parts if p.rate is not None]
    if any(p.protocol != "tcp" for p in rated):
        rated = [p for p in rated if p.protocol != "tcp"]      # requests/s and bytes/s do not add up
    rate = sum(p.rate or 0.0 for p in rated) if rated else None
    known = [p for p in rated if p.error_percent is not None and p.protocol != "tcp"]
    weight = sum(p.rate or 0.0 for p in known)
    percent = (sum((p.rate or 0.0) * (p.error_percent or 0.0) for p in known) / weight) if weight else None
    if percent is None:
        percent = next((p.error_percent for p in parts if p.error_percent is not None), None)
    errors = tuple(dict.fromkeys(e for p in parts for e in p.errors))
    return _Traffic(protocol, rate, percent, errors)
