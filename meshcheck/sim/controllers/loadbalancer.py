"""MetalLB giving ``type: LoadBalancer`` Services their address (metallb/metallb controller, layer 2).

The controller assigns once it runs (its Deployment available) and has a pool to take from that is
announced: from 0.13 an IPAddressPool (metallb.io/v1beta1, ``spec.addresses``: ranges ``a-b`` or
CIDRs; ``autoAssign: false`` pools only on request; ``avoidBuggyIPs`` skips .0 and .255) that an
L2Advertisement in its namespace selects (``ipAddressPools`` by name, ``ipAddressPoolSelectors`` by
label, or neither: every pool); before 0.13 the ``config`` ConfigMap in ``metallb-system``
(``address-pools`` with ``protocol: layer2``). A Service gets the lowest free address of the first such
pool (or the one its ``metallb.universe.tf/address-pool`` annotation names; the address its
``loadBalancerIP`` or ``metallb.universe.tf/loadBalancerIPs`` asks for when a pool holds it), written
to ``status.loadBalancer.ingress`` with ``ipMode: VIP``, and the pool to the annotation
``metallb.universe.tf/ip-allocated-from-pool``. Without all that the Service stays pending.

A loopback address (127.0.0.0/8) is one this machine can answer on: the simulated cluster serves the
Service there (``Addresses``). Any other address is only recorded, never connected to.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Iterator
from typing import Any

import yaml

from meshcheck.sim.admission import selector_matches
from meshcheck.sim.controllers import Context
from meshcheck.sim.endpoints import pod_ready
from meshcheck.sim.world import World

Obj = dict[str, Any]
POOLS, ADVERTISEMENTS = "ipaddresspools.metallb.io", "l2advertisements.metallb.io"
ALLOCATED = "metallb.universe.tf/ip-allocated-from-pool"
MANAGER = "metallb-controller"


def controller_running(world: World) -> str | None:
    """The namespace of MetalLB's controller when a pod of its Deployment is ready."""
    for deployment in world.of_kind("deployments"):
        containers = deployment["spec"].get("template", {}).get("spec", {}).get("containers") or []
        if not any("metallb/controller" in str(c.get("image", "")) for c in containers):
            continue
        ns = deployment["metadata"].get("namespace", "")
        selector = (deployment["spec"].get("selector") or {}).get("matchLabels") or {}
        if any(pod_ready(p) and selector_matches({"matchLabels": selector}, p["metadata"].get("labels") or {})
               for p in world.of_kind("pods", ns)):
            return ns
    return None


def pools(world: World, namespace: str) -> list[tuple[str, list[str], bool, bool]]:
    """(name, address ranges, auto-assign, avoid buggy IPs) of the announced pools, in name order."""
    found = []
    advertisements = world.of_kind(ADVERTISEMENTS, namespace)
    for pool in sorted(world.of_kind(POOLS, namespace), key=lambda p: p["metadata"]["name"]):
        name, spec = pool["metadata"]["name"], pool.get("spec") or {}
        if any(_selects(ad.get("spec") or {}, pool) for ad in advertisements):
            found.append((name, [str(a) for a in spec.get("addresses") or []],
                          spec.get("autoAssign", True) is not False, bool(spec.get("avoidBuggyIPs"))))
    legacy = next((c for c in world.of_kind("configmaps", "metallb-system") if c["metadata"]["name"] == "config"), None)
    if legacy is not None:
        try:
            config = yaml.safe_load((legacy.get("data") or {}).get("config", "")) or {}
        except yaml.YAMLError:
            config = {}
        for pool in (config.get("address-pools") or []) if isinstance(config, dict) else []:
            if isinstance(pool, dict) and pool.get("protocol", "layer2") == "layer2":
                found.append((str(pool.get("name", "")), [str(a) for a in pool.get("addresses") or []],
                              pool.get("auto-assign", True) is not False, bool(pool.get("avoid-buggy-ips"))))
    return found


