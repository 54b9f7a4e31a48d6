"""What deploying each layer means: which pinned sources and own manifests are applied, in which order,
with which small edits, and what is waited for.

Each layer is a function over a ``Deployment`` (the writer, the lock, ``manifests/``, the options).
Upstream manifests are applied as released, with only the edits the lab made and nothing else:
Online Boutique into its injected namespace without ``frontend-external``, Kiali's ConfigMap given a
tracing link, add-on Services turned into NodePorts when asked (``--expose=nodeport``). Everything
is server-side applied, so running a layer again changes nothing and a layer interrupted half-way
is finished by the next run.
"""

from __future__ import annotations

import copy
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from meshcheck import layers
from meshcheck.deploy import pins
from meshcheck.deploy.apply import Outcome, Writer
from meshcheck.deploy.rollout import wait_for_rollout
from meshcheck.errors import DeployError

Obj = dict[str, Any]
MANIFESTS = Path(__file__).resolve().parent.parent.parent / "manifests"
ADDON_SOURCES = ("istio-addon-prometheus", "istio-addon-jaeger", "istio-addon-grafana", "istio-addon-kiali")
EXPOSED_ADDONS = ("kiali", "tracing", "prometheus", "grafana")
GATEWAY_API_CRDS = ("gateway-api-gatewayclasses", "gateway-api-gateways", "gateway-api-httproutes",
                    "gateway-api-referencegrants")


@dataclass
class DeployOptions:
    layers: tuple[str, ...] = tuple(d.name for d in layers.DEPLOYABLES if d.default)
    namespace: str = "online-boutique"  # the boutique's
    ingress: str = "classic"  # classic (Gateway + VirtualService, as the lab) or gateway-api
    expose: str = "clusterip"  # or nodeport: the add-ons and the dashboard on NodePorts, as the lab did
    timeout: float = 600.0  # per layer, for its rollout
    address_pool: Callable[[], str] | None = None  # MetalLB's addresses, e.g. "172.18.255.200-172.18.255.250"
    kubeconfig: str | None = None  # for istioctl
    context: str | None = None
    manifests: Path = MANIFESTS
    cache: Path | None = None


@dataclass
class Deployment:
    """One deploy run: where it writes, what it may download, and what it did."""

    writer: Writer
    lock: pins.Lock
    options: DeployOptions
    progress: Callable[[str], None] = print
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run
    outcomes: dict[str, list[Outcome]] = field(default_factory=dict)

    # --- reading manifests ----------------------------------------------------------------

    def source(self, name: str) -> list[Obj]:
        """The documents of a pinned upstream file, downloaded once and verified."""
        return _documents(pins.fetch(self.lock.source(name), self.options.cache).read_text(), name)

    def own(self, relative: str) -> list[Obj]:
        """The documents of one of the project's own manifests."""
        return _documents(self._read(relative), relative)

    def fragment(self, relative: str) -> Obj:
        """One of the project's own settings merged into an upstream object (not a Kubernetes object)."""
        try:
            found = yaml.safe_load(self._read(relative))
        except yaml.YAMLError as exc:
            raise DeployError(f"manifests/{relative} is not valid YAML ({' '.join(str(exc).split())[:200]})") from None
        if not isinstance(found, dict):
            raise DeployError(f"manifests/{relative} must be a mapping of settings")
        return found

    def _read(self, relative: str) -> str:
        try:
            return (self.options.manifests / relative).read_text()
        except OSError as exc:
            raise DeployError(f"manifests/{relative} cannot be read ({exc.strerror})") from None

    # --- writing --------------------------------------------------------------------------

    def apply(self, layer: str, docs: Iterable[Obj]) -> None:
        for doc in docs:
            outcome = self.writer.apply(doc)
            self.outcomes.setdefault(layer, []).append(outcome)
            if doc.get("kind") == "CustomResourceDefinition":
                self.wait_established(doc)

    def delete(self, layer: str, doc: Obj) -> None:
        outcome = self.writer.delete(doc)
        if outcome.changed:
            self.outcomes.setdefault(layer, []).append(outcome)

    def wait_established(self, crd: Obj, timeout: float = 60.0) -> None:
        """Custom resources of a CRD can be applied once the API server says it is Established."""
        path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = self.writer.get(path) or {}
            conditions = (current.get("status") or {}).get("conditions") or []
            if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                return
            time.sleep(0.5)
        raise DeployError(f"CustomResourceDefinition {crd['metadata']['name']} was not Established within "
                          f"{timeout:.0f}s: see 'kubectl describe crd {crd['metadata']['name']}'")

    def rollout(self, layer: str, *namespaces: str) -> None:
        wait_for_rollout(self.writer.get, layer, namespaces, self.options.timeout, progress=self.progress)

    # --- running it -----------------------------------------------------------------------

    def deploy(self) -> dict[str, list[Outcome]]:
        """Deploy the chosen layers in the order of ``layers.DEPLOYABLES``; stop at the first that fails."""
        for deployable in layers.DEPLOYABLES:
            if deployable.name not in self.options.layers:
                continue
            self.progress(f"deploy {deployable.name}: {deployable.title}")
            LAYERS[deployable.name](self)
            done = self.outcomes.get(deployable.name, [])
            changed = sum(o.changed for o in done)
            self.progress(f"deploy {deployable.name}: {len(done)} objects applied, {changed} changed")
        return self.outcomes

    def changed(self) -> int:
        return sum(o.changed for outcomes in self.outcomes.values() for o in outcomes)


