"""Counters over time for the simulated Prometheus: ``rate`` and ``increase`` over a range, and the series
as they stand at any moment, with the storefront's served requests and a stopped load generator.

``meshcheck.sim.addons.promql`` evaluates instant selectors and ``sum``/``count`` over the series as they
stand now. The load layer also asks how fast a counter grew: ``sum(rate(istio_requests_total{...}[5m]))``.
A range function is evaluated the way its definition reads (prometheus/prometheus
docs/querying/functions.md): ``increase(v[d])`` is how much each counter grew over the last ``d``,
``rate(v[d])`` that growth per second; both drop the metric name; their argument must be a range vector
selector (docs/querying/basics.md "Range Vector Selectors", durations like ``30s``, ``5m``, ``1h``).
The simulator knows each counter at any moment, so growth is the difference between now and ``d`` ago
(Prometheus extrapolates between scraped samples; the simulated counters grow steadily, so the two
agree), and a series that did not exist ``d`` ago grew from zero.

The series at a moment: the simulated Prometheus's own (``prometheus.series``, Istio's counters of the
steady background traffic, computed from the clock), with the clock held at the moment the load
generator stopped when it did (``meshcheck.sim.traffic``), plus ``istio_requests_total`` for the
requests the storefront served, as the frontend's sidecar reports them (``reporter="destination"``,
from the ingress gateway's workload, per response code). The prometheus knob ``unreported: [workload]``
leaves out what those workloads' own proxies report as callees (``reporter="destination"``), as a
Telemetry resource that disables their server-side metrics does; their callers still report the calls.
"""

from __future__ import annotations

import re
from typing import Any

from meshcheck.sim import traffic
from meshcheck.sim.addons import promql
from meshcheck.sim.scenario import duration
from meshcheck.sim.world import World

Series = promql.Series

_RANGE = re.compile(
    r"^\s*(?:(?P<agg>sum|count)\s*(?:by\s*\((?P<by1>[^)]*)\))?\s*\(\s*)?"
    r"(?P<fn>rate|increase)\s*\(\s*(?P<selector>.+?)\s*\[\s*(?P<range>\d+[smhd])\s*\]\s*\)\s*"
    r"(?(agg)\)\s*(?:by\s*\((?P<by2>[^)]*)\))?)\s*$"
)
_FUNCTION = re.compile(r"\b(rate|increase|irate|delta|deriv)\s*\(")
ENTRY, PROTOCOL = "frontend", "http"


class _At:
    """The world as it stood at ``moment``: everything of it, but its clock."""

    def __init__(self, world: World, moment: float) -> None:
        self._world, self._moment = world, moment

    def now(self) -> float:
        return self._moment

    def __getattr__(self, name: str) -> Any:
        return getattr(self._world, name)


def series_at(world: World, moment: float) -> list[Series]:
    """Every series the simulated Prometheus holds at ``moment``."""
    from meshcheck.sim.addons import prometheus  # it routes its queries here: imported when first used

    ledger = traffic.ledger(world)
    stopped = ledger.generator_stopped_at
    background = prometheus.series(_At(world, min(moment, stopped) if stopped is not None else moment))  # type: ignore[arg-type]
    silent = set(world.knobs("prometheus").get("unreported") or [])
    return [s for s in background + served_series(world, moment)
            if not (s[0].get("reporter") == "destination" and s[0].get("destination_workload") in silent)]


def served_series(world: World, moment: float) -> list[Series]:
    """``istio_requests_total`` of the requests the storefront had served by ``moment``, per response code."""
    from meshcheck.sim.addons import prometheus

    counts = traffic.ledger(world).by_code(moment)
    knobs = world.knobs("prometheus")
    if not counts or ENTRY not in world.workloads or knobs.get("istio_metrics", True) is False \
            or ENTRY in (knobs.get("targets_down") or []):
        return []  # no Istio metrics at all, or the frontend's proxy is not scraped
    gateway, gateway_namespace = _gateway(world)
    pods = prometheus._first_pod_by_app(world)
    template = prometheus._edge_series(world, gateway, ENTRY, PROTOCOL, "destination",
                                       prometheus._scrape_labels(pods.get(ENTRY)), 60.0)[0][0]
    labels = {**template, "source_workload_namespace": gateway_namespace,
              "source_principal": f"spiffe://cluster.local/ns/{gateway_namespace}/sa/{gateway}-service-account"}
    return [({**labels, "response_code": str(code)}, float(n)) for code, n in sorted(counts.items())]


def _gateway(world: World) -> tuple[str, str]:
    """The ingress gateway's workload and namespace: the classic istio-ingressgateway, else the Gateway
    API's istio-gateway-istio in the app's namespace."""
    for deployment in world.of_kind("deployments", world.istio_namespace):
        if deployment["metadata"]["name"] == "istio-ingressgateway":
            return "istio-ingressgateway", world.istio_namespace
    return "istio-gateway-istio", world.namespace


def evaluate(expr: str, world: World) -> list[Series]:
    """The instant vector of ``expr`` now: a range function over a selector (optionally aggregated), or
    anything ``promql`` evaluates, over the series as they stand now."""
    now = world.now()
    match = _RANGE.match(expr)
    if match is None:
        if _FUNCTION.search(expr):
            found = _FUNCTION.search(expr)
            assert found is not None
            raise promql.PromQLError(found.start() + 1, f"unexpected function {found[1]!r} in this position")
        return promql.evaluate(expr, series_at(world, now))
    selector = promql.parse(match["selector"])
    if not isinstance(selector, promql.Selector):
        raise promql.PromQLError(match.start("selector") + 1, "expected a range vector selector")
    window = duration(match["range"])
    before = {_key(labels): value for labels, value in selector.select(series_at(world, now - window))}
    grown: list[Series] = []
    for labels, value in selector.select(series_at(world, now)):
        increase = max(value - before.get(_key(labels), 0.0), 0.0)
        kept = {k: v for k, v in labels.items() if k != "__name__"}
        grown.append((kept, increase / window if match["fn"] == "rate" else increase))
    if not match["agg"]:
        return sorted(grown, key=lambda s: sorted(s[0].items()))
    by = tuple(n.strip() for n in (match["by1"] or match["by2"] or "").split(",") if n.strip())
    groups: dict[tuple[str, ...], list[float]] = {}
    for labels, value in grown:
        groups.setdefault(tuple(labels.get(n, "") for n in by), []).append(value)
    return [({n: v for n, v in zip(by, key, strict=True) if v}, sum(values) if match["agg"] == "sum"
             else float(len(values))) for key, values in sorted(groups.items())]


def _key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))
