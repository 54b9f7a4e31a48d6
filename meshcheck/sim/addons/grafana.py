"""The simulated Grafana of Istio's add-on: health, data sources, their health, proxy and search.

What it serves and where the shapes come from (grafana/grafana unless said otherwise):
- ``/api/health``: ``{"commit", "database": "ok", "version"}`` (pkg/api/http_server.go);
- ``/api/datasources``: the list Istio's add-on provisions, "Prometheus" (http://prometheus:9090,
  default) and "Loki" (http://loki:3100), with the uids Grafana derives for provisioned data
  sources without one, "P" + the first 8 bytes of sha256(name) in upper-case hex
  (pkg/services/provisioning/datasources safeUIDFromName; istio/istio samples/addons/grafana.yaml);
- ``/api/datasources/uid/:uid/health`` and ``/api/datasources/:id/health``: 200 ``{"status": "OK",
  "message": "Successfully queried the Prometheus API.", "details": {...}}`` or 400 with
  ``"status": "ERROR"`` and "<error> - There was an error returned querying the Prometheus API."
  (pkg/api/datasources.go checkDatasourceHealth, pkg/promlib/healthcheck.go); before Grafana 10
  the Prometheus plugin has no backend health check: 404 ``{"message": "Not found"}``
  (pkg/api/plugins.go translatePluginRequestErrorToAPIError, grafana/grafana#65970);
- ``/api/datasources/proxy/:id/*`` and ``/proxy/uid/:uid/*``: forwarded to the simulated
  Prometheus (the query ``1+1`` the UI's test sends answers a scalar); an unreachable data source
  answers 502 with an empty body, as Go's reverse proxy does;
- ``/api/search``: hits ``{"id", "uid", "title", "uri", "url", "slug", "type", "tags", "isStarred",
  "folderId", "folderUid", "folderTitle", "folderUrl", "sortMeta"}`` (+ ``orgId``, ``isDeleted`` in
  newer releases) filtered by ``type``, ``query`` (title substring), ``dashboardUIDs``,
  ``folderUIDs``, ``limit`` (pkg/services/search/model/model.go Hit,
  docs developers/http_api/folder_dashboard_search.md);
- any other ``/api`` path: 404 ``{"message": "Not found"}``.

Istio's dashboards (folder "istio") and their uids: fixed up to Istio 1.21 (read from
manifests/addons/dashboards/*.json: G8wLrJIZk, 3--MLVZZk, vu8e0VWZk, LJ_uJAvmk, 7PAV7ctGz,
UbsSZTDik), the md5 of the dashboard's file name in newer releases (manifests/addons/dashboards/
README.md), plus the Ztunnel dashboard from 1.23 (manifests/addons/dashboards/ztunnel.libsonnet).

A Grafana deployed through the API answers from what it was provisioned with instead: the data
sources and dashboards of the ConfigMaps its Deployment mounts (``grafana_provisioning``).

Knobs of a built world (``world.knobs("grafana")``): ``missing_dashboards: [title, ...]``, ``datasource:
"broken"|"absent"``, ``uids: "fixed"|"hashed"`` (default hashed), ``ztunnel: true|false`` (default:
Istio 1.23 or later), ``version`` (default: the tag of the grafana image the simulated cluster
runs, else "11.3.1", the add-on's image in recent Istio).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from meshcheck.sim.addons import grafana_provisioning
from meshcheck.sim.addons import prometheus as sim_prometheus
from meshcheck.sim.protocol import SimRequest, SimResponse
from meshcheck.sim.world import World

Obj = dict[str, Any]

DEFAULT_VERSION = "11.3.1"
COMMIT = "9e5b4d2a3c"
FOLDER_UID = "de5kq1x3hvvgga"
BROKEN_URL = "http://prometheus.monitoring:9090"
PROM_OK = "Successfully queried the Prometheus API."
PROM_ERROR = "There was an error returned querying the Prometheus API."

# title -> (fixed uid up to Istio 1.21, file name whose md5 is the uid later)
DASHBOARDS: dict[str, tuple[str | None, str]] = {
    "Istio Control Plane Dashboard": ("3--MLVZZk", "pilot-dashboard.json"),
    "Istio Mesh Dashboard": ("G8wLrJIZk", "istio-mesh.json"),
    "Istio Performance Dashboard": ("vu8e0VWZk", "istio-performance-dashboard.json"),
    "Istio Service Dashboard": ("LJ_uJAvmk", "istio-service-dashboard.json"),
    "Istio Wasm Extension Dashboard": ("7PAV7ctGz", "istio-extension-dashboard.json"),
    "Istio Workload Dashboard": ("UbsSZTDik", "istio-workload-dashboard.json"),
    "Istio Ztunnel Dashboard": (None, "ztunnel.json"),
}

_HEALTH_ROUTE = re.compile(r"^/api/datasources/(?:uid/(?P<uid>[^/]+)|(?P<id>\d+))/health$")
_PROXY_ROUTE = re.compile(r"^/api/datasources/proxy/(?:uid/(?P<uid>[^/]+)|(?P<id>\d+))(?P<rest>/.*)?$")


def handle(world: World, request: SimRequest) -> SimResponse:
    """Answer one request to the grafana Service (port 3000) as Grafana would."""
    path = request.path.rstrip("/") or "/"
    if path == "/api/ds/query" and request.method == "POST":
        from meshcheck.sim.addons import grafana_ds  # a panel's queries (it imports this module)

        return grafana_ds.handle(world, request)
    if request.method not in ("GET", "HEAD"):
        return _not_found() if path.startswith("/api/") else _html_not_found()
    if path == "/api/health":
        return _pretty({"commit": COMMIT, "database": "ok", "version": _version(world)})
    if path == "/api/datasources":
        return SimResponse.json(datasources(world))
    if path == "/api/search":
        return SimResponse.json(search(world, request))
    health = _HEALTH_ROUTE.match(path)
    if health:
        return _datasource_health(world, health.group("uid"), health.group("id"))
    proxy = _PROXY_ROUTE.match(path)
    if proxy:
        return _proxy(world, request, proxy.group("uid"), proxy.group("id"), proxy.group("rest") or "/")
    return _not_found() if path.startswith("/api") else _html_not_found()


# --- version and small responses ----------------------------------------------------------

def _version(world: World) -> str:
    return world.addon_version("grafana", "grafana/grafana", DEFAULT_VERSION)


def _major(world: World) -> int:
    try:
        return int(_version(world).lstrip("v").split(".")[0])
    except ValueError:
        return 99


def _pretty(payload: Obj, status: int = 200) -> SimResponse:
    body = json.dumps(payload, indent=2).encode()
    return SimResponse(status, body, {"Content-Type": "application/json; charset=UTF-8"})


def _not_found() -> SimResponse:
    return SimResponse.json({"message": "Not found"}, 404)


def _html_not_found() -> SimResponse:
    page = "<!doctype html><html lang=\"en\"><head><title>Grafana</title></head><body></body></html>"
    return SimResponse.text(page, 404, "text/html; charset=UTF-8")


# --- data sources --------------------------------------------------------------------------

def _provisioned_uid(name: str) -> str:
    return "P" + hashlib.sha256(name.encode()).hexdigest()[:16].upper()


def datasources(world: World) -> list[Obj]:
    """The add-on's provisioned data sources: from its ConfigMaps when deployed, else as the add-on ships
    them, bent by the ``datasource`` knob."""
    provisioned = grafana_provisioning.read(world)
    if provisioned is not None:
        return [
            _datasource(index, str(d.get("name", "")), str(d.get("type", "")), str(d.get("url", "")),
                        default=bool(d.get("isDefault")), uid=d.get("uid"),
                        interval=str((d.get("jsonData") or {}).get("timeInterval", "")))
            for index, d in enumerate(provisioned.datasources, start=1)
        ]
    mode = world.knobs("grafana").get("datasource")
    found = []
    if mode != "absent":
        url = BROKEN_URL if mode == "broken" else "http://prometheus:9090"
        found.append(_datasource(1, "Prometheus", "prometheus", url, default=True, interval="15s"))
    found.append(_datasource(2, "Loki", "loki", "http://loki:3100", default=False, interval="5s"))
    return found


def _datasource(ident: int, name: str, kind: str, url: str, *, default: bool, interval: str,
                uid: str | None = None) -> Obj:
    return {
        "id": ident, "uid": uid or _provisioned_uid(name), "orgId": 1, "name": name, "type": kind,
        "typeName": name, "typeLogoUrl": f"public/app/plugins/datasource/{kind}/img/{kind}_logo.svg",
        "access": "proxy", "url": url, "user": "", "database": "", "basicAuth": False,
        "isDefault": default, "jsonData": {"timeInterval": interval}, "readOnly": False,
    }


def _find(world: World, uid: str | None, ident: str | None) -> Obj | None:
    for source in datasources(world):
        if (uid is not None and source["uid"] == uid) or (ident is not None and str(source["id"]) == ident):
            return source
    return None


def _datasource_health(world: World, uid: str | None, ident: str | None) -> SimResponse:
    source = _find(world, uid, ident)
    if source is None:
        return SimResponse.json({"message": "Unable to load datasource metadata"}, 500)
    if source["type"] != "prometheus" or _major(world) < 10:
        return _not_found()           # no backend health check in this plugin / release
    failure = _failure(world, source["url"])
    if failure is not None:
        error = f'Post "{source["url"].rstrip("/")}/api/v1/query": {failure}'
        return SimResponse.json({"status": "ERROR", "message": f"{error} - {PROM_ERROR}"}, 400)
    details = {"application": "Prometheus", "features": {"rulerApiEnabled": False}}
    return SimResponse.json({"status": "OK", "message": PROM_OK, "details": details})


def _failure(world: World, url: str) -> str | None:
    """Why the data source at ``url`` does not answer Grafana (Go's error), or None when it does."""
    if url == BROKEN_URL:
        return f"dial tcp: lookup {BROKEN_URL.split('//')[1].split(':')[0]} on 10.96.0.10:53: no such host"
    provisioned = grafana_provisioning.read(world) if world.live else None
    if provisioned is None:
        return None
    return grafana_provisioning.unreachable(world, url, provisioned.namespace)


def _proxy(world: World, request: SimRequest, uid: str | None, ident: str | None, rest: str) -> SimResponse:
    source = _find(world, uid, ident)
    if source is None:
        return SimResponse.json({"message": "Unable to load datasource metadata"}, 500)
    if source["type"] != "prometheus" or _failure(world, source["url"]) is not None:
        return SimResponse(502, b"", {})
    if rest.rstrip("/") == "/api/v1/query" and (request.arg("query") or "").replace(" ", "") == "1+1":
        data = {"resultType": "scalar", "result": [round(world.now(), 3), "2"]}
        return SimResponse.json({"status": "success", "data": data})
    forwarded = SimRequest(request.method, rest, request.query, request.headers, request.body)
    return sim_prometheus.handle(world, forwarded)


# --- dashboards ----------------------------------------------------------------------------

def _istio_minor(world: World) -> int:
    try:
        return int(world.istio_version.lstrip("v").split(".")[1])
    except (IndexError, ValueError):
        return 99


def dashboards(world: World) -> list[Obj]:
    """The dashboards as search hits, sorted by title as Grafana sorts them: those provisioned from the
    deployed Grafana's ConfigMaps, else Istio's as the add-on ships them, bent by the knobs."""
    provisioned = grafana_provisioning.read(world)
    if provisioned is not None:
        ordered = sorted(provisioned.dashboards, key=lambda d: d.title)
        return [_hit(world, index, d.uid, d.title, d.folder) for index, d in enumerate(ordered, start=2)]
    knobs = world.knobs("grafana")
    missing = set(knobs.get("missing_dashboards") or [])
    fixed = knobs.get("uids", "hashed") == "fixed"
    ztunnel = knobs.get("ztunnel", _istio_minor(world) >= 23)
    hits = []
    for index, (title, (fixed_uid, file_name)) in enumerate(sorted(DASHBOARDS.items()), start=2):
        if title in missing or (fixed_uid is None and not ztunnel):
            continue
        uid = fixed_uid if fixed and fixed_uid else hashlib.md5(file_name.encode()).hexdigest()
        hits.append(_hit(world, index, uid, title))
    return hits


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _hit(world: World, ident: int, uid: str, title: str, folder: str = "istio") -> Obj:
    folder_uid = FOLDER_UID if folder == "istio" else hashlib.md5(folder.encode()).hexdigest()[:14]
    hit: Obj = {
        "id": ident, "uid": uid, "title": title, "uri": f"db/{_slug(title)}",
        "url": f"/d/{uid}/{_slug(title)}", "slug": "", "type": "dash-db", "tags": [], "isStarred": False,
        "folderId": 1, "folderUid": folder_uid, "folderTitle": folder,
        "folderUrl": f"/dashboards/f/{folder_uid}/{_slug(folder)}", "sortMeta": 0,
    }
    if _major(world) >= 11:
        hit["orgId"] = 1
        hit["isDeleted"] = False
    return hit


def _folder(world: World) -> Obj:
    hit: Obj = {"id": 1, "uid": FOLDER_UID, "title": "istio", "uri": "db/istio",
                "url": f"/dashboards/f/{FOLDER_UID}/istio", "slug": "", "type": "dash-folder",
                "tags": [], "isStarred": False, "sortMeta": 0}
    if _major(world) >= 11:
        hit["orgId"] = 1
        hit["isDeleted"] = False
    return hit


def search(world: World, request: SimRequest) -> list[Obj]:
    """Search hits: folders first, then dashboards, filtered as the search API filters them."""
    kind = request.arg("type")
    hits = ([] if kind == "dash-db" else [_folder(world)]) + ([] if kind == "dash-folder" else dashboards(world))
    text = (request.arg("query") or "").casefold()
    uids = set(request.query.get("dashboardUIDs") or [])
    folders = set(request.query.get("folderUIDs") or [])
    hits = [h for h in hits if text in h["title"].casefold()
            and (not uids or h["uid"] in uids)
            and (not folders or h.get("folderUid") in folders)]
    try:
        limit = min(int(request.arg("limit") or 1000), 5000)
    except ValueError:
        limit = 1000
    return hits[:limit]
