"""The simulated Kiali's configuration, and what Kiali makes of it: its tracing settings, whether it
reaches its tracing backend, and its istio status.

The ``kiali`` ConfigMap is written as Istio's samples/addons/kiali.yaml ships it for the Kiali
version (istio/istio at 1.17.2 ships v1.63.1 with no tracing section; from 1.22.0, v1.82.0, it
ships ``tracing: {enabled: false}``), abridged to its main sections, then edited the way a user
who set the tracing link does: ``url``/``in_cluster_url`` in Kiali 1.x, ``external_url``/
``internal_url`` in 2.x, and ``enabled: true`` where the shipped file or the release's default
has it off. The simulated Kiali then reads that ConfigMap back, as the server reads its
config.yaml (kiali/kiali config/config.go: ``enabled`` defaults to true before v1.88.0, the
in-cluster URL to ``http://tracing.istio-system:16685/jaeger``, and v2 reads the old keys as
deprecated aliases that win).

Whether Kiali reaches its tracing backend is a simple reading of the in-cluster URL: a cluster DNS
name (a bare name resolves in Kiali's namespace) whose Service selects the tracing pods on a port
that leads to the API Kiali speaks, with the tracing pods ready. Kiali speaks Jaeger's query API
(jaeger/client.go at v1.63.0: ``GetServiceStatus`` calls ``GetServices``), over gRPC unless
``use_grpc: false`` (config.go: ``UseGRPC: true`` by default): Jaeger's gRPC query port 16685, or its
HTTP query port 16686 without gRPC. A Zipkin server speaks neither, so Kiali pointed at Zipkin (as
the lab did) always finds its tracing backend Unreachable, while its tracing link works.

The istio status follows business/istio_status.go: Istio's components by their ``app``
label, then the add-ons Kiali queries (prometheus, grafana, tracing, custom dashboards); before
v1.84.0 only the entries with a problem, from v1.84.0 all of them; the tracing entry is "jaeger"
before v1.75.0; ``is_core`` is ``isCore`` from v2.13.0, and entries carry ``cluster`` from v2.8.0
(kubernetes/istio.go ``ComponentStatus``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml

from meshcheck.sim.scenario import release
from meshcheck.sim.world import World

Obj = dict[str, Any]

DEFAULT_VERSION = "v1.76.0"  # the add-on of Istio 1.20
V2_VERSION = "v2.4.0"  # what "v2.x" stands for
DEFAULT_INTERNAL_URL = "http://tracing.istio-system:16685/jaeger"
CLUSTER = "Kubernetes"
# The tracing pods' ports that answer Kiali's queries, over gRPC and over HTTP: Zipkin answers neither.
QUERY_PORTS = {("jaeger", True): (16685,), ("jaeger", False): (16686,), ("zipkin", True): (), ("zipkin", False): ()}


def kiali_version(knobs: dict[str, Any]) -> str:
    """The Kiali version a scenario asks for, as Kiali prints it ("v1.63.1")."""
    version = str(knobs.get("version") or DEFAULT_VERSION)
    version = version if version.startswith("v") else "v" + version
    return V2_VERSION if version.lower() in ("v2", "v2.x") else version


def config_map_data(knobs: dict[str, Any], namespace: str) -> dict[str, str]:
    """The ``data`` of ConfigMap ``kiali``: config.yaml as shipped, with the scenario's tracing URLs."""
    version = kiali_version(knobs)
    v2 = release(version) >= (2,)
    deployment: Obj = {"instance_name": "kiali", "namespace": namespace, "version_label": version,
                       "view_only_mode": False}
    if v2:
        deployment["cluster_wide_access"] = True
    else:
        deployment["accessible_namespaces"] = ["**"]
    server: Obj = {"port": 20001, "web_root": "/kiali"}
    if release(version) >= (1, 82):
        server["observability"] = {"metrics": {"enabled": True, "port": 9090}}
    else:
        server.update(metrics_enabled=True, metrics_port=9090)
    external: Obj = {"custom_dashboards": {"enabled": True}, "istio": {"root_namespace": namespace}}
    tracing = _tracing_section(knobs, namespace, version)
    if tracing:
        external["tracing"] = tracing
    config = {
        "auth": {"openid": {}, "openshift": {"client_id_prefix": "kiali"}, "strategy": "anonymous"},
        "deployment": deployment,
        "external_services": external,
        "istio_namespace": namespace,
        "login_token": {"signing_key": "CHANGEME00000000"},
        "server": server,
    }
    return {"config.yaml": yaml.safe_dump(config, sort_keys=True)}


