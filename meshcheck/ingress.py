"""Which ingress the cluster uses, found from what it serves rather than assumed.

Two shapes are in use: the lab's classic ``istio-ingressgateway`` with a networking.istio.io
Gateway and VirtualService, and Online Boutique's newer Istio component with the Kubernetes
Gateway API (a Gateway whose Deployment and Service istiod creates in the app's namespace).
The gateway checks and the storefront both stand on the ``Ingress`` found here.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshcheck import objects as o
from meshcheck.profile import Profile

Obj = o.Obj


@dataclass(frozen=True)
class Ingress:
    kind: str  # "classic", "gateway-api", or "none"
    gateway: Obj | None = None  # Istio Gateway, or Gateway API Gateway
    route: Obj | None = None  # VirtualService, or HTTPRoute
    service: Obj | None = None  # the gateway's LoadBalancer Service

    @property
    def address(self) -> str | None:
        """The EXTERNAL-IP (or hostname) of the gateway: the Service's, or the Gateway's status."""
        for entry in (self.service or {}).get("status", {}).get("loadBalancer", {}).get("ingress") or []:
            if entry.get("ip") or entry.get("hostname"):
                return entry.get("ip") or entry.get("hostname")
        if self.kind == "gateway-api":
            for entry in (self.gateway or {}).get("status", {}).get("addresses") or []:
                if entry.get("value"):
                    return entry["value"]
        return None

    @property
    def http_port(self) -> int | None:
        """The Service port that carries plain HTTP to the gateway (http2/http, else 80)."""
        ports = (self.service or {}).get("spec", {}).get("ports") or []
        for port in ports:
            if port.get("name") in ("http2", "http"):
                return int(port["port"])
        return next((int(p["port"]) for p in ports if p.get("port") == 80), None)

    def describe(self) -> str:
        if self.kind == "classic":
            return f"Istio Gateway {o.ref(self.gateway or {})}"
        if self.kind == "gateway-api":
            return f"Gateway API Gateway {o.ref(self.gateway or {})}"
        return "no ingress"


def find_ingress(
    profile: Profile,
    namespace: str | None,
    istio_gateways: list[Obj],
    virtual_services: list[Obj],
    gateways: list[Obj],
    http_routes: list[Obj],
    services: list[Obj],
) -> Ingress:
    classic = profile.ingress.get("classic") or {}
    modern = profile.ingress.get("gateway_api") or {}
    gateway = _prefer(namespace, [g for g in istio_gateways if o.name(g) == classic.get("gateway")])
    if gateway is not None:
        route = _prefer(
            namespace, [v for v in virtual_services if o.name(v) == classic.get("virtualservice")]
        ) or _prefer(namespace, [v for v in virtual_services if _binds(v, gateway)])
        selector = gateway.get("spec", {}).get("selector") or {}
        service = _prefer(None, [s for s in services if o.name(s) == classic.get("service")]) or _prefer(
            None,
            [s for s in services if s["spec"].get("selector") and o.selector_matches(selector, s["spec"]["selector"])],
        )
        return Ingress("classic", gateway, route, service)
    gateway = _prefer(namespace, [g for g in gateways if o.name(g) == modern.get("gateway")])
    if gateway is not None:
        route = _prefer(
            namespace,
            [
                r
                for r in http_routes
                if any(ref.get("name") == o.name(gateway) for ref in r.get("spec", {}).get("parentRefs") or [])
            ],
        )
        service = o.named(services, modern.get("service", f"{o.name(gateway)}-istio"), o.namespace(gateway))
        return Ingress("gateway-api", gateway, route, service)
    return Ingress("none")


def _binds(virtual_service: Obj, gateway: Obj) -> bool:
    wanted = {o.name(gateway), f"{o.namespace(gateway)}/{o.name(gateway)}"}
    return bool(wanted & set(virtual_service.get("spec", {}).get("gateways") or []))


def _prefer(namespace: str | None, candidates: list[Obj]) -> Obj | None:
    """The candidate in ``namespace`` if there is one, else the first."""
    return next((c for c in candidates if o.namespace(c) == namespace), candidates[0] if candidates else None)


def service_host(host: str, namespace: str) -> tuple[str, str]:
    """(service, namespace) a mesh host names: 'frontend', 'frontend.ns', 'frontend.ns.svc.cluster.local'."""
    parts = host.split(".")
    return parts[0], parts[1] if len(parts) > 1 else namespace
