"""Boutique layer: AuthorizationPolicies deny by default and allow exactly the call graph's calls.

Pure function. Deny by default is an allow-nothing ALLOW policy (``spec: {}``) or a deny-all DENY
policy without a selector in the namespace or the root namespace. Each call-graph edge, and the
ingress gateway's call to the app's entry workload, is judged from the caller's identity: the
principal ``cluster.local/ns/NS/sa/SA`` of the ServiceAccount its pods run as (Online Boutique
v0.10.6 runs each service under a ServiceAccount named after it, redis-cart under ``default``),
through ``meshcheck.istioconfig.authz`` (DENY first, then ALLOW, as Istio evaluates them). A policy
whose selector selects no pod of its namespace protects nothing and is named.
"""

from __future__ import annotations

from collections.abc import Sequence

from meshcheck import objects as o
from meshcheck.checks.refs import refs
from meshcheck.istioconfig import authz
from meshcheck.results import CheckResult, count, fail, listing, ok

Obj = o.Obj
Edge = tuple[str, str]


def service_account(pods: Sequence[Obj]) -> str:
    return next((str(p["spec"]["serviceAccountName"]) for p in pods
                 if (p.get("spec") or {}).get("serviceAccountName")), "default")


def gateway_caller(service: Obj | None, pods: Sequence[Obj]) -> authz.Caller | None:
    """The identity of the ingress gateway's pods: the pods its Service selects, and their ServiceAccount."""
    if service is None:
        return None
    selector = (service.get("spec") or {}).get("selector") or {}
    mine = [p for p in pods if o.namespace(p) == o.namespace(service) and o.selector_matches(selector, o.labels(p))]
    if not mine:
        return None
    return authz.Caller(authz.principal(o.namespace(service), service_account(mine)), o.namespace(service))


def _ports(app: str, namespace: str, services: Sequence[Obj]) -> list[int]:
    found: list[int] = []
    for service in services:
        if o.namespace(service) == namespace and ((service.get("spec") or {}).get("selector") or {}).get("app") == app:
            for port in (service.get("spec") or {}).get("ports") or []:
                found += [int(v) for v in (port.get("port"), port.get("targetPort")) if isinstance(v, int)]
    return found


def authorization(policies: Sequence[Obj], edges: Sequence[Edge], pods: Sequence[Obj], services: Sequence[Obj],
                  namespace: str, root_namespace: str = "istio-system", gateway: authz.Caller | None = None,
                  entry: str = "frontend") -> CheckResult:
    """Deny by default holds in ``namespace``, every call of ``edges`` (and the gateway's to ``entry``) is
    allowed from its caller's identity, and no policy of the namespace selects nothing.

    Judged from the policies alone, as istiod would configure the sidecars: a call the check finds
    denied fails in the mesh with "RBAC: access denied" (HTTP 403, gRPC PERMISSION_DENIED).
    """
    check = "boutique.authorization"
    scoped = [p for p in policies if o.namespace(p) in (namespace, root_namespace) and authz.sidecar_policy(p)]
    defaults = [p for p in scoped if authz.denies_by_default(p)]
    mine = [p for p in pods if o.namespace(p) == namespace]
    idle = [p for p in scoped if o.namespace(p) == namespace and authz.selector(p)
            and not any(o.selector_matches(authz.selector(p), o.labels(pod)) for pod in mine)]
    by_app: dict[str, list[Obj]] = {}
    for pod in mine:
        by_app.setdefault(o.app_of(pod), []).append(pod)
    calls: list[tuple[str, authz.Caller, str]] = [
        (f"{a}→{b}", authz.Caller(authz.principal(namespace, service_account(by_app.get(a, []))), namespace), b)
        for a, b in edges]
    if gateway is not None:
        calls.append((f"ingress gateway→{entry}", gateway, entry))
    denied: list[str] = []
    for label, caller, callee in calls:
        labels = o.labels(by_app[callee][0]) if by_app.get(callee) else {"app": callee}
        verdict = authz.decide(policies, namespace, labels, caller, _ports(callee, namespace, services), root_namespace)
        if not verdict.allowed:
            denied.append(f"{label} ({caller.principal}: {verdict.reason})")
    open_to_all = sorted(o.ref(p) for p in scoped if authz.open_to_all(p))
    diagnostics = {"policies": sorted(o.ref(p) for p in scoped), "deny_by_default": sorted(o.ref(p) for p in defaults),
                   "denied": denied, "idle": sorted(o.ref(p) for p in idle), "open_to_all": open_to_all}
    problems = []
    if not defaults:
        problems.append(f"no AuthorizationPolicy denies by default in {namespace} (an ALLOW policy with an empty "
                        f"spec, or a DENY policy matching every request, without a selector)")
    if denied:
        problems.append(f"{count(len(denied), 'required call')} {'is' if len(denied) == 1 else 'are'} not allowed: "
                        + "; ".join(denied))
    if idle:
        problems.append(f"{listing(f'AuthorizationPolicy {o.ref(p)} (selector {authz.selector(p)})' for p in idle)} "
                        f"select{'s' if len(idle) == 1 else ''} no pod in {namespace}")
    if problems:
        return fail(check, "authorization is not as the profile requires: " + "; ".join(problems),
                    f"apply an allow-nothing AuthorizationPolicy (spec: {{}}) in {namespace} and, per callee, an "
                    "ALLOW policy selecting its pods (selector.matchLabels app: NAME) whose rules[].from[].source."
                    f"principals list its callers' cluster.local/ns/{namespace}/sa/SA (e.g. the project's "
                    "manifests/policy/authorization.yaml); fix or delete the policies named above",
                    objects=refs("AuthorizationPolicy", idle), **diagnostics)
    noted = f"; open to every caller: {listing(open_to_all)}" if open_to_all else ""
    return ok(check, f"AuthorizationPolicies deny by default in {namespace} ({listing(o.ref(p) for p in defaults)}) "
                     f"and allow all {len(calls)} required calls from their callers' identities{noted}", **diagnostics)
