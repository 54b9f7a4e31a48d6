"""What a URL reaches in this cluster: is it one of the ways into a given Service?

Links that add-ons are configured with (Kiali's tracing link, its in-cluster URL) are written in
many correct forms, and a check that only knows one of them fails clusters that are right. A URL
reaches a Service when its host and port are, from what the API shows:
- the Service's cluster DNS name (``name`` only from ``origin_namespace``, where the client runs;
  ``name.ns``, ``name.ns.svc``, ``name.ns.svc.<cluster domain>``) or its ClusterIP, with one of
  its ports;
- a node's address (InternalIP, ExternalIP, Hostname in the Node's ``status.addresses``) with one
  of the Service's NodePorts (kube-proxy answers on every node);
- the Service's own LoadBalancer address (``status.loadBalancer.ingress`` ip or hostname) with one
  of its ports;
- a host an ingress routes to it: an Istio VirtualService bound to a gateway (``spec.hosts``,
  ``http[].route[].destination.host``), a Gateway API HTTPRoute (``spec.hostnames``,
  ``rules[].backendRefs``), a networking.k8s.io/v1 Ingress (``rules[].host``,
  ``http.paths[].backend.service``, ``defaultBackend``). ``*.example.com`` matches the hosts under
  example.com; a route for any host (``*``, no hostnames, a rule without host) matches only when the
  URL's host is a LoadBalancer address: of a LoadBalancer Service, a Gateway's status, or an
  Ingress's status. Path matches and the port a routed host is served on are not judged.
No port means 80 for http and 443 for https. The answer says which way matched, or why none did,
naming what was looked for, so a failure can be acted on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from meshcheck import objects as o
from meshcheck.results import listing

Obj = o.Obj

NODE_ADDRESS_TYPES = ("InternalIP", "ExternalIP", "Hostname")


@dataclass(frozen=True)
class Network:
    """The objects that decide where a URL leads, as read from the API."""

    services: Sequence[Obj] = ()
    nodes: Sequence[Obj] = ()
    virtual_services: Sequence[Obj] = ()
    http_routes: Sequence[Obj] = ()
    gateways: Sequence[Obj] = ()  # Gateway API Gateways (their status.addresses)
    ingresses: Sequence[Obj] = ()


@dataclass(frozen=True)
class Reach:
    url: str
    service: str = ""  # "namespace/name" of the Service reached; "" when none
    way: str = ""  # how: "by its cluster DNS name tracing, port 80", "through NodePort 32455 of node k8s-master"
    miss: str = ""  # why it does not reach, when it does not
    evidence: dict[str, str] = field(default_factory=dict)

    @property
    def reached(self) -> bool:
        return bool(self.service)


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str
    port: int
    path: str


def reach(url: str, names: Sequence[str], network: Network, origin_namespace: str) -> Reach:
    """Which of the Services called ``names`` the URL reaches, and how; or why it reaches none.

    ``origin_namespace`` is where the URL is used from (for Kiali: Kiali's namespace), which a
    single-label host is resolved in.
    """
    target = _parse(url)
    if isinstance(target, str):
        return Reach(url, miss=target)
    wanted = {n.lower() for n in names}
    for way in (_by_dns, _by_cluster_ip, _by_node, _by_load_balancer, _by_route):
        found = way(target, wanted, network, origin_namespace)
        if found is not None:
            return found
    return Reach(url, miss=_nothing_found(target, names, network))


def ports_of(service: Obj) -> list[int]:
    return [int(p["port"]) for p in service.get("spec", {}).get("ports") or [] if p.get("port")]


def node_ports_of(service: Obj) -> list[int]:
    return [int(p["nodePort"]) for p in service.get("spec", {}).get("ports") or [] if p.get("nodePort")]


def node_addresses(node: Obj) -> list[tuple[str, str]]:
    """(type, address) of a node, InternalIP first."""
    found = [(a.get("type", ""), str(a.get("address", ""))) for a in node.get("status", {}).get("addresses") or []]
    found = [(t, a) for t, a in found if a and t in NODE_ADDRESS_TYPES]
    return sorted(found, key=lambda ta: NODE_ADDRESS_TYPES.index(ta[0]))


def lb_addresses(obj: Obj) -> list[str]:
    """LoadBalancer addresses of a Service or Ingress (status.loadBalancer.ingress ip/hostname)."""
    entries = obj.get("status", {}).get("loadBalancer", {}).get("ingress") or []
    return [str(e.get("ip") or e.get("hostname")) for e in entries if e.get("ip") or e.get("hostname")]


def example_urls(names: Sequence[str], network: Network, path: str = "") -> dict[str, str]:
    """URLs that do reach the first Service called one of ``names``, by way: "dns", "node_port",
    "load_balancer" (only the ways the cluster offers), for remediation messages."""
    service = next((s for n in names for s in network.services if o.name(s) == n), None)
    if service is None:
        return {}
    ports = ports_of(service) or [80]
    found = {"dns": f"http://{o.name(service)}.{o.namespace(service)}{_port_suffix(ports[0])}{path}"}
    node_ports = node_ports_of(service)
    addresses = [a for n in network.nodes for t, a in node_addresses(n) if t == "InternalIP"]
    if node_ports and addresses:
        found["node_port"] = f"http://{addresses[0]}:{node_ports[0]}{path}"
    if lb_addresses(service):
        found["load_balancer"] = f"http://{lb_addresses(service)[0]}{_port_suffix(ports[0])}{path}"
    return found


# --- parsing ----------------------------------------------------------------------------------


def _parse(url: str) -> _Target | str:
    text = url.strip()
    parts = urlsplit(text if "//" in text else f"//{text}")
    scheme = (parts.scheme or "http").lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        return f"{url!r} names no host"
    try:
        port = parts.port
    except ValueError:
        return f"{url} has no valid port"
    if port is None:
        port = 443 if scheme in ("https", "grpcs") else 80
    return _Target(url, scheme, host, port, parts.path)


def _port_suffix(port: int) -> str:
    return "" if port == 80 else f":{port}"


# --- the ways in ------------------------------------------------------------------------------


def _service_at(network: Network, name: str, namespace: str) -> Obj | None:
    return next((s for s in network.services if o.name(s) == name and o.namespace(s) == namespace), None)


def _dns_name(host: str, origin: str) -> tuple[str, str] | None:
    """(service, namespace) a cluster DNS name stands for, or None when the host is not one."""
    labels = host.split(".")
    if len(labels) == 1:
        return labels[0], origin
    if len(labels) == 2 or labels[2] == "svc":
        return labels[0], labels[1]
    return None


def _on_port(target: _Target, service: Obj, way: str, wanted: set[str], **evidence: str) -> Reach:
    """The Service was found: it is reached when it is a wanted one and has the port."""
    ref = o.ref(service)
    if o.name(service).lower() not in wanted:
        return Reach(target.url, miss=f"{target.host} is Service {ref}, which is not the Service looked for "
                                      f"({listing(sorted(wanted))})")
    ports = ports_of(service)
    if target.port not in ports:
        return Reach(target.url, miss=f"{target.host} is Service {ref}, which has no port {target.port} "
                                      f"(its ports: {listing(map(str, ports)) or 'none'})")
    return Reach(target.url, ref, f"{way}, port {target.port}", evidence={"port": str(target.port), **evidence})


def _by_dns(target: _Target, wanted: set[str], network: Network, origin: str) -> Reach | None:
    named = _dns_name(target.host, origin)
    if named is None:
        return None
    name, namespace = named
    service = _service_at(network, name, namespace)
    if service is not None:
        return _on_port(target, service, f"by its cluster DNS name {target.host}", wanted, dns=target.host)
    if name in wanted and (len(target.host.split(".")) != 2 or any(o.name(s) == name for s in network.services)):
        where = [o.ref(s) for s in network.services if o.name(s) == name]
        scope = (f"in namespace {origin}, where a name without namespace resolves from"
                 if "." not in target.host else f"in namespace {namespace}")
        seen = f" (there is {listing(where)})" if where else ""
        return Reach(target.url, miss=f"{target.host} names Service {name} {scope}, which does not exist{seen}")
    return None


def _by_cluster_ip(target: _Target, wanted: set[str], network: Network, origin: str) -> Reach | None:
    for service in network.services:
        if target.host in (service.get("spec", {}).get("clusterIPs") or [service.get("spec", {}).get("clusterIP")]):
            return _on_port(target, service, f"by its ClusterIP {target.host}", wanted)
    return None


def _by_node(target: _Target, wanted: set[str], network: Network, origin: str) -> Reach | None:
    node, kind = next(
        ((n, t) for n in network.nodes for t, a in node_addresses(n) if a.lower() == target.host), (None, "")
    )
    if node is None:
        return None
    where = f"{target.host} is node {o.name(node)}'s {kind}"
    owners = [s for s in network.services if target.port in node_ports_of(s)]
    mine = [s for s in owners if o.name(s).lower() in wanted]
    if mine:
        return Reach(target.url, o.ref(mine[0]), f"through NodePort {target.port} of node {o.name(node)}",
                     evidence={"node": o.name(node), "node_port": str(target.port)})
    exposed = _node_ports_of_wanted(wanted, network)
    if owners:
        return Reach(target.url, miss=f"{where}, but NodePort {target.port} belongs to Service {o.ref(owners[0])}, "
                                      f"not to the Service looked for ({exposed})")
    return Reach(target.url, miss=f"{where}, but no Service looked for has NodePort {target.port} ({exposed})")


def _node_ports_of_wanted(wanted: set[str], network: Network) -> str:
    services = [s for s in network.services if o.name(s).lower() in wanted]
    if not services:
        return f"no Service named {listing(sorted(wanted))} exists"
    parts = []
    for service in services:
        ports = node_ports_of(service)
        kind = service.get("spec", {}).get("type", "ClusterIP")
        parts.append(f"Service {o.ref(service)} has NodePort {listing(map(str, ports))}" if ports
                     else f"Service {o.ref(service)} is {kind}, without NodePorts")
    return "; ".join(parts)


def _by_load_balancer(target: _Target, wanted: set[str], network: Network, origin: str) -> Reach | None:
    for service in network.services:
        if target.host in (a.lower() for a in lb_addresses(service)) and o.name(service).lower() in wanted:
            return _on_port(target, service, f"through its LoadBalancer address {target.host}", wanted)
    return None


def _by_route(target: _Target, wanted: set[str], network: Network, origin: str) -> Reach | None:
    """A host an ingress routes to a wanted Service; a route elsewhere for that host is a miss."""
    on_lb = target.host in _all_lb_addresses(network)
    elsewhere: list[str] = []
    for kind, route, hosts, backends in _routes(network):
        if not any(_host_matches(h, target.host, on_lb) for h in hosts):
            continue
        for name, namespace in backends:
            ref = f"{namespace}/{name}"
            if name.lower() in wanted and _service_at(network, name, namespace) is not None:
                shown = ", ".join(hosts) if hosts else "any host"
                return Reach(target.url, ref, f"through {kind} {o.ref(route)} (host {shown})",
                             evidence={"route": f"{kind} {o.ref(route)}"})
            elsewhere.append(f"{kind} {o.ref(route)} routes it to {ref}")
    if elsewhere:
        return Reach(target.url, miss=f"{target.host} is served by the cluster's ingress, but "
                                      f"{listing(elsewhere, 3)}, not to the Service looked for")
    return None


def _routes(network: Network) -> Iterable[tuple[str, Obj, list[str], list[tuple[str, str]]]]:
    """(kind, route, hosts, [(service, namespace)]) of every ingress route; [] hosts means any host."""
    for vs in network.virtual_services:
        spec = vs.get("spec", {})
        if not [g for g in spec.get("gateways") or [] if g != "mesh"]:
            continue  # a VirtualService bound to no gateway only steers traffic inside the mesh
        hosts = [str(d.get("destination", {}).get("host", "")).lower()
                 for rule in spec.get("http") or [] for d in rule.get("route") or []]
        backends = [b for b in (_dns_name(h, o.namespace(vs)) for h in hosts if h) if b is not None]
        yield "VirtualService", vs, [str(h).lower() for h in spec.get("hosts") or []], backends
    for route in network.http_routes:
        spec = route.get("spec", {})
        backends = [
            (str(b.get("name", "")), str(b.get("namespace") or o.namespace(route)))
            for rule in spec.get("rules") or [] for b in rule.get("backendRefs") or []
            if b.get("kind", "Service") == "Service" and b.get("group", "") in ("", "core")
        ]
        yield "HTTPRoute", route, [str(h).lower() for h in spec.get("hostnames") or []] or ["*"], backends
    for ingress in network.ingresses:
        spec = ingress.get("spec", {})
        default = _ingress_backend(spec.get("defaultBackend"))
        for rule in spec.get("rules") or []:
            backends = [_ingress_backend(p.get("backend")) for p in (rule.get("http") or {}).get("paths") or []]
            yield ("Ingress", ingress, [str(rule.get("host") or "*").lower()],
                   [(b, o.namespace(ingress)) for b in backends if b])
        if default:
            yield "Ingress", ingress, ["*"], [(default, o.namespace(ingress))]


def _ingress_backend(backend: Obj | None) -> str:
    return str(((backend or {}).get("service") or {}).get("name") or "")


def _host_matches(pattern: str, host: str, on_lb: bool) -> bool:
    if pattern == "*":
        return on_lb
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return pattern == host


def _all_lb_addresses(network: Network) -> set[str]:
    found = {a.lower() for s in network.services for a in lb_addresses(s)}
    found |= {a.lower() for i in network.ingresses for a in lb_addresses(i)}
    found |= {
        str(a.get("value", "")).lower() for g in network.gateways for a in g.get("status", {}).get("addresses") or []
    }
    return found - {""}


def _nothing_found(target: _Target, names: Sequence[str], network: Network) -> str:
    owner = next((s for s in network.services if target.host in (a.lower() for a in lb_addresses(s))), None)
    if owner is not None:
        return (f"{target.host} is the LoadBalancer address of Service {o.ref(owner)}, not of the Service looked "
                f"for ({listing(names)}), and no VirtualService, HTTPRoute or Ingress routes it there")
    addresses = [a for n in network.nodes for _, a in node_addresses(n)]
    looked = [
        f"a cluster DNS name or ClusterIP of {listing(names)}",
        f"a node's address ({listing(addresses, 4)})" if addresses else "a node's address (no Node was read)",
        "a LoadBalancer address",
        "a host that a VirtualService, HTTPRoute or Ingress routes to it",
    ]
    return f"{target.host} is none of the ways into the cluster looked for: {'; '.join(looked)}"
