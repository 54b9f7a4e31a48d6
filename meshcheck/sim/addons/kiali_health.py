"""The simulated Kiali's health of a namespace's apps, on the route and in the shape of each release.

Routes (kiali/kiali routing/routes.go): ``/api/namespaces/{namespace}/health`` up to v1.81
(handlers/health.go ``NamespaceHealth``), ``/api/clusters/health?namespaces=...`` from v1.82.0 on
(``ClustersHealth``), the older route then answering 404. ``type`` must be app, service or workload
("Bad request, query parameter 'type' must be one of ['app','service','workload']", 400).

Each app (pods' ``app`` label in the namespace) has ``workloadStatuses`` from its Deployments (desired =
spec.replicas, current = its pods, available = status.availableReplicas, syncedProxies = pods with a
ready istio-proxy, -1 without sidecars: models/health.go ``CastWorkloadStatus``) and ``requests``: the
rates of ``istio_requests_total`` by protocol and code, inbound and outbound (models/health.go
``aggregate``: gRPC calls by grpc_response_status, "0" for success; HTTP by response code). From
v2.22.0 each entry also carries the ``status`` the server computes (models/health.go
``CalculatedHealthStatus``), by the same rules as the UI (see meshcheck.addons.kiali_health).

Calls come from ``world.edges`` at the graph's rates (plain TCP hops are not requests); knobs of
``world.knobs("kiali")``: ``error_rates: {app: fraction}`` makes that share of the calls into an app fail
(gRPC status 14 UNAVAILABLE, HTTP 503), seen inbound by the app and outbound by its callers;
``unanswered_edges`` fail every call of the edge, as the graph shows them.
"""

from __future__ import annotations

import re
from typing import Any

from meshcheck.sim.addons import kiali_config
from meshcheck.sim.protocol import SimRequest, SimResponse
from meshcheck.sim.scenario import release
from meshcheck.sim.world import World

Obj = dict[str, Any]

CLUSTERS_HEALTH_SINCE = (1, 82)
STATUS_SINCE = (2, 22)
NAMESPACE_PATH = re.compile(r"^/kiali/api/namespaces/([^/]+)/health$")
CLUSTERS_PATH = "/kiali/api/clusters/health"
TYPES = ("app", "service", "workload")


def serves(world: World, path: str) -> bool:
    """Whether this Kiali release has the route: the namespace one before v1.82, the clusters one since."""
    modern = release(kiali_config.kiali_version(world.knobs("kiali"))) >= CLUSTERS_HEALTH_SINCE
    return path == CLUSTERS_PATH if modern else NAMESPACE_PATH.match(path) is not None


def handle(world: World, request: SimRequest) -> SimResponse:
    kind = request.arg("type") or "app"
    if kind not in TYPES:
        return SimResponse.json({"error": "Bad request, query parameter 'type' must be one of "
                                          "['app','service','workload']"}, 400)
    version = kiali_config.kiali_version(world.knobs("kiali"))
    match = NAMESPACE_PATH.match(request.path)
    if match:
        return SimResponse.json(app_health(world, match.group(1), version) if kind == "app" else {})
    names = [n for n in (request.arg("namespaces") or "").split(",") if n] or [world.namespace]
    by_namespace = {ns: app_health(world, ns, version) for ns in names} if kind == "app" else {}
    return SimResponse.json({"namespaceAppHealth": by_namespace} if by_namespace else {})


def app_health(world: World, namespace: str, version: str) -> Obj:
    """``NamespaceAppHealth``: each app of the namespace with its workloads and request rates."""
    from meshcheck.sim.addons.kiali import _protocol, _rate

    if namespace != world.namespace:
        return {}
    knobs = world.knobs("kiali")
    failing = {str(k): float(v) for k, v in (knobs.get("error_rates") or {}).items()}
    unanswered = {(str(a), str(b)) for a, b in knobs.get("unanswered_edges") or ()}
    apps: dict[str, Obj] = {}
    pods = world.of_kind("pods", namespace)
    for deployment in world.of_kind("deployments", namespace):
        app = (deployment["spec"]["template"]["metadata"].get("labels") or {}).get("app")
        if not app:
            continue
        mine = [p for p in pods if (p["metadata"].get("labels") or {}).get("app") == app]
        proxied = [p for p in mine if any(c.get("name") == "istio-proxy" for c in
                                          [*p["spec"].get("containers", []), *p["spec"].get("initContainers", [])])]
        synced = sum(1 for p in proxied if any(s.get("name") == "istio-proxy" and s.get("ready") for s in
                                               [*p["status"].get("containerStatuses", []),
                                                *p["status"].get("initContainerStatuses", [])]))
        entry = apps.setdefault(app, {"workloadStatuses": [], "requests": {"inbound": {}, "outbound": {},
                                                                           "healthAnnotations": {}}})
        entry["workloadStatuses"].append({
            "name": deployment["metadata"]["name"], "desiredReplicas": deployment["spec"].get("replicas", 1),
            "currentReplicas": len(mine), "availableReplicas": deployment["status"].get("availableReplicas", 0),
            "syncedProxies": synced if proxied else -1})
    for caller, callee in world.edges:
        protocol = _protocol(world, callee)
        if protocol == "tcp":
            continue
        rate = _rate(caller, callee)
        share = 1.0 if (caller, callee) in unanswered else failing.get(callee, 0.0)
        ok, bad = ("200", "503") if protocol == "http" else ("0", "14")
        for app, direction in ((callee, "inbound"), (caller, "outbound")):
            if app not in apps or (direction == "inbound" and (caller, callee) in unanswered):
                continue
            codes = apps[app]["requests"][direction].setdefault(protocol, {})
            codes[ok] = round(codes.get(ok, 0.0) + rate * (1 - share), 4)
            if share:
                codes[bad] = round(codes.get(bad, 0.0) + rate * share, 4)
    if release(version) >= STATUS_SINCE:
        for entry in apps.values():
            entry["status"] = _status(entry)
    return apps


def _status(entry: Obj) -> Obj:
    """What Kiali's server computes from v2.22.0: the worst of pods and error rates (default tolerances)."""
    worst, ratio, total = "Healthy", 0.0, 0.0
    order = {"Healthy": 1, "Not Ready": 2, "Degraded": 3, "Failure": 4}
    for w in entry["workloadStatuses"]:
        status = "Healthy"
        if w["desiredReplicas"] == 0:
            status = "Not Ready"
        elif w["availableReplicas"] == 0:
            status = "Failure"
        elif w["availableReplicas"] < w["desiredReplicas"] or 0 <= w["syncedProxies"] < w["desiredReplicas"]:
            status = "Degraded"
        worst = max(worst, status, key=order.__getitem__)
    for direction in ("inbound", "outbound"):
        for protocol, codes in entry["requests"][direction].items():
            all_calls = sum(codes.values())
            total += all_calls
            errors = sum(v for c, v in codes.items() if (protocol == "http" and c.startswith("5"))
                         or (protocol == "grpc" and c not in ("0", "-")))
            percent = 100 * errors / all_calls if all_calls else 0.0
            ratio = max(ratio, percent)
            status = "Failure" if percent >= 10 else ("Degraded" if percent > 0 else "Healthy")
            worst = max(worst, status, key=order.__getitem__)
    found: Obj = {"status": worst, "totalRequestRate": round(total, 4)}
    if ratio:
        found["errorRatio"] = round(ratio, 2)
    return found
