"""One run of the suite against one cluster: what every layer's checks share.

``Suite`` holds the cluster door, the profile and the options, and answers the questions several
layers ask once per run: which namespace holds the boutique, which ingress is used, how each
add-on is reached, whether waiting can still change an answer. It knows nothing of pytest, so a
grader's batch tool can drive it from a plain script.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property

import requests

from meshcheck import kube
from meshcheck import objects as o
from meshcheck.addons import kiali as kiali_api
from meshcheck.checks.boutique import find_namespace
from meshcheck.checks.reach import Network
from meshcheck.endpoints import Endpoint
from meshcheck.errors import AddonError, ForbiddenError
from meshcheck.ingress import Ingress, find_ingress
from meshcheck.profile import Profile
from meshcheck.results import CheckResult

# What each layer reads, so a run of some layers lists only what those need, all at once.
LAYER_KINDS: dict[str, tuple[kube.Kind, ...]] = {
    "cluster": (
        kube.NODES,
        kube.PODS,
        kube.DEPLOYMENTS,
        kube.SERVICES,
        kube.SERVICE_ACCOUNTS,
        kube.CLUSTER_ROLE_BINDINGS,
    ),
    "istio": (kube.DEPLOYMENTS, kube.PODS, kube.MUTATING_WEBHOOKS, kube.NAMESPACES),
    "boutique": (
        kube.DEPLOYMENTS,
        kube.PODS,
        kube.DESTINATION_RULES,
        kube.ENVOY_FILTERS,
        kube.AUTHORIZATION_POLICIES,
    ),
    "gateway": (
        kube.DEPLOYMENTS,
        kube.PODS,
        kube.SERVICES,
        kube.ISTIO_GATEWAYS,
        kube.VIRTUAL_SERVICES,
        kube.GATEWAYS,
        kube.HTTP_ROUTES,
        kube.IP_ADDRESS_POOLS,
        kube.L2_ADVERTISEMENTS,
    ),
    "storefront": (
        kube.DEPLOYMENTS,
        kube.SERVICES,
        kube.ISTIO_GATEWAYS,
        kube.VIRTUAL_SERVICES,
        kube.GATEWAYS,
        kube.HTTP_ROUTES,
    ),
    "telemetry": (kube.DEPLOYMENTS, kube.PODS, kube.SERVICES, kube.PEER_AUTHENTICATIONS),
    "kiali": (
        kube.DEPLOYMENTS,
        kube.PODS,
        kube.SERVICES,
        kube.NODES,
        kube.VIRTUAL_SERVICES,
        kube.GATEWAYS,
        kube.HTTP_ROUTES,
        kube.INGRESSES,
        kube.KIALIS,
    ),
    "tracing": (kube.DEPLOYMENTS, kube.PODS, kube.SERVICES),
    "grafana": (kube.DEPLOYMENTS, kube.PODS, kube.SERVICES),
    "load": (kube.DEPLOYMENTS, kube.PODS, kube.SERVICES),
}

# Kinds read only for a promise of the profile's ``policies``: listed up front when the profile makes
# it, and otherwise not at all (their checks are skipped), so a run that asks for none pays nothing.
POLICY_KINDS: dict[kube.Kind, str] = {
    kube.PEER_AUTHENTICATIONS: "mtls",
    kube.DESTINATION_RULES: "circuit_breakers",
    kube.ENVOY_FILTERS: "rate_limits",
    kube.AUTHORIZATION_POLICIES: "authorization",
}

# What a layer reads in one namespace only, not cluster-wide: Kiali's own ConfigMap (its tracing URLs) in
# the profile's addons_namespace, MetalLB's legacy ConfigMap in metallb-system.
LAYER_NAMESPACED_KINDS: dict[str, tuple[tuple[kube.Kind, str | None], ...]] = {
    "kiali": ((kube.CONFIG_MAPS, None),),  # None: the profile's addons_namespace
    "gateway": ((kube.CONFIG_MAPS, "metallb-system"),),
}

# Discovery documents a layer reads (the cluster layer: whether the API serves TokenRequest).
LAYER_RESOURCES: dict[str, tuple[str, ...]] = {"cluster": ("v1",)}

LABEL_KEYS = ("app", "app.kubernetes.io/name")
LABEL_ALIASES = {"tracing": ("jaeger", "zipkin")}
ADDON_MANIFESTS = {"tracing": "jaeger"}  # samples/addons/<file>.yaml of an Istio release, where not the name
ADDON_PORT_NAMES = ("http-query", "http", "http-web", "service", "http-monitoring")


@dataclass
class Options:
    wait: float = 120.0  # seconds a layer may spend waiting, in all
    poll: float = 5.0  # seconds between looks while waiting
    settle: float = 180.0  # after this long with traffic, missing telemetry is final
    urls: dict[str, str] = field(default_factory=dict)  # direct add-on / storefront URLs
    request_timeout: float = 10.0


class Suite:
    def __init__(self, cluster: kube.Cluster, profile: Profile, options: Options | None = None) -> None:
        self.cluster = cluster
        self.profile = profile
        self.options = options or Options()
        self._deadlines: dict[str, float] = {}
        self._endpoints: dict[str, Endpoint] = {}
        self._lock = threading.Lock()

    def prefetch(self, layers: Iterable[str]) -> None:
        """Read, all at once, every list and discovery document the layers' checks will ask for."""
        layers = list(layers)
        kinds = sorted({k for layer in layers for k in LAYER_KINDS.get(layer, ()) if self._needed(k)},
                       key=lambda k: (k.group, k.plural))
        scoped = {
            (kind, namespace or self.profile.addons_namespace)
            for layer in layers
            for kind, namespace in LAYER_NAMESPACED_KINDS.get(layer, ())
        }
        versions = sorted({v for layer in layers for v in LAYER_RESOURCES.get(layer, ())})
        self.cluster.prefetch([*kinds, *sorted(scoped, key=_scoped_order)], resources=versions)

    def _needed(self, kind: kube.Kind) -> bool:
        policy = POLICY_KINDS.get(kind)
        return policy is None or self.profile.policies.required(policy)

    # --- what several layers ask --------------------------------------------------------------

    @cached_property
    def boutique_namespace(self) -> str | None:
        return find_namespace(self.cluster.list(kube.DEPLOYMENTS), self.profile)

    @cached_property
    def ingress(self) -> Ingress:
        c = self.cluster
        return find_ingress(
            self.profile,
            self.boutique_namespace,
            c.list(kube.ISTIO_GATEWAYS),
            c.list(kube.VIRTUAL_SERVICES),
            c.list(kube.GATEWAYS),
            c.list(kube.HTTP_ROUTES),
            c.list(kube.SERVICES),
        )

    def network(self) -> Network:
        """What decides where a URL leads in this cluster: Services, Nodes and the ingress routes."""
        c = self.cluster
        return Network(
            services=c.list(kube.SERVICES),
            nodes=c.list(kube.NODES),
            virtual_services=c.list(kube.VIRTUAL_SERVICES),
            http_routes=c.list(kube.HTTP_ROUTES),
            gateways=c.list(kube.GATEWAYS),
            ingresses=c.list(kube.INGRESSES),
        )

    def kiali_tracing_settings(self, kiali: Endpoint, version: str) -> kiali_api.TracingSettings:
        """Kiali's tracing settings from its ConfigMap (or Kiali CR), read only in Kiali's namespace.

        A reader role that may not read ConfigMaps (403) is not an error: the settings say so, and
        the check judges what it can without them.
        """
        namespace = (kiali.service or "").partition("/")[0] or self.profile.addons_namespace
        try:
            config_maps = self.cluster.list(kube.CONFIG_MAPS, namespace)
        except ForbiddenError:
            return kiali_api.unreadable_settings(
                namespace, f"this user may not read ConfigMaps in {namespace} (403), so Kiali's settings are unknown"
            )
        try:
            kialis = self.cluster.list(kube.KIALIS)
        except ForbiddenError:
            kialis = []
        return kiali_api.tracing_settings(config_maps, kialis, namespace, version)

    def mesh_age(self) -> float | None:
        """Seconds the boutique's pods have been running: how long telemetry has had to appear."""
        ns = self.boutique_namespace
        if ns is None:
            return None
        ages = [
            o.age_seconds(p.get("status", {}).get("startTime"))
            for p in o.in_namespace(self.cluster.list(kube.PODS), ns)
        ]
        known = [a for a in ages if a is not None]
        return min(known) if known else None

    # --- reaching add-ons and the shop --------------------------------------------------------

    def addon(self, name: str) -> Endpoint:
        """The endpoint of an add-on: its --<name>-url, else its Service through the API server."""
        with self._lock:
            if name not in self._endpoints:
                self._endpoints[name] = self._resolve_addon(name)
            return self._endpoints[name]

    def _resolve_addon(self, name: str) -> Endpoint:
        if self.options.urls.get(name):
            return direct_endpoint(name, self.options.urls[name], self.options.request_timeout)
        wanted = self.profile.addons.get(name, (name,))
        service = find_service(
            self.cluster.list(kube.SERVICES),
            wanted,
            (*wanted, *LABEL_ALIASES.get(name, ())),
            self.profile.addons_namespace,
        )
        if service is None:
            raise AddonError(
                f"no Service named {' or '.join(wanted)} (or labelled app={name}) in any namespace: deploy Istio's "
                f"{name} add-on (kubectl apply -f samples/addons/{ADDON_MANIFESTS.get(name, name)}.yaml from "
                f"your Istio release) or pass --{name}-url"
            )
        return self.cluster.service_proxy(name, o.namespace(service), o.name(service), _addon_port(service))

    def resolved(self, name: str) -> Endpoint | None:
        """The endpoint of an add-on or the storefront if a check has already found it; never a read."""
        with self._lock:
            return self._endpoints.get(name)

    def storefront(self) -> Endpoint:
        """The shop through the gateway's EXTERNAL-IP when this runner reaches it, else through the API server."""
        with self._lock:
            if "storefront" not in self._endpoints:
                self._endpoints["storefront"] = self._resolve_storefront()
            return self._endpoints["storefront"]

    def _resolve_storefront(self) -> Endpoint:
        timeout = self.options.request_timeout
        if self.options.urls.get("storefront"):
            return direct_endpoint("storefront", self.options.urls["storefront"], timeout)
        ingress = self.ingress
        service = ingress.service
        if service is None or ingress.http_port is None:
            raise AddonError(
                f"the storefront cannot be reached: {ingress.describe()} has no gateway Service with "
                "an HTTP port; fix the gateway layer first or pass --storefront-url"
            )
        address, port = ingress.address, ingress.http_port
        if address and reachable(address, port):
            host = f"[{address}]" if ":" in address else address
            return direct_endpoint(
                "storefront", f"http://{host}:{port}", timeout, via=f"gateway EXTERNAL-IP {address}:{port}"
            )
        endpoint = self.cluster.service_proxy("storefront", o.namespace(service), o.name(service), port)
        reason = f"EXTERNAL-IP {address}:{port} is not reachable from this runner" if address else "no EXTERNAL-IP"
        endpoint.via += f" ({reason})"
        return endpoint

    # --- waiting ------------------------------------------------------------------------------

    def wait(self, layer: str, look: Callable[[], CheckResult], kinds: Iterable[kube.Kind] = ()) -> CheckResult:
        """Look again while the answer is a failure that time can still change, within the layer's budget.

        Kubernetes answers say themselves whether they may change (``settled``). Telemetry that
        is missing stops being worth a wait once the mesh has carried traffic for ``settle``
        seconds. The budget is per layer, shared by all of its checks.
        """
        kinds = tuple(kinds)
        result = look()
        if result.passed or result.settled:
            return result
        if not kinds:
            age = self.mesh_age()
            if age is not None and age > self.options.settle:
                return result
        with self._lock:
            deadline = self._deadlines.setdefault(layer, time.monotonic() + self.options.wait)
        while not result.passed and not result.settled and time.monotonic() + self.options.poll < deadline:
            time.sleep(self.options.poll)
            self.cluster.refresh(*kinds)
            result = look()
        return result