def _selects(advertisement: Obj, pool: Obj) -> bool:
    names = advertisement.get("ipAddressPools") or []
    selectors = advertisement.get("ipAddressPoolSelectors") or []
    if not names and not selectors:
        return True
    labels = pool["metadata"].get("labels") or {}
    return pool["metadata"]["name"] in names or any(selector_matches(s, labels) for s in selectors)


def addresses(ranges: list[str], avoid_buggy: bool) -> Iterator[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    for spec in ranges:
        try:
            if "-" in spec:
                low, high = (ipaddress.ip_address(part.strip()) for part in spec.split("-", 1))
                candidates: Iterator[Any] = (ipaddress.ip_address(n) for n in range(int(low), int(high) + 1))
            else:
                candidates = iter(ipaddress.ip_network(spec.strip(), strict=False))
        except ValueError:
            continue
        for address in candidates:
            if avoid_buggy and str(address).endswith((".0", ".255")):
                continue
            yield address


def sync(ctx: Context) -> None:
    world = ctx.world
    namespace = controller_running(world)
    usable = pools(world, namespace) if namespace is not None else []
    taken = {entry.get("ip") for s in world.of_kind("services")
             for entry in ((s.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []}
    served: set[tuple[str, str]] = set()
    for service in world.of_kind("services"):
        spec = service.get("spec") or {}
        ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress")
        if spec.get("type") != "LoadBalancer" or spec.get("loadBalancerClass"):
            continue
        if ingress:
            served |= _serve(ctx, service, str(ingress[0].get("ip", "")))
            continue
        chosen = _choose(service, usable, taken)
        if chosen is None:
            continue
        pool, address = chosen
        taken.add(address)
        updated = copy.deepcopy(service)
        updated["metadata"]["annotations"] = {**(service["metadata"].get("annotations") or {}), ALLOCATED: pool}
        updated["status"] = {"loadBalancer": {"ingress": [{"ip": address, "ipMode": "VIP"}]}}
        ctx.store.save("services", updated, manager=MANAGER, operation="Update", api_version="v1",
                       subresource="status", fields={"f:status": {"f:loadBalancer": {"f:ingress": {}}}})
        served |= _serve(ctx, updated, address)
    if ctx.addresses is not None:
        ctx.addresses.keep_only(served)


def _choose(service: Obj, usable: list[tuple[str, list[str], bool, bool]], taken: set[Any]) -> tuple[str, str] | None:
    notes = service["metadata"].get("annotations") or {}
    wanted_pool = notes.get("metallb.universe.tf/address-pool") or notes.get("metallb.io/address-pool")
    asked = (service.get("spec") or {}).get("loadBalancerIP") or notes.get("metallb.universe.tf/loadBalancerIPs", "")
    asked = str(asked).split(",")[0].strip()
    for name, ranges, auto, avoid in usable:
        if wanted_pool and name != wanted_pool:
            continue
        if asked:
            if any(str(a) == asked for a in addresses(ranges, avoid)) and asked not in taken:
                return name, asked
            continue
        if not auto and not wanted_pool:
            continue
        for address in addresses(ranges, avoid):
            if str(address) not in taken:
                return name, str(address)
    return None


def _serve(ctx: Context, service: Obj, address: str) -> set[tuple[str, str]]:
    """Have a loopback address answer on the Service's HTTP port (http2, http, else 80, else its first)."""
    if ctx.addresses is None or not address:
        return set()
    try:
        if not ipaddress.ip_address(address).is_loopback:
            return set()
    except ValueError:
        return set()
    ports = (service.get("spec") or {}).get("ports") or []
    port = next((p["port"] for p in ports if p.get("name") in ("http2", "http")), None)
    port = port or next((p["port"] for p in ports if p.get("port") == 80), None) or (ports[0]["port"] if ports else 80)
    key = (service["metadata"].get("namespace", ""), service["metadata"]["name"])
    ctx.addresses.serve(*key, address, int(port))
    return {key}
