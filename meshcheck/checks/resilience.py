"""Boutique layer: the circuit breakers and local rate limits the profile requires are in place.

Pure functions. A circuit breaker is a DestinationRule whose host names the Service (read as istiod
reads hosts, ``meshcheck.istioconfig.hosts``) with ``outlierDetection`` and/or ``connectionPool``
limits in its traffic policy or a port-level one (istio.io docs/reference/config/networking/
destination-rule "OutlierDetection", "ConnectionPoolSettings"; tasks/traffic-management/
circuit-breaking); subset policies only cover traffic routed to that subset, so they do not count.
A local rate limit is an EnvoyFilter that inserts ``envoy.filters.http.local_ratelimit`` into the
workload's sidecar (istio.io docs/tasks/policy-enforcement/rate-limit "Local rate limit"), applied
by its ``workloadSelector`` in the workload's namespace, or without one to the whole namespace (to
the mesh from the root namespace). A policy that names no existing host or selects no pod protects
nothing: it is named in the failure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from meshcheck import objects as o
from meshcheck.checks.refs import refs
from meshcheck.istioconfig import hosts
from meshcheck.results import CheckResult, fail, listing, ok

Obj = o.Obj

POOL_LIMITS = {"tcp": ("maxConnections",),
               "http": ("http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection", "maxRetries",
                        "maxConcurrentStreams")}
LOCAL_RATE_LIMIT = "envoy.filters.http.local_ratelimit"


def breaker_settings(rule: Obj) -> set[str]:
    """Which circuit-breaker settings a DestinationRule makes for all of its host's traffic."""
    policy = (rule.get("spec") or {}).get("trafficPolicy") or {}
    found: set[str] = set()
    for part in [policy, *(policy.get("portLevelSettings") or [])]:
        if part.get("outlierDetection"):
            found.add("outlierDetection")
        pool = part.get("connectionPool") or {}
        if any((pool.get(kind) or {}).get(limit) is not None for kind, limits in POOL_LIMITS.items()
               for limit in limits):
            found.add("connectionPool")
    return found


def circuit_breakers(required: Mapping[str, Sequence[str]], destination_rules: Sequence[Obj],
                     services: Sequence[Obj], namespace: str, root_namespace: str = "istio-system") -> CheckResult:
    """Each required Service has a DestinationRule with the required circuit-breaker settings."""
    check = "boutique.circuit_breakers"
    mine = [r for r in destination_rules if o.namespace(r) in (namespace, root_namespace)]
    stray = [r for r in mine if breaker_settings(r)
             and not hosts.services_named(hosts.host_of(r), o.namespace(r), services)]
    problems: list[str] = []
    good: list[str] = []
    for host, wanted in required.items():
        service = o.named(list(services), host, namespace)
        if service is None:
            problems.append(f"the profile requires a circuit breaker for Service {namespace}/{host}, which does "
                            "not exist")
            continue
        rules = hosts.rules_for(service, destination_rules, namespace, root_namespace)
        present = set().union(*(breaker_settings(r) for r in rules)) if rules else set()
        missing = [s for s in wanted if s not in present]
        if not rules:
            problems.append(f"no DestinationRule names host {host} (expected {' and '.join(wanted)})")
        elif missing:
            problems.append(f"DestinationRule {listing(o.ref(r) for r in rules)} for {host} sets no "
                            f"{' or '.join(missing)}")
        else:
            good.append(f"{host} ({listing(o.ref(r) for r in rules)}: {', '.join(sorted(present))})")
    for rule in stray:
        problems.append(f"DestinationRule {o.ref(rule)} sets {' and '.join(sorted(breaker_settings(rule)))} for host "
                        f"{hosts.host_of(rule)}, which names no Service (read as "
                        f"{hosts.resolve(hosts.host_of(rule), o.namespace(rule))})")
    diagnostics = {"destination_rules": sorted(o.ref(r) for r in mine), "protected": good,
                   "stray": sorted(o.ref(r) for r in stray)}
    if problems:
        host, wanted = next(iter(required.items()))
        return fail(check, "circuit breaking is not in place as the profile requires: " + "; ".join(problems),
                    f"apply a DestinationRule in {namespace} with spec.host set to the Service's name (e.g. {host}) "
                    f"and spec.trafficPolicy.{' and '.join(wanted)} (e.g. the project's "
                    "manifests/policy/circuit-breaker.yaml); fix or delete the ones named above",
                    objects=refs("DestinationRule", stray), **diagnostics)
    return ok(check, f"circuit breakers are in place for {listing(good)}", **diagnostics)


