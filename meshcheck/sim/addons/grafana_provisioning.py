"""What a deployed Grafana provisions itself with, read from the ConfigMaps its Deployment mounts.

Istio's samples/addons/grafana.yaml ships Grafana with file provisioning (grafana/grafana
docs/sources/administration/provisioning): ConfigMap ``grafana`` holds ``datasources.yaml`` (mounted
under /etc/grafana/provisioning/datasources: Prometheus at http://prometheus:9090, Loki) and
``dashboardproviders.yaml`` (mounted under /etc/grafana/provisioning/dashboards: providers ``istio``
and ``istio-services``, folder ``istio``, reading /var/lib/grafana/dashboards/istio and
.../istio-services), and the ConfigMaps ``istio-grafana-dashboards`` and
``istio-services-grafana-dashboards`` mounted at those paths hold one dashboard JSON per key. Grafana
lists each dashboard by the ``title`` in its JSON, with the JSON's ``uid`` (or, without one, the md5 of
its file name, as the dashboards of recent Istio releases get theirs), in its provider's folder.

A data source answers when its URL's host is a cluster DNS name whose Service has ready pods on that
port, as Grafana's request from its pod would; else Grafana reports the Go error it met.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml

from meshcheck.sim import endpoints
from meshcheck.sim.world import World

Obj = dict[str, Any]
DATASOURCES_DIR = "/etc/grafana/provisioning/datasources"
PROVIDERS_DIR = "/etc/grafana/provisioning/dashboards"


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    folder: str


@dataclass(frozen=True)
class Provisioned:
    namespace: str
    datasources: tuple[Obj, ...]   # as datasources.yaml lists them
    dashboards: tuple[Dashboard, ...]


def _grafana(world: World) -> Obj | None:
    for deployment in world.of_kind("deployments"):
        spec = deployment["spec"].get("template", {}).get("spec", {})
        if any("grafana/grafana" in str(c.get("image", "")) for c in spec.get("containers") or []):
            return deployment
    return None


def read(world: World) -> Provisioned | None:
    """Grafana's provisioning, or None when no Grafana Deployment mounts ConfigMaps (a built world)."""
    deployment = _grafana(world)
    if deployment is None:
        return None
    ns = deployment["metadata"].get("namespace", "")
    spec = deployment["spec"]["template"]["spec"]
    volumes = {v["name"]: v["configMap"].get("name", "") for v in spec.get("volumes") or [] if v.get("configMap")}
    if not volumes:
        return None
    container = next((c for c in spec.get("containers") or [] if "grafana/grafana" in str(c.get("image", ""))), {})
    config_maps = {c["metadata"]["name"]: c.get("data") or {} for c in world.of_kind("configmaps", ns)}
    mounts = [(m.get("mountPath", ""), m.get("subPath", ""), config_maps.get(volumes.get(m.get("name", ""), ""), {}))
              for m in container.get("volumeMounts") or [] if m.get("name") in volumes]
    sources: list[Obj] = []
    providers: list[Obj] = []
    for path, sub_path, data in mounts:
        for key, text in data.items():
            if sub_path and key != sub_path:
                continue
            document = _yaml(text) if key.endswith((".yaml", ".yml")) else {}
            if path.startswith(DATASOURCES_DIR):
                sources += [d for d in document.get("datasources") or [] if isinstance(d, dict)]
            elif path.startswith(PROVIDERS_DIR):
                providers += [p for p in document.get("providers") or [] if isinstance(p, dict)]
    found: list[Dashboard] = []
    for provider in providers:
        folder = str(provider.get("folder") or "General")
        where = str((provider.get("options") or {}).get("path", "")).rstrip("/")
        for path, _, data in mounts:
            if path.rstrip("/") != where:
                continue
            for key, text in sorted(data.items()):
                dashboard = _json(text) if key.endswith(".json") else {}
                if dashboard.get("title"):
                    uid = str(dashboard.get("uid") or hashlib.md5(key.encode()).hexdigest())
                    found.append(Dashboard(uid, str(dashboard["title"]), folder))
    return Provisioned(ns, tuple(sources), tuple(found))


def unreachable(world: World, url: str, from_namespace: str) -> str | None:
    """Why Grafana's pod gets no answer from ``url`` (Go's error text), or None when it does."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return f'parse "{url}": invalid port'
    service = endpoints.resolve(world, host, from_namespace)
    if service is None:
        return f"dial tcp: lookup {host} on 10.96.0.10:53: no such host"
    ports = [p.get("port") for p in service["spec"].get("ports") or []]
    if port not in ports or not endpoints.ready_pods(world, service):
        return f"dial tcp {service['spec'].get('clusterIP', '')}:{port}: connect: connection refused"
    return None


def _yaml(text: str) -> Obj:
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _json(text: str) -> Obj:
    try:
        loaded = json.loads(text)
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}
