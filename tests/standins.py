"""Small local stand-ins for the upstream sources that manifests/lock.yaml pins, and a lock that points at them.

No test may download the real releases, so the deploy step is proven end to end with files of the
project's own making, written here in the shape of the real ones (the same names, labels, ports and
kinds that the suite and the simulated cluster's controllers look at, far fewer fields), served from
a local HTTP server and pinned by their own sha256 in a copy of manifests/.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from meshcheck.sim.addons import kiali_config
from tests import simstack
from tests.fileserver import FileServer
from tests.harness import ROOT

Obj = dict[str, Any]
ADDON_FILES = {  # which stand-in objects each of Istio's samples/addons files holds, by object name
    "istio-addon-prometheus": ("prometheus",),
    "istio-addon-jaeger": ("jaeger", "tracing", "zipkin"),
    "istio-addon-kiali": ("kiali",),
}


def release(objects: list[Obj]) -> list[Obj]:
    """Objects as a release manifest carries them: no namespace of their own (the deploy places them)."""
    stripped = []
    for obj in objects:
        obj = {**obj, "metadata": {k: v for k, v in obj["metadata"].items() if k != "namespace"}}
        stripped.append(obj)
    return stripped


def boutique_release() -> list[Obj]:
    """Online Boutique's release manifests: the workloads, their Services and accounts, and frontend-external;
    not the namespace or the ingress, which are the project's own manifests."""
    workloads = [o for o in simstack.boutique() if o["kind"] in ("Deployment", "Service", "ServiceAccount")]
    external = simstack.service("frontend-external", simstack.SHOP_NS, {"app": "frontend"},
                                [{"name": "http", "port": 80, "targetPort": 8080}], kind="LoadBalancer")
    return release([*workloads, external])


def addon_files() -> dict[str, list[Obj]]:
    """samples/addons of Istio 1.28.3: Kiali v2.17 with tracing switched off as shipped, Grafana the rest."""
    objects = simstack.addons()
    files: dict[str, list[Obj]] = {name: [] for name in (*ADDON_FILES, "istio-addon-grafana")}
    for obj in objects:
        name = next((f for f, names in ADDON_FILES.items() if obj["metadata"]["name"] in names), "istio-addon-grafana")
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == "kiali":
            obj = {**obj, "data": kiali_config.config_map_data({"version": KIALI, "tracing_url": None}, "istio-system")}
        if obj["kind"] == "Deployment" and obj["metadata"]["name"] == "kiali":
            obj = json.loads(json.dumps(obj).replace("quay.io/kiali/kiali:v1.76.0", f"quay.io/kiali/kiali:{KIALI}"))
        files[name].append(obj)
    return files


KIALI = "v2.17.0"


def sources() -> dict[str, list[Obj]]:
    """Every source manifests/lock.yaml pins, as its stand-in."""
    dashboard = [o for o in simstack.dashboard() if o["metadata"]["name"] != "admin-user"]  # our own admin.yaml
    crds = {f"gateway-api-{o['spec']['names']['plural']}": [o] for o in simstack.gateway_api_crds()}
    return {"metallb-native": simstack.metallb(), "boutique-v0.10.6": boutique_release(),
            "dashboard-v2.7.0": dashboard, **addon_files(), **crds}


def istio_demo() -> list[Obj]:
    """What ``istioctl install`` of the demo profile leaves; the fake istioctl applies it."""
    return simstack.istio()


class Mirror:
    """The stand-ins served over HTTP, and a copy of manifests/ whose lock pins them (tools unchanged)."""

    def __init__(self, directory: Path) -> None:
        self.files = {f"/{name}.yaml": yaml.safe_dump_all(docs, sort_keys=False).encode()
                      for name, docs in sources().items()}
        self.server = FileServer(self.files)
        url = self.server.url
        self.manifests = directory / "manifests"
        shutil.copytree(ROOT / "manifests", self.manifests)
        lock = yaml.safe_load((self.manifests / "lock.yaml").read_text())
        lock["sources"] = {path[1:-5]: {"url": url + path, "sha256": hashlib.sha256(body).hexdigest()}
                           for path, body in self.files.items()}
        (self.manifests / "lock.yaml").write_text(yaml.safe_dump(lock))
        self.istio = directory / "istio-demo.yaml"
        self.istio.write_text(yaml.safe_dump_all(istio_demo(), sort_keys=False))

    def stop(self) -> None:
        self.server.stop()