def _scoped_order(scoped: tuple[kube.Kind, str]) -> tuple[str, str, str]:
    return scoped[0].group, scoped[0].plural, scoped[1]


def find_service(
    services: list[o.Obj], names: Iterable[str], label_values: Iterable[str], preferred_namespace: str
) -> o.Obj | None:
    """An add-on's Service: by name first (Istio's samples), else by its app label (Helm charts and
    operators name Services after the release, e.g. kube-prometheus-stack-prometheus)."""

    def best(found: list[o.Obj]) -> o.Obj | None:
        return min(found, key=lambda s: (o.namespace(s) != preferred_namespace, o.ref(s)), default=None)

    for name in names:
        if (service := best([s for s in services if o.name(s) == name])) is not None:
            return service
    values = set(label_values)
    return best([s for s in services if values & {o.labels(s).get(key) for key in LABEL_KEYS}])


def direct_endpoint(name: str, url: str, timeout: float, via: str | None = None) -> Endpoint:
    """An endpoint reached without the API server (an override URL, or the gateway's address)."""
    return Endpoint(
        name=name, base_url=url.rstrip("/"), via=via or f"direct URL {url}", session=requests.Session(), timeout=timeout
    )


def reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _addon_port(service: o.Obj) -> int:
    ports = service.get("spec", {}).get("ports") or []
    for name in ADDON_PORT_NAMES:
        for port in ports:
            if port.get("name") == name:
                return int(port["port"])
    return int(ports[0]["port"]) if ports else 80
