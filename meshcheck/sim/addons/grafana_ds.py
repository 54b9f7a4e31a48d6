"""The simulated Grafana's query API: ``POST /api/ds/query``, a dashboard panel's way to its data source.

Shapes from grafana/grafana: the request ``{"queries": [{"refId", "datasource": {"uid"}, "expr",
"instant", ...}], "from", "to"}`` and the answer ``{"results": {"<refId>": {"status": 200, "frames":
[...]}}}`` (docs/sources/developers/http_api/data_source.md "Query a data source"); a failed query keeps
its result with ``"error"``, ``"errorSource"`` and its status, and makes the whole answer a 400
(pkg/api/ds_query.go toJsonStreamingResponse); a body that is not JSON is 400 "bad request data", an
unknown data source 404 "Data source not found" (QueryMetricsV2, handleQueryMetricsError). A Prometheus
instant query's vector comes back one frame per series: a ``Time`` field and a ``Value`` field carrying
the series' labels, ``meta.type`` "numeric-multi", ``custom.resultType`` "vector", values as one
array per field, times in epoch milliseconds (pkg/promlib/converter/testdata/prom-vector-frame.jsonc).

The data source queries the simulated Prometheus the way Grafana's backend does (its query API), so
it answers what Prometheus would. Failures: a data source whose URL does not resolve (the grafana knob
``datasource: broken``) fails with Go's DNS error, and ``query: timeout`` makes every query time out
as Grafana's HTTP client words it, while the data source's health check still passes.
"""

from __future__ import annotations

import json
from typing import Any

from meshcheck.sim.addons import grafana, promql, promrange
from meshcheck.sim.protocol import SimRequest, SimResponse
from meshcheck.sim.world import World

Obj = dict[str, Any]
PATH = "/api/ds/query"


def handle(world: World, request: SimRequest) -> SimResponse:
    try:
        body = json.loads(request.body.decode("utf-8", "replace") or "null")
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("queries"), list) or not body["queries"]:
        return SimResponse.json({"message": "bad request data"}, 400)
    results: dict[str, Obj] = {}
    for query in body["queries"]:
        ref = str(query.get("refId") or "A")
        uid = (query.get("datasource") or {}).get("uid")
        source = grafana._find(world, uid, None) if uid else None
        if source is None:
            return SimResponse.json({"message": "Data source not found"}, 404)
        results[ref] = _result(world, source, ref, str(query.get("expr") or ""))
    failed = any("error" in result for result in results.values())
    return SimResponse.json({"results": results}, 400 if failed else 200)


def _error(message: str, status: int = 500) -> Obj:
    return {"error": message, "errorSource": "downstream", "status": status, "frames": []}


def _result(world: World, source: Obj, ref: str, expr: str) -> Obj:
    url = f"{source['url']}/api/v1/query"
    if source["type"] != "prometheus":
        return _error(f"the simulated {source['type']} data source answers no query", 400)
    if source["url"] == grafana.BROKEN_URL:
        host = grafana.BROKEN_URL.split("//")[1].split(":")[0]
        return _error(f'Post "{url}": dial tcp: lookup {host} on 10.96.0.10:53: no such host')
    if world.knobs("grafana").get("query") == "timeout":
        return _error(f'Post "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)')
    try:
        vector = promrange.evaluate(expr, world)
    except promql.PromQLError as exc:
        return _error(f'bad_data: invalid parameter "query": {exc}', 400)
    stamp = int(world.now() * 1000)
    return {"status": 200, "frames": [_frame(ref, expr, labels, value, stamp) for labels, value in vector]}


def _frame(ref: str, expr: str, labels: dict[str, str], value: float, stamp: int) -> Obj:
    number: Any = value if value == value and abs(value) != float("inf") else None
    frame: Obj = {
        "schema": {
            "refId": ref,
            "meta": {"type": "numeric-multi", "typeVersion": [0, 1], "custom": {"resultType": "vector"},
                     "executedQueryString": f"Expr: {expr}\nStep: 15s"},
            "fields": [
                {"name": "Time", "type": "time", "typeInfo": {"frame": "time.Time"}},
                {"name": "Value", "type": "number", "typeInfo": {"frame": "float64"}, "labels": labels},
            ],
        },
        "data": {"values": [[stamp], [number]]},
    }
    if number is None:
        kind = "NaN" if value != value else ("Inf" if value > 0 else "NegInf")
        frame["data"]["entities"] = [None, {kind: [0]}]
    return frame
