"""Gateway layer: an ingress that selects its gateway pods, routes to frontend, and has an external address."""

from __future__ import annotations

import ipaddress

import yaml

from meshcheck import objects as o
from meshcheck.checks.refs import ref
from meshcheck.ingress import Ingress, service_host
from meshcheck.profile import Profile
from meshcheck.results import CheckResult, fail, listing, ok

Obj = o.Obj

# The label istiod puts on the pods it deploys for a Gateway API Gateway: the standard one from Istio 1.21
# (GEP-1762, istio/istio#47229, which still writes the old one too), Istio's own before.
GATEWAY_NAME_LABELS = ("gateway.networking.k8s.io/gateway-name", "istio.io/gateway-name")

NO_INGRESS = (
    "apply Online Boutique's Istio manifests: the lab's istio-manifests.yaml (Gateway frontend-gateway "
    "and VirtualService frontend-ingress) or the kustomize component 'service-mesh-istio'"
)


def gateway_selects_pods(ingress: Ingress, pods: list[Obj]) -> CheckResult:
    check = "gateway.gateway_selects_pods"
    if ingress.kind == "none":
        return fail(
            check,
            "no ingress for the boutique: neither an Istio Gateway nor a Gateway API Gateway "
            "of the expected name exists",
            NO_INGRESS,
        )
    gateway = ingress.gateway or {}
    if ingress.kind == "classic":
        selector = gateway.get("spec", {}).get("selector") or {}
        chosen = [p for p in pods if o.selector_matches(selector, o.labels(p))]
        if not chosen:
            return fail(
                check,
                f"Gateway {o.ref(gateway)} selects pods with {selector or 'no labels'}, and no pod has those labels",
                "set its spec.selector to the ingress gateway's labels (istio: ingressgateway)",
                objects=(ref("Gateway", gateway),),
            )
        return ok(
            check, f"Gateway {o.ref(gateway)} selects {len(chosen)} gateway pods ({listing(o.ref(p) for p in chosen)})"
        )
    accepted = o.condition(gateway, "Accepted")
    if gateway.get("spec", {}).get("gatewayClassName") != "istio":
        return fail(
            check,
            f"Gateway {o.ref(gateway)} has gatewayClassName "
            f"{gateway.get('spec', {}).get('gatewayClassName')!r}, not 'istio'",
            "set spec.gatewayClassName: istio so that istiod programs it",
            objects=(ref("Gateway", gateway),),
        )
    if accepted is not None and accepted.get("status") != "True":
        return fail(
            check,
            f"Gateway {o.ref(gateway)} is not Accepted ({accepted.get('reason')}: {accepted.get('message', '')})",
            f"kubectl -n {o.namespace(gateway)} describe gateway {o.name(gateway)}",
            objects=(ref("Gateway", gateway),),
        )
    name = o.name(gateway)
    chosen = [p for p in pods if name in (o.labels(p).get(label) for label in GATEWAY_NAME_LABELS)]
    if not chosen:
        return fail(
            check,
            f"Gateway {o.ref(gateway)} is accepted but no gateway pod runs for it",
            "check istiod's logs: it creates the Deployment '<gateway>-istio' for each Gateway",
            objects=(ref("Gateway", gateway), f"Deployment/{o.namespace(gateway)}/{name}-istio"),
        )
    return ok(check, f"Gateway {o.ref(gateway)} (class istio) is served by {listing(o.ref(p) for p in chosen)}")


def route_reaches_frontend(ingress: Ingress, services: list[Obj], namespace: str, profile: Profile) -> CheckResult:
    check = "gateway.route_reaches_frontend"
    if ingress.kind == "none":
        return fail(check, "no ingress for the boutique, so nothing routes to frontend", NO_INGRESS)
    route = ingress.route
    gateway = ingress.gateway or {}
    what = "VirtualService" if ingress.kind == "classic" else "HTTPRoute"
    if route is None:
        return fail(
            check,
            f"no {what} is bound to {ingress.describe()}",
            f"apply the {what} of Online Boutique's Istio manifests ("
            f"{profile.ingress.get('classic', {}).get('virtualservice', 'frontend-ingress')})",
        )
    if ingress.kind == "classic":
        hosts = [
            d.get("destination", {}).get("host", "")
            for rule in route["spec"].get("http") or []
            for d in rule.get("route") or []
        ]
        targets = [service_host(h, o.namespace(route)) for h in hosts]
    else:
        targets = [
            (b.get("name", ""), b.get("namespace", o.namespace(route)))
            for rule in route["spec"].get("rules") or []
            for b in rule.get("backendRefs") or []
            if b.get("kind", "Service") == "Service"
        ]
    if not targets:
        return fail(check, f"{what} {o.ref(route)} has no destination", f"route it to Service {profile.anchor}",
                    objects=(ref(what, route),))
    for service, ns in targets:
        if o.named(services, service, ns) is None:
            return fail(
                check,
                f"{what} {o.ref(route)} routes to host {service} in {ns}, but no Service {ns}/{service} exists",
                f"set the destination to the frontend Service ({profile.anchor}) and re-apply it",
                objects=(ref(what, route),),
                targets=targets,
            )
    if (profile.anchor, namespace) not in targets:
        return fail(
            check,
            f"{what} {o.ref(route)} routes to {listing(f'{ns}/{s}' for s, ns in targets)}, "
            f"not to {namespace}/{profile.anchor}",
            f"route it to Service {profile.anchor}",
            objects=(ref(what, route),),
        )
    return ok(check, f"{what} {o.ref(route)} on {o.name(gateway)} routes to Service {namespace}/{profile.anchor}")


