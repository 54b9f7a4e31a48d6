"""Which Services a host of an Istio rule names, and which DestinationRules apply to a Service.

Follows istio/istio pilot/pkg/model/config.go ``ResolveShortnameToFQDN`` (1.28): a host without a dot
is a short name, read in the rule's own namespace (``reviews`` in namespace ``shop`` is
``reviews.shop.svc.cluster.local``); a host with a dot is taken as written, so ``reviews.shop`` names
no Kubernetes Service; ``*`` and ``*.suffix`` are wildcards. DestinationRules apply to a caller from
its own namespace, the Service's namespace or the root namespace (istio.io docs
"Destination Rule": lookup order), ``exportTo`` aside.
"""

from __future__ import annotations

from collections.abc import Iterable

from meshcheck import objects as o

Obj = o.Obj

DOMAIN = "cluster.local"


def fqdn(service: Obj) -> str:
    return f"{o.name(service)}.{o.namespace(service)}.svc.{DOMAIN}"


def resolve(host: str, namespace: str) -> str:
    """The host as istiod reads it in a rule of ``namespace``."""
    if not host or host == "*" or "." in host:
        return host
    return f"{host}.{namespace}.svc.{DOMAIN}"


def matches(host: str, namespace: str, service: Obj) -> bool:
    """Whether a rule's ``host`` in ``namespace`` names ``service``."""
    resolved = resolve(host, namespace)
    name = fqdn(service)
    if resolved == "*":
        return True
    if resolved.startswith("*."):
        return name.endswith(resolved[1:])
    return resolved == name


def services_named(host: str, namespace: str, services: Iterable[Obj]) -> list[Obj]:
    """The Services a rule's host names (none: the rule applies to nothing)."""
    return [s for s in services if matches(host, namespace, s)]


def host_of(rule: Obj) -> str:
    return str((rule.get("spec") or {}).get("host") or "")


def rules_for(service: Obj, rules: Iterable[Obj], caller_namespace: str | None = None,
              root_namespace: str = "istio-system") -> list[Obj]:
    """The DestinationRules whose host names ``service`` and that a caller in ``caller_namespace`` sees."""
    visible = {o.namespace(service), root_namespace, caller_namespace or o.namespace(service)}
    return [r for r in rules if o.namespace(r) in visible and matches(host_of(r), o.namespace(r), service)]
