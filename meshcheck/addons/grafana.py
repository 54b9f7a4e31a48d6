"""Grafana client: health, data sources, a data source's health, and the dashboards by title.

Formats read from Grafana's HTTP API documentation and source (grafana/grafana):
- ``GET /api/health``: ``{"database": "ok", "version": "...", "commit": "..."}`` with 200, or
  ``"database": "failing"`` with 503; version and commit are left out when anonymous users may
  not see the version (pkg/api/http_server.go apiHealthHandler, healthResponse);
- ``GET /api/datasources``: a list of ``{"id", "uid", "orgId", "name", "type", "access", "url",
  "isDefault", "jsonData", "readOnly", ...}`` (docs developers/http_api/data_source.md);
- ``GET /api/datasources/uid/:uid/health`` (Grafana 9+; ``/api/datasources/:id/health`` is the
  deprecated twin): ``{"status": "OK"|"ERROR"|"UNKNOWN", "message": "...", "details": {...}}``,
  200 when OK and 400 otherwise (pkg/api/datasources.go checkDatasourceHealth). Prometheus says
  "Successfully queried the Prometheus API." or "<error> - There was an error returned querying
  the Prometheus API." (pkg/promlib/healthcheck.go, formerly pkg/tsdb/prometheus/healthcheck.go).
  Before Grafana 10 the Prometheus plugin had no backend health check and the route answers
  404 ``{"message": "Not found"}`` (pkg/api/plugins.go translatePluginRequestErrorToAPIError;
  grafana/grafana#65970); there the same test the UI ran, the query ``1+1``, is sent through the
  data source proxy ``/api/datasources/proxy/:id/api/v1/query``, which answers 502 when Grafana
  cannot reach Prometheus;
- ``GET /api/search?type=dash-db``: a list of hits ``{"id", "uid", "title", "uri", "url", "type",
  "tags", "folderUid", "folderTitle", ...}``; folder fields are left out for the General folder
  (pkg/services/search/model/model.go Hit; docs developers/http_api/folder_dashboard_search.md).

Istio's add-on provisions the data source "Prometheus" (url http://prometheus:9090) and its
dashboards in folder "istio", and lets anonymous users in as Admin, so no credentials are needed
(istio/istio samples/addons/grafana.yaml).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests

from meshcheck.endpoints import Endpoint
from meshcheck.errors import AddonError

HEALTH_PATH = "/api/health"
DATASOURCES_PATH = "/api/datasources"
SEARCH_PATH = "/api/search"


@dataclass(frozen=True)
class Health:
    database: str
    version: str
    status: int
    detail: str = ""              # the body, when an error answer was not Grafana's JSON


@dataclass(frozen=True)
class Datasource:
    id: int
    uid: str
    name: str
    type: str
    url: str
    is_default: bool


@dataclass(frozen=True)
class DatasourceHealth:
    status: str                   # OK, ERROR, UNKNOWN
    message: str
    route: str                    # which request judged it, for the report

    @property
    def ok(self) -> bool:
        return self.status == "OK"


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    folder: str
    url: str


def health(endpoint: Endpoint) -> Health:
    """Read /api/health, whose 503 still carries the JSON that says the database is failing.

    An error answer that is not JSON (a proxy's 502/503 page) is kept as the detail of an
    unhealthy result rather than raised, so that a wait can look again.
    """
    response = endpoint.get(HEALTH_PATH, headers={"Accept": "application/json"})
    if response.status_code != 200:
        try:
            response.json()
        except ValueError:
            return Health("unknown", "", response.status_code, " ".join(response.text.split())[:160])
    payload = _json(response, HEALTH_PATH, endpoint)
    return parse_health(payload, response.status_code)


def datasources(endpoint: Endpoint) -> tuple[Datasource, ...]:
    return parse_datasources(endpoint.get_json(DATASOURCES_PATH))


def dashboards(endpoint: Endpoint) -> tuple[Dashboard, ...]:
    """Every dashboard Grafana lists (up to 5000, the API's maximum page)."""
    return parse_search(endpoint.get_json(SEARCH_PATH, {"type": "dash-db", "limit": 5000}))


def datasource_health(endpoint: Endpoint, source: Datasource) -> DatasourceHealth:
    """Ask Grafana to test the data source, falling back to a proxied query before Grafana 10."""
    route = f"{DATASOURCES_PATH}/uid/{source.uid}/health" if source.uid \
        else f"{DATASOURCES_PATH}/{source.id}/health"
    response = endpoint.get(route, headers={"Accept": "application/json"})
    if response.status_code == 404:
        return _proxied_query(endpoint, source)
    return parse_datasource_health(_json(response, route, endpoint), response.status_code, route)


def _proxied_query(endpoint: Endpoint, source: Datasource) -> DatasourceHealth:
    route = f"{DATASOURCES_PATH}/proxy/{source.id}/api/v1/query"
    response = endpoint.get(route, params={"query": "1+1"}, headers={"Accept": "application/json"})
    if response.status_code == 200:
        try:
            answered = response.json().get("status") == "success"
        except (ValueError, AttributeError):
            answered = False
        if answered:
            return DatasourceHealth("OK", "Prometheus answered the query 1+1 through Grafana's "
                                          "data source proxy", route)
    body = " ".join(response.text.split())[:160] or "(empty body)"
    return DatasourceHealth(
        "ERROR", f"Grafana's data source proxy answered {response.status_code} to the query 1+1: {body}", route)


def prometheus_datasource(sources: Sequence[Datasource]) -> Datasource | None:
    """The Prometheus data source dashboards use: the default one, else "Prometheus", else the first."""
    candidates = [s for s in sources if s.type == "prometheus"]
    for test in (lambda s: s.is_default, lambda s: s.name.lower() == "prometheus"):
        chosen = next((s for s in candidates if test(s)), None)
        if chosen:
            return chosen
    return candidates[0] if candidates else None


# --- parsing ---------------------------------------------------------------------------------

def _fail(path: str, expected: str, seen: Any) -> AddonError:
    shown = " ".join(repr(seen).split())[:120]
    return AddonError(f"grafana answered GET {path} with an unexpected shape: expected {expected}, "
                      f"saw {shown}; check that the grafana Service fronts Grafana 9 or later")


def _json(response: requests.Response, path: str, endpoint: Endpoint) -> Any:
    try:
        return response.json()
    except ValueError:
        body = " ".join(response.text.split())[:120]
        raise AddonError(f"grafana answered GET {path} with {response.status_code} and a body that is not "
                         f"JSON ({endpoint.via}): {body!r}; check the grafana pod's logs") from None


def parse_health(payload: Any, status: int = 200) -> Health:
    if not isinstance(payload, dict) or "database" not in payload:
        raise _fail(HEALTH_PATH, 'an object with "database"', payload)
    return Health(str(payload["database"]), str(payload.get("version") or ""), status)


def parse_datasources(payload: Any) -> tuple[Datasource, ...]:
    if not isinstance(payload, list):
        raise _fail(DATASOURCES_PATH, "a list of data sources", payload)
    found = []
    for item in payload:
        if not isinstance(item, dict) or "type" not in item or "name" not in item:
            raise _fail(DATASOURCES_PATH, "each data source to have a name and a type", item)
        found.append(Datasource(int(item.get("id") or 0), str(item.get("uid") or ""), str(item["name"]),
                                str(item["type"]), str(item.get("url") or ""), bool(item.get("isDefault"))))
    return tuple(found)


def parse_datasource_health(payload: Any, status: int, route: str) -> DatasourceHealth:
    """A health answer: the plugin's status and message, or Grafana's own error message."""
    if isinstance(payload, dict) and "status" in payload:
        return DatasourceHealth(str(payload["status"]).upper(), str(payload.get("message") or ""), route)
    if isinstance(payload, dict) and "message" in payload:
        return DatasourceHealth("ERROR", f"Grafana answered {status}: {payload['message']}", route)
    raise _fail(route, 'an object with "status" and "message"', payload)


def parse_search(payload: Any) -> tuple[Dashboard, ...]:
    if not isinstance(payload, list):
        raise _fail(SEARCH_PATH, "a list of search hits", payload)
    found = []
    for item in payload:
        if not isinstance(item, dict) or "title" not in item:
            raise _fail(SEARCH_PATH, "each hit to have a title", item)
        if item.get("type", "dash-db") != "dash-db":
            continue
        found.append(Dashboard(str(item.get("uid") or ""), str(item["title"]),
                               str(item.get("folderTitle") or "General"), str(item.get("url") or "")))
    return tuple(found)
