"""The kinds the simulated API server serves, and how each behaves when written.

Built-in kinds are always served; a custom resource kind is served from the moment its
CustomResourceDefinition is established until the CRD is deleted, as kube-apiserver's
apiextensions handler serves it (staging/src/k8s.io/apiextensions-apiserver/pkg/apiserver/
customresource_handler.go). Scenarios built at start serve the CRD kinds their installers would
have added (Istio's, the Gateway API's, MetalLB's) without CRD objects: ``resources_for``.

Besides its names, a kind carries what its registry strategy decides on writes
(pkg/registry/.../strategy.go in kubernetes/kubernetes): whether ``metadata.generation`` counts spec
changes, whether ``status`` is a subresource (so writes to the object leave it alone), and whether
DELETE answers with the deleted object (``ReturnDeletedObject: true`` in its storage: pods,
services, service accounts, namespaces, CRDs and custom resources) or with a Status.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from dataclasses import dataclass
from typing import Any

from meshcheck.sim.scenario import release

Obj = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    group: str
    versions: tuple[str, ...]  # the first is preferred
    plural: str
    kind: str
    namespaced: bool
    short: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # e.g. "all": what `kubectl get all` lists
    generation: bool = False  # metadata.generation follows spec changes
    status: bool = True  # status is a subresource: writes to the object keep the stored status
    returns_deleted: bool = False  # DELETE answers with the object rather than a Status
    crd: str = ""  # the CustomResourceDefinition that serves it; "" for built-in kinds

    @property
    def key(self) -> str:
        """Where the builder stores these objects: the plural, qualified for add-on groups."""
        return self.plural if self.group in CORE_GROUPS else f"{self.plural}.{self.group}"

    @property
    def custom(self) -> bool:
        return self.group not in CORE_GROUPS

    def api_version(self, version: str | None = None) -> str:
        version = version or self.versions[0]
        return f"{self.group}/{version}" if self.group else version

    @property
    def qualified(self) -> str:
        """The group-qualified plural kube-apiserver names in messages: ``deployments.apps``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


CORE_GROUPS = (
    "",
    "apps",
    "rbac.authorization.k8s.io",
    "admissionregistration.k8s.io",
    "networking.k8s.io",
    "policy",
    "autoscaling",
    "apiextensions.k8s.io",
)
LIST_RESOURCE_VERSION = "48213"

_RBAC, _ADMISSION = "rbac.authorization.k8s.io", "admissionregistration.k8s.io"
BUILTIN = (
    Resource("", ("v1",), "namespaces", "Namespace", False, ("ns",), returns_deleted=True),
    Resource("", ("v1",), "nodes", "Node", False, ("no",), returns_deleted=True),
    Resource("", ("v1",), "pods", "Pod", True, ("po",), ("all",), returns_deleted=True),
    Resource("", ("v1",), "services", "Service", True, ("svc",), ("all",), returns_deleted=True),
    Resource("", ("v1",), "serviceaccounts", "ServiceAccount", True, ("sa",), status=False, returns_deleted=True),
    Resource("", ("v1",), "configmaps", "ConfigMap", True, ("cm",), status=False),
    Resource("", ("v1",), "secrets", "Secret", True, status=False),
    Resource("", ("v1",), "events", "Event", True, ("ev",), status=False),
    Resource("apps", ("v1",), "deployments", "Deployment", True, ("deploy",), ("all",), generation=True),
    Resource("apps", ("v1",), "daemonsets", "DaemonSet", True, ("ds",), ("all",), generation=True),
    Resource(_RBAC, ("v1",), "clusterroles", "ClusterRole", False, status=False),
    Resource(_RBAC, ("v1",), "clusterrolebindings", "ClusterRoleBinding", False, status=False),
    Resource(_RBAC, ("v1",), "roles", "Role", True, status=False),
    Resource(_RBAC, ("v1",), "rolebindings", "RoleBinding", True, status=False),
    Resource(_ADMISSION, ("v1",), "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", False,
             generation=True, status=False),
    Resource(_ADMISSION, ("v1",), "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", False,
             generation=True, status=False),
    Resource("networking.k8s.io", ("v1",), "ingresses", "Ingress", True, ("ing",), generation=True),
    Resource("policy", ("v1",), "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",), generation=True),
    Resource("autoscaling", ("v2",), "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ("hpa",),
             ("all",)),
    Resource("apiextensions.k8s.io", ("v1",), "customresourcedefinitions", "CustomResourceDefinition", False,
             ("crd", "crds"), generation=True, returns_deleted=True),
    # The same Events in the newer API (meshcheck.sim.events keeps both): stored apart, as its shape differs.
    Resource("events.k8s.io", ("v1",), "events", "Event", True, ("ev",), status=False),
)
ISTIO_CATEGORIES = ("istio-io", "networking-istio-io")
_CR = {"generation": True, "returns_deleted": True}
ISTIO = (
    Resource("networking.istio.io", ("v1", "v1beta1", "v1alpha3"), "gateways", "Gateway", True, ("gw",),
             ISTIO_CATEGORIES, **_CR),
    Resource("networking.istio.io", ("v1", "v1beta1", "v1alpha3"), "virtualservices", "VirtualService", True,
             ("vs",), ISTIO_CATEGORIES, **_CR),
)
ISTIO_BEFORE_1_22 = tuple(dataclasses.replace(r, versions=("v1beta1", "v1alpha3")) for r in ISTIO)
GATEWAY_API = (
    Resource("gateway.networking.k8s.io", ("v1", "v1beta1"), "gateways", "Gateway", True, ("gtw",), **_CR),
    Resource("gateway.networking.k8s.io", ("v1", "v1beta1"), "httproutes", "HTTPRoute", True, **_CR),
)
METALLB = (
    Resource("metallb.io", ("v1beta1",), "ipaddresspools", "IPAddressPool", True, **_CR),
    Resource("metallb.io", ("v1beta1",), "l2advertisements", "L2Advertisement", True, **_CR),
)