def has_local_rate_limit(envoy_filter: Obj) -> bool:
    """A patch inserting Envoy's local rate limit: by the filter's name, or by the type of its config (istio.io's
    task wraps it in a TypedStruct whose ``type_url`` names ...local_ratelimit.v3.LocalRateLimit)."""
    for patch in (envoy_filter.get("spec") or {}).get("configPatches") or []:
        value = ((patch or {}).get("patch") or {}).get("value") or {}
        typed = value.get("typed_config") or value.get("typedConfig") or {}
        types = f"{typed.get('@type', '')} {typed.get('type_url', '')}"
        if value.get("name") == LOCAL_RATE_LIMIT or "local_ratelimit" in types:
            return True
    return False


def _selector(envoy_filter: Obj) -> dict[str, str]:
    return ((envoy_filter.get("spec") or {}).get("workloadSelector") or {}).get("labels") or {}


def _covers(envoy_filter: Obj, pod: Obj, root_namespace: str) -> bool:
    if o.namespace(envoy_filter) not in (o.namespace(pod), root_namespace):
        return False
    return not _selector(envoy_filter) or o.selector_matches(_selector(envoy_filter), o.labels(pod))


def rate_limits(required: Sequence[str], envoy_filters: Sequence[Obj], pods: Sequence[Obj], namespace: str,
                root_namespace: str = "istio-system") -> CheckResult:
    """Each required workload's sidecar gets Envoy's local rate limit from an EnvoyFilter."""
    check = "boutique.rate_limits"
    limiting = [f for f in envoy_filters if has_local_rate_limit(f)]
    stray = [f for f in limiting if _selector(f) and not any(_covers(f, p, root_namespace) for p in pods)]
    problems: list[str] = []
    good: list[str] = []
    for workload in required:
        mine = [p for p in pods if o.namespace(p) == namespace and o.app_of(p) == workload]
        if not mine:
            problems.append(f"the profile requires a rate limit for workload {workload}, which has no pod in "
                            f"{namespace}")
            continue
        covering = [f for f in limiting if _covers(f, mine[0], root_namespace)]
        if covering:
            good.append(f"{workload} ({listing(o.ref(f) for f in covering)})")
        else:
            problems.append(f"no EnvoyFilter inserts {LOCAL_RATE_LIMIT} into {workload}'s sidecar")
    for envoy_filter in stray:
        problems.append(f"EnvoyFilter {o.ref(envoy_filter)} inserts the local rate limit for workloadSelector "
                        f"{_selector(envoy_filter)}, which selects no pod in {o.namespace(envoy_filter)}")
    diagnostics = {"rate_limiting_filters": sorted(o.ref(f) for f in limiting), "limited": good}
    if problems:
        return fail(check, "local rate limiting is not in place as the profile requires: " + "; ".join(problems),
                    f"apply an EnvoyFilter in {namespace} whose workloadSelector.labels select the workload's pods "
                    f"(app: {required[0]}) and whose HTTP_FILTER patch inserts {LOCAL_RATE_LIMIT} with a "
                    "token_bucket (istio.io: Enabling Rate Limits using Envoy, local rate limit)",
                    objects=refs("EnvoyFilter", stray), **diagnostics)
    return ok(check, f"local rate limits are in place for {listing(good)}", **diagnostics)