# --- the layers ---------------------------------------------------------------------------


def metallb(d: Deployment) -> None:
    """MetalLB's native manifest, then the pool, once the controller (and so its webhook) serves."""
    d.apply("metallb", d.source("metallb-native"))
    d.rollout("metallb", "metallb-system")
    if d.options.address_pool is None:
        raise DeployError("deploying metallb needs the addresses it may hand out: pass --metallb-addresses="
                          "FIRST-LAST (free addresses on the nodes' network); on kind they are found by itself")
    pool = d.own("metallb/pool.yaml")
    addresses = d.options.address_pool()
    for doc in pool:
        if doc["kind"] == "IPAddressPool":
            doc["spec"]["addresses"] = [addresses]
    d.progress(f"  metallb: address pool {addresses}")
    d.apply("metallb", pool)


def istio(d: Deployment) -> None:
    """Istio's demo profile with the pinned istioctl (what the lab ran), then istio-system's rollout."""
    istioctl = tool(d, "istioctl")
    command = [str(istioctl), "install", "-f", str(d.options.manifests / "istio" / "demo.yaml"),
               "--skip-confirmation"]
    if d.options.kubeconfig:
        command += ["--kubeconfig", d.options.kubeconfig]
    if d.options.context:
        command += ["--context", d.options.context]
    d.progress(f"  istio: {' '.join(command[1:])}")
    done = d.run(command, capture_output=True, text=True, timeout=d.options.timeout)
    if done.returncode != 0:
        said = " ".join(((done.stderr or "") + " " + (done.stdout or "")).split())[-400:]
        raise DeployError(f"layer istio: istioctl install failed ({said}): see istioctl's output above, "
                          "fix the cause and run again (installing is idempotent)")
    d.outcomes.setdefault("istio", [])
    d.rollout("istio", "istio-system")


def boutique(d: Deployment) -> None:
    """The injected namespace, Online Boutique's release manifests (without frontend-external), its ingress."""
    namespace = d.options.namespace
    ns = d.own("boutique/namespace.yaml")
    ns[0]["metadata"]["name"] = namespace
    d.apply("boutique", ns)
    if d.options.ingress == "gateway-api":
        for name in GATEWAY_API_CRDS:
            d.apply("boutique", d.source(name))
    release = in_namespace(d.source("boutique-v0.10.6"), namespace)
    external = [doc for doc in release if is_frontend_external(doc)]
    d.apply("boutique", [doc for doc in release if not is_frontend_external(doc)])
    for doc in external:  # the Istio ingress replaces it, as Online Boutique's Istio component does
        d.delete("boutique", doc)
    d.apply("boutique", in_namespace(d.own(f"boutique/ingress-{d.options.ingress}.yaml"), namespace))
    d.rollout("boutique", namespace)


def addons(d: Deployment) -> None:
    """Istio's add-ons from the same release; Kiali linked to the tracing Service."""
    docs = {name: d.source(name) for name in ADDON_SOURCES}
    if d.options.expose == "nodeport":
        docs = {name: [as_node_port(doc) for doc in found] for name, found in docs.items()}
    for name in ADDON_SOURCES[:-1]:
        d.apply("addons", docs[name])
    tracing = d.writer.get("/api/v1/namespaces/istio-system/services/tracing") or {}
    link = tracing_link(tracing, d.writer.get("/api/v1/nodes") or {}, d.options.expose)
    settings = d.fragment("addons/kiali-tracing.yaml")
    settings["external_url"] = link
    d.progress(f"  addons: Kiali's tracing link {link}")
    d.apply("addons", [with_kiali_tracing(doc, settings) for doc in docs["istio-addon-kiali"]])
    d.rollout("addons", "istio-system")


def dashboard(d: Deployment) -> None:
    """The dashboard's v2.7 manifest, and the admin account of its docs."""
    docs = d.source("dashboard-v2.7.0")
    if d.options.expose == "nodeport":
        docs = [as_node_port(doc, names=("kubernetes-dashboard",)) for doc in docs]
    d.apply("dashboard", docs)
    d.apply("dashboard", d.own("dashboard/admin.yaml"))
    d.rollout("dashboard", "kubernetes-dashboard")