def resources_for(model: Obj) -> tuple[Resource, ...]:
    """The API a cluster in this scenario serves: built-ins plus the CRDs its installers add."""
    served = list(BUILTIN)
    istio = model.get("istio")
    if istio:
        served += ISTIO if release(istio["version"]) >= (1, 22) else ISTIO_BEFORE_1_22
    if (model.get("ingress") or {}).get("kind") == "gateway-api":
        served += GATEWAY_API
    metallb = model.get("metallb") or {}
    if metallb.get("installed") and release(metallb.get("version", "v0.13")) >= (0, 13):
        served += METALLB
    if istio:
        from meshcheck.sim import mesh_config  # Istio's policy kinds: DestinationRule, EnvoyFilter, security.istio.io

        served += mesh_config.resources(model)
    return tuple(served)


# --- custom resource definitions ------------------------------------------------------------------

_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Kubernetes' version ordering (apimachinery version.CompareKubeAwareVersionStrings): GA before beta
    before alpha, higher numbers first, then anything else alphabetically. Smaller sorts first."""
    match = _VERSION.match(version)
    if match is None:
        return (3, 0, 0, version)
    major, stage, minor = int(match[1]), match[2], int(match[3] or 0)
    return ({None: 0, "beta": 1, "alpha": 2}[stage], -major, -minor, "")


def from_crd(crd: Obj) -> tuple[Resource, ...]:
    """The kind a CRD serves (one Resource: its served versions, the preferred first)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    served = [v for v in spec.get("versions") or [] if v.get("served", True)]
    if not served or not names.get("plural") or not names.get("kind"):
        return ()
    versions = tuple(sorted((str(v["name"]) for v in served), key=version_priority))
    status = any((v.get("subresources") or {}).get("status") is not None for v in served)
    return (
        Resource(
            str(spec.get("group", "")),
            versions,
            str(names["plural"]),
            str(names["kind"]),
            spec.get("scope", "Namespaced") == "Namespaced",
            tuple(names.get("shortNames") or ()),
            tuple(names.get("categories") or ()),
            generation=True,
            status=status,
            returns_deleted=True,
            crd=str((crd.get("metadata") or {}).get("name", "")),
        ),
    )


class Registry:
    """The resources served right now: the built-in ones, plus those of each established CRD.

    A served tuple is replaced, never edited, so request threads read it without a lock.
    """

    def __init__(self, resources: tuple[Resource, ...]) -> None:
        self._base = tuple(resources)
        self._crds: dict[str, tuple[Resource, ...]] = {}
        self._lock = threading.Lock()
        self.resources = self._base

    def establish(self, crd_name: str, served: tuple[Resource, ...]) -> None:
        with self._lock:
            self._crds[crd_name] = served
            self._rebuild()

    def forget(self, crd_name: str) -> None:
        with self._lock:
            if self._crds.pop(crd_name, None) is not None:
                self._rebuild()

    def established(self, crd_name: str) -> tuple[Resource, ...] | None:
        return self._crds.get(crd_name)

    def _rebuild(self) -> None:
        # A CRD for a kind the scenario already serves replaces it: one kind, one way to serve it.
        taken = {(r.group, r.plural) for served in self._crds.values() for r in served}
        base = tuple(r for r in self._base if (r.group, r.plural) not in taken)
        self.resources = base + tuple(r for served in self._crds.values() for r in served)

    def find(self, group: str, version: str, plural: str) -> Resource | None:
        return next(
            (r for r in self.resources if r.group == group and version in r.versions and r.plural == plural), None
        )

    def by_key(self, key: str) -> Resource | None:
        return next((r for r in self.resources if r.key == key), None)