def _tracing_section(knobs: dict[str, Any], namespace: str, version: str) -> Obj:
    shipped_off = release(version) >= (1, 82)
    url = knobs.get("tracing_url", f"http://tracing.{namespace}/jaeger")
    if url is None:  # tracing left off: as shipped, or switched off by hand where it defaults to on
        return {"enabled": False}
    external_key, internal_key = ("external_url", "internal_url") if release(version) >= (2,) else (
        "url", "in_cluster_url")
    section: Obj = {"enabled": True} if shipped_off else {}
    if url:
        section[external_key] = str(url)
    if knobs.get("in_cluster_url"):
        section[internal_key] = str(knobs["in_cluster_url"])
    if "use_grpc" in knobs:
        section["use_grpc"] = bool(knobs["use_grpc"])
    return section


@dataclass(frozen=True)
class Tracing:
    enabled: bool
    external_url: str
    internal_url: str
    use_grpc: bool = True


def tracing(world: World) -> Tracing:
    """Kiali's tracing settings as the server reads them from its ConfigMap (or the knobs, without one)."""
    knobs = world.knobs("kiali")
    version = kiali_version(knobs)
    config_map = next((c for c in world.of_kind("configmaps", world.istio_namespace)
                       if c["metadata"]["name"] == "kiali"), None)
    data = config_map["data"] if config_map else config_map_data(knobs, world.istio_namespace)
    config = yaml.safe_load(data.get("config.yaml") or "") or {}
    section = ((config.get("external_services") or {}).get("tracing")) or {}
    v2 = release(version) >= (2,)
    external = section.get("url") or (section.get("external_url") if v2 else "")
    internal = section.get("in_cluster_url") or (section.get("internal_url") if v2 else "")
    enabled = section.get("enabled", release(version) < (1, 88))
    return Tracing(bool(enabled), str(external or ""), str(internal or DEFAULT_INTERNAL_URL),
                   bool(section.get("use_grpc", True)))


def reaches_tracing(world: World, url: str, use_grpc: bool = True) -> bool:
    """Whether Kiali, querying ``url`` from its namespace, gets an answer from the tracing backend."""
    if world.knobs("tracing").get("available", True) is False or "tracing" not in world.addons:
        return False
    parts = urlsplit(url)
    labels = (parts.hostname or "").split(".")
    if len(labels) > 2 and labels[2] != "svc":
        return False
    name, namespace = labels[0], labels[1] if len(labels) > 1 else world.istio_namespace
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    jaeger = next((d for d in world.of_kind("deployments", world.istio_namespace)
                   if d["metadata"]["name"] in ("jaeger", "zipkin")), None)
    pods = jaeger["spec"]["selector"]["matchLabels"] if jaeger else None
    answering = QUERY_PORTS[(world.knobs("tracing").get("backend", "jaeger"), use_grpc)]
    for service in world.of_kind("services", namespace):
        if service["metadata"]["name"] != name or service["spec"].get("selector") != pods:
            continue
        return any(p["port"] == port and p.get("targetPort") in answering for p in service["spec"]["ports"])
    return False


def istio_status(world: World) -> list[Obj]:
    """Kiali's GET /api/istio/status for the world's Kiali version."""
    version = kiali_version(world.knobs("kiali"))
    v = release(version)
    entries: list[tuple[str, str, bool]] = []
    deployments = world.of_kind("deployments", world.istio_namespace)
    for app, core in (("istio-egressgateway", False), ("istio-ingressgateway", True), ("istiod", True)):
        found = next((d for d in deployments if (d["metadata"].get("labels") or {}).get("app") == app), None)
        status = "NotFound" if found is None else (
            "Healthy" if found["status"].get("availableReplicas") == found["spec"]["replicas"] else "Unhealthy")
        entries.append((found["metadata"]["name"] if found else app, status, core))
    prometheus = _addon_up(world, "prometheus")
    entries.append(("prometheus", "Healthy" if prometheus else "Unreachable", False))
    entries.append(("grafana", "Healthy" if _addon_up(world, "grafana") else "Unreachable", False))
    settings = tracing(world)
    if settings.enabled:
        name = "tracing" if v >= (1, 75) else "jaeger"
        answers = reaches_tracing(world, settings.internal_url, settings.use_grpc)
        entries.append((name, "Healthy" if answers else "Unreachable", False))
    entries.append(("custom dashboards", "Healthy" if prometheus else "Unreachable", False))
    if v < (1, 84):
        entries = [e for e in entries if e[1] != "Healthy"]
    core_key = "isCore" if v >= (2, 13) else "is_core"
    listed = []
    for name, status, core in entries:
        entry: Obj = {"name": name, "status": status, core_key: core}
        if v >= (2, 8):
            entry = {"cluster": CLUSTER, **entry}
        listed.append(entry)
    return listed


def _addon_up(world: World, addon: str) -> bool:
    return addon in world.addons and world.knobs(addon).get("available", True) is not False and (
        world.knobs(addon).get("installed", True) is not False)
