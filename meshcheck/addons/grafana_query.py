"""Asking Grafana to run a query through one of its data sources, as a dashboard panel does.

``POST /api/ds/query`` (grafana/grafana docs/sources/developers/http_api/data_source.md "Query a data
source"; pkg/api/ds_query.go) takes ``{"queries": [{"refId", "datasource": {"uid"}, ...the data
source's own fields}], "from", "to"}``, times as epoch milliseconds or relative ("now-5m"). For a
Prometheus data source the fields are those of its query model (``expr``, ``instant``, ``range``,
``intervalMs``, ``maxDataPoints``: public/app/plugins/datasource/prometheus types.ts PromQuery).
It answers ``{"results": {"<refId>": {"status", "frames": [...]}}}`` with 200, or with 400 when a query
failed, its result then carrying ``"error"`` (and ``"errorSource"``) (pkg/api/ds_query.go
toJsonStreamingResponse); a missing data source is 404 and other failures 500, with Grafana's
``{"message": ...}``. Each frame is a data frame: ``schema.fields`` (an instant Prometheus query gives a
``Time`` field and a ``Value`` field carrying the series' labels, ``meta.type`` "numeric-multi") and
``data.values``, one array per field (pkg/promlib/converter/testdata/prom-vector-frame.jsonc). Values
Go cannot put in JSON (NaN, ±Inf) are null there, named in ``data.entities``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meshcheck.addons.grafana import Datasource
from meshcheck.endpoints import Endpoint

DS_QUERY_PATH = "/api/ds/query"


@dataclass(frozen=True)
class GrafanaAnswer:
    """Grafana's answer to one query through a data source: the last value of each series, or its error."""

    source: str                  # the data source's name
    values: tuple[float, ...] = ()
    error: str = ""
    status: int = 200


def prometheus_query_body(source: Datasource, expr: str, window: str, ref: str = "A") -> dict[str, Any]:
    """An instant query of a Prometheus data source at "now", as a panel in instant mode sends it."""
    return {
        "queries": [{
            "refId": ref,
            "datasource": {"type": source.type, "uid": source.uid},
            "expr": expr,
            "instant": True,
            "range": False,
            "intervalMs": 15000,
            "maxDataPoints": 100,
        }],
        "from": f"now-{window}",
        "to": "now",
    }


def query_prometheus(endpoint: Endpoint, source: Datasource, expr: str, window: str) -> GrafanaAnswer:
    """Run ``expr`` through the data source; Grafana's own refusals become an answer with an error."""
    response = endpoint.request("POST", DS_QUERY_PATH, json=prometheus_query_body(source, expr, window),
                                headers={"Accept": "application/json"})
    try:
        payload = response.json()
    except ValueError:
        body = " ".join(response.text.split())[:160] or "(empty body)"
        return GrafanaAnswer(source.name, error=f"a body that is not JSON: {body!r}", status=response.status_code)
    return parse_answer(payload, response.status_code, source.name)


def parse_answer(payload: Any, status: int, source: str, ref: str = "A") -> GrafanaAnswer:
    """The values of every frame of the query's result (the last of each number field), or its error."""
    if not isinstance(payload, dict):
        return GrafanaAnswer(source, error=f"an answer that is not an object: {str(payload)[:120]!r}", status=status)
    result = (payload.get("results") or {}).get(ref) if isinstance(payload.get("results"), dict) else None
    if not isinstance(result, dict):
        said = payload.get("message") or payload.get("error") or f"no result {ref!r}"
        return GrafanaAnswer(source, error=str(said)[:240], status=status)
    if result.get("error"):
        return GrafanaAnswer(source, error=str(result["error"])[:240], status=int(result.get("status") or status))
    values: list[float] = []
    for frame in result.get("frames") or []:
        fields = ((frame.get("schema") or {}).get("fields")) or []
        columns = (frame.get("data") or {}).get("values") or []
        for spec, column in zip(fields, columns, strict=False):
            if spec.get("type") == "number" and column:
                last = column[-1]
                values.append(float(last) if isinstance(last, (int, float)) else float("nan"))
    return GrafanaAnswer(source, tuple(values), status=status)