def external_address(ingress: Ingress) -> CheckResult:
    check = "gateway.external_address"
    if ingress.kind == "none":
        return fail(check, "no ingress for the boutique, so no external address", NO_INGRESS)
    service = ingress.service
    if service is None:
        return fail(
            check,
            f"{ingress.describe()} has no gateway Service",
            "check the ingress gateway's installation (istioctl install, or istiod's gateway controller)",
        )
    kind = service["spec"].get("type")
    if kind != "LoadBalancer":
        return fail(
            check,
            f"Service {o.ref(service)} is of type {kind}, not LoadBalancer",
            f"kubectl -n {o.namespace(service)} patch service {o.name(service)} "
            '-p \'{"spec":{"type":"LoadBalancer"}}\'',
            objects=(ref("Service", service),),
        )
    address = ingress.address
    if not address:
        return fail(
            check,
            f"Service {o.ref(service)} has no EXTERNAL-IP (pending)",
            "install a load balancer: MetalLB with an IPAddressPool in the nodes' network "
            "(for kind: docker network inspect kind) and an L2Advertisement",
            settled=o.stale(service["metadata"].get("creationTimestamp")),
            objects=(ref("Service", service),),
        )
    return ok(check, f"Service {o.ref(service)} has EXTERNAL-IP {address}", address=address)


def metallb_pool(
    address: str | None, pools: list[Obj], advertisements: list[Obj], config_maps: list[Obj]
) -> CheckResult:
    check = "gateway.metallb_pool"
    legacy = o.named(config_maps, "config", "metallb-system")
    if not pools and legacy is None:
        return ok(check, "no MetalLB address pool: the external address comes from another load balancer")
    if address is None:
        return fail(
            check,
            "MetalLB is configured but the gateway has no external address to check",
            "see why MetalLB assigned none: kubectl -n metallb-system logs deploy/controller",
            objects=("Deployment/metallb-system/controller",),
        )
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ok(check, f"external address {address} is a hostname: not MetalLB's to give")
    if legacy is not None and not pools:
        try:
            config = yaml.safe_load(legacy.get("data", {}).get("config", "")) or {}
        except yaml.YAMLError:
            return fail(
                check, "ConfigMap metallb-system/config is not valid YAML", "fix its data.config (address-pools)",
                objects=("ConfigMap/metallb-system/config",),
            )
        if not isinstance(config, dict) or not isinstance(config.get("address-pools") or [], list):
            return fail(
                check,
                "ConfigMap metallb-system/config has no address-pools list in data.config",
                "write MetalLB's configuration there: address-pools: [{name, protocol: layer2, addresses}]",
                objects=("ConfigMap/metallb-system/config",),
            )
        ranges = [a for p in config.get("address-pools") or [] if isinstance(p, dict) for a in p.get("addresses") or []]
        where, advertised = "ConfigMap metallb-system/config", True
        named: tuple[str, ...] = ("ConfigMap/metallb-system/config",)
    else:
        ranges = [a for p in pools for a in p.get("spec", {}).get("addresses") or []]
        where = f"IPAddressPool {listing(o.ref(p) for p in pools)}"
        advertised = bool(advertisements)
        named = tuple(ref("IPAddressPool", p) for p in pools)
    if not any(_contains(r, ip) for r in ranges):
        return fail(
            check,
            f"EXTERNAL-IP {address} is outside MetalLB's {where} ({listing(ranges) or 'empty'})",
            "make the pool's addresses a range of the nodes' network and recreate the gateway Service",
            objects=named,
        )
    if not advertised:
        return fail(
            check,
            f"MetalLB's {where} holds {address} but no L2Advertisement announces it",
            "create an L2Advertisement for the pool, or the address is unreachable",
            objects=named,
        )
    return ok(check, f"EXTERNAL-IP {address} is in MetalLB's {where}")


def frontend_external_removed(services: list[Obj], namespace: str, profile: Profile) -> CheckResult:
    check = "gateway.frontend_external_removed"
    names = profile.ingress.get("removed_services") or []
    left = [o.ref(s) for s in o.in_namespace(services, namespace) if o.name(s) in names]
    if left:
        return fail(
            check,
            f"Service {listing(left)} still exists: it bypasses the mesh's ingress",
            f"kubectl -n {namespace} delete service {' '.join(n.split('/')[-1] for n in left)}",
            objects=tuple(f"Service/{n}" for n in left),
        )
    return ok(check, f"no {listing(names)} Service in {namespace}: traffic enters through the gateway")


def _contains(spec: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    try:
        if "-" in spec:
            low, high = (ipaddress.ip_address(p.strip()) for p in spec.split("-", 1))
            return low <= ip <= high
        return ip in ipaddress.ip_network(spec.strip(), strict=False)
    except (ValueError, TypeError):
        return False
