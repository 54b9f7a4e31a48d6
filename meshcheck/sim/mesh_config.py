"""Istio's policy objects in the simulated cluster: the CRDs that serve them, and the objects a scenario puts there.

istioctl installs the CRDs of every Istio kind (istio/istio manifests/charts/base/files/crd-all.gen.yaml):
DestinationRule is served in networking.istio.io's versions (v1 from Istio 1.22), EnvoyFilter only as
v1alpha3, PeerAuthentication and AuthorizationPolicy in security.istio.io as v1 from Istio 1.22 and
v1beta1 (before 1.22 v1beta1 only); short names dr, pa and ap, categories istio-io and
networking-istio-io / security-istio-io.

The objects come from the scenario's ``mesh_policy`` settings:
- ``layer: true``: the project's own ``manifests/policy/*.yaml`` applied into the boutique's namespace,
  as ``--deploy-layers=…,policy`` applies them (documents that name a namespace keep it, principals
  ``cluster.local/ns/online-boutique/...`` are rewritten to the boutique's namespace, and of the
  ``ingress-<flavour>.yaml`` files only the one of the scenario's ingress);
- ``omit: [Kind/name, ...]``: objects of that layer left out (a fault: what a student forgot);
- ``objects: [...]``: more Istio objects, as written (namespace defaulting to the boutique's).
The simulated add-ons derive their answers from these objects: Prometheus's connection security
(``addons.mesh_tls``), Kiali's validations (``addons.kiali_validations``).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from meshcheck.errors import ConfigError
from meshcheck.sim.scenario import release

if TYPE_CHECKING:
    from meshcheck.sim.apiserver import Resource
    from meshcheck.sim.build import Builder

Obj = dict[str, Any]

POLICY_MANIFESTS = Path(__file__).resolve().parents[2] / "manifests" / "policy"
MANIFEST_NAMESPACE = "online-boutique"  # the namespace the project's manifests name in principals
STORED = {  # kind -> where the builder keeps its objects (apiserver Resource.key)
    "DestinationRule": "destinationrules.networking.istio.io",
    "EnvoyFilter": "envoyfilters.networking.istio.io",
    "PeerAuthentication": "peerauthentications.security.istio.io",
    "AuthorizationPolicy": "authorizationpolicies.security.istio.io",
    "VirtualService": "virtualservices.networking.istio.io",
    "Gateway": "gateways.networking.istio.io",
}


def resources(model: Obj) -> tuple[Resource, ...]:
    """The policy kinds the cluster serves, for the Istio version of the scenario."""
    from meshcheck.sim.apiserver import ISTIO_CATEGORIES, Resource

    modern = release(model["istio"]["version"]) >= (1, 22)
    networking = ("v1", "v1beta1", "v1alpha3") if modern else ("v1beta1", "v1alpha3")
    security = ("v1", "v1beta1") if modern else ("v1beta1",)
    net_categories = ISTIO_CATEGORIES
    sec_categories = ("istio-io", "security-istio-io")
    return (
        Resource("networking.istio.io", networking, "destinationrules", "DestinationRule", True, ("dr",),
                 net_categories),
        Resource("networking.istio.io", ("v1alpha3",), "envoyfilters", "EnvoyFilter", True, (), net_categories),
        Resource("security.istio.io", security, "peerauthentications", "PeerAuthentication", True, ("pa",),
                 sec_categories),
        Resource("security.istio.io", security, "authorizationpolicies", "AuthorizationPolicy", True, ("ap",),
                 sec_categories),
    )


def build(b: Builder) -> None:
    """Put the scenario's Istio policy objects into the cluster."""
    from meshcheck.sim import kinds as k

    spec = b.model.get("mesh_policy") or {}
    namespace = b.model["boutique"]["namespace"]
    docs = policy_layer(namespace, b.model["ingress"]["kind"]) if spec.get("layer") else []
    omitted = {str(x) for x in spec.get("omit") or ()}
    unknown = sorted(omitted - {f"{d['kind']}/{d['metadata']['name']}" for d in docs})
    if unknown:  # it would silently test nothing
        raise ConfigError("scenario setting mesh_policy.omit names no object of the policy layer: "
                          + ", ".join(unknown))
    docs = [d for d in docs if f"{d['kind']}/{d['metadata']['name']}" not in omitted]
    docs += [copy.deepcopy(d) for d in spec.get("objects") or ()]
    for doc in docs:
        kind = doc["kind"]
        if kind not in STORED:
            raise ConfigError(f"scenario setting mesh_policy names kind {kind}, which the simulator does not serve")
        meta = doc.get("metadata") or {}
        obj = k.custom(b.clock, doc.get("apiVersion", ""), kind, meta["name"], meta.get("namespace") or namespace,
                       doc.get("spec") or {}, labels=meta.get("labels"))
        b.add(STORED[kind], obj)


def policy_layer(namespace: str, ingress: str) -> list[Obj]:
    """The project's manifests/policy documents as the deploy step applies them into ``namespace``."""
    docs: list[Obj] = []
    for path in sorted(POLICY_MANIFESTS.glob("*.yaml")):
        if path.stem.startswith("ingress-") and path.stem != f"ingress-{ingress}":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind"):
                docs.append(_placed(doc, namespace))
    return docs


def _placed(doc: Obj, namespace: str) -> Obj:
    text = yaml.safe_dump(doc).replace(f"/ns/{MANIFEST_NAMESPACE}/", f"/ns/{namespace}/")
    placed = yaml.safe_load(text)
    placed.setdefault("metadata", {}).setdefault("namespace", namespace)
    return placed