def policy(d: Deployment) -> None:
    """The hardened profile's policies: mesh-wide STRICT mTLS (in istio-system, as the file says), the circuit
    breaker and the authorization policies in the boutique's namespace, its principals naming that namespace,
    and the ingress gateway of the flavour in use allowed to call frontend. Nothing rolls out: istiod pushes
    them to the sidecars by itself."""
    namespace = d.options.namespace
    for name in ("peer-authentication.yaml", "circuit-breaker.yaml", "authorization.yaml",
                 f"ingress-{d.options.ingress}.yaml"):
        d.apply("policy", for_namespace(in_namespace(d.own(f"policy/{name}"), namespace), namespace))


LAYERS: dict[str, Callable[[Deployment], None]] = {
    "metallb": metallb, "istio": istio, "boutique": boutique, "addons": addons, "dashboard": dashboard,
    "policy": policy,
}


# --- edits --------------------------------------------------------------------------------


def in_namespace(docs: list[Obj], namespace: str) -> list[Obj]:
    """Namespaced documents without a namespace go into ``namespace`` (what kubectl apply -n does)."""
    placed = []
    for doc in docs:
        doc = copy.deepcopy(doc)
        if doc.get("kind") not in CLUSTER_SCOPED:
            doc.setdefault("metadata", {}).setdefault("namespace", namespace)
        placed.append(doc)
    return placed


CLUSTER_SCOPED = frozenset({"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                            "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "GatewayClass",
                            "PersistentVolume", "StorageClass", "PriorityClass"})


MANIFEST_NAMESPACE = "online-boutique"  # the namespace the project's policy manifests name in principals


def for_namespace(docs: list[Obj], namespace: str) -> list[Obj]:
    """The principals ``cluster.local/ns/online-boutique/...`` of AuthorizationPolicies, moved to ``namespace``."""
    if namespace == MANIFEST_NAMESPACE:
        return docs
    moved = []
    for doc in docs:
        text = yaml.safe_dump(doc).replace(f"/ns/{MANIFEST_NAMESPACE}/", f"/ns/{namespace}/")
        moved.append(yaml.safe_load(text))
    return moved


def is_frontend_external(doc: Obj) -> bool:
    return doc.get("kind") == "Service" and (doc.get("metadata") or {}).get("name") == "frontend-external"


def as_node_port(doc: Obj, names: tuple[str, ...] = EXPOSED_ADDONS) -> Obj:
    """The lab's edit: the add-on's Service reached from outside on a NodePort (kubectl patch ... NodePort)."""
    if doc.get("kind") != "Service" or (doc.get("metadata") or {}).get("name") not in names:
        return doc
    doc = copy.deepcopy(doc)
    doc.setdefault("spec", {})["type"] = "NodePort"
    return doc


def tracing_link(service: Obj, nodes: Obj, expose: str) -> str:
    """An address of the tracing Service's query UI: a node's InternalIP and the NodePort of its port 80
    when exposed, else its cluster DNS name (both reach it; see meshcheck.checks.reach)."""
    namespace = (service.get("metadata") or {}).get("namespace", "istio-system")
    ports = (service.get("spec") or {}).get("ports") or []
    node_port = next((p.get("nodePort") for p in ports if p.get("port") == 80 and p.get("nodePort")), None)
    addresses = [a.get("address") for n in nodes.get("items") or []
                 for a in (n.get("status") or {}).get("addresses") or [] if a.get("type") == "InternalIP"]
    if expose == "nodeport" and node_port and addresses:
        return f"http://{addresses[0]}:{node_port}/jaeger"
    return f"http://tracing.{namespace}/jaeger"


def with_kiali_tracing(doc: Obj, settings: Obj) -> Obj:
    """The kiali ConfigMap with ``external_services.tracing`` replaced by ``settings``."""
    if doc.get("kind") != "ConfigMap" or (doc.get("metadata") or {}).get("name") != "kiali":
        return doc
    doc = copy.deepcopy(doc)
    config = yaml.safe_load((doc.get("data") or {}).get("config.yaml") or "") or {}
    config.setdefault("external_services", {})["tracing"] = dict(settings)
    doc["data"]["config.yaml"] = yaml.safe_dump(config, sort_keys=False)
    return doc


def tool(d: Deployment, name: str) -> Path:
    """A pinned tool: on PATH when it is the pinned version, else the verified download."""
    args = ["version", "--remote=false"] if name == "istioctl" else ["version"]
    found, _ = pins.on_path(name, d.lock.version(name), args, d.run)
    return found or pins.executable(d.lock.tool(name), d.options.cache)


def _documents(text: str, where: str) -> list[Obj]:
    try:
        return [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict) and doc.get("kind")]
    except yaml.YAMLError as exc:
        raise DeployError(f"{where} is not valid YAML ({' '.join(str(exc).split())[:200]})") from None
