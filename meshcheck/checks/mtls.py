"""mTLS checks (telemetry layer): the boutique's calls arrive over mutual TLS, and strict mode holds if required.

Pure functions. What the receiving sidecars reported (``meshcheck.addons.tls_metrics``) says whether
mTLS is in use; the objects (pods, PeerAuthentications, DestinationRules) say why not, so that a
plaintext call is named with its likely cause: a side without a sidecar, a PeerAuthentication that
disables mTLS for the callee (composed as istiod composes them, ``meshcheck.istioconfig.peerauth``),
or a DestinationRule whose ``trafficPolicy.tls.mode`` is DISABLE for the callee's host (the client
then sends plaintext; istio.io docs/reference/config/networking/destination-rule "ClientTLSSettings").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from meshcheck import objects as o
from meshcheck.addons.tls_metrics import EdgeSecurity
from meshcheck.checks.refs import refs
from meshcheck.istioconfig import hosts, peerauth
from meshcheck.results import CheckResult, count, fail, listing, ok

Obj = o.Obj
Edge = tuple[str, str]


def edges_use_mutual_tls(
    reported: Mapping[Edge, EdgeSecurity],
    expected: Sequence[Edge],
    namespace: str,
    pods: Sequence[Obj] = (),
    services: Sequence[Obj] = (),
    peer_authentications: Sequence[Obj] = (),
    destination_rules: Sequence[Obj] = (),
    root_namespace: str = "istio-system",
) -> CheckResult:
    """Every expected HTTP/gRPC edge that carries traffic is reported by its destination as mutual_tls."""
    check = "telemetry.mtls_edges"
    carried = [e for e in expected if e in reported]
    plain = [e for e in carried if not reported[e].mutual]
    others = sorted(f"{a}→{b}" for (a, b), r in reported.items() if (a, b) not in expected and not r.mutual)
    diagnostics = {"judged": [f"{a}→{b}" for a, b in carried], "plaintext": [f"{a}→{b}" for a, b in plain],
                   "other_plaintext": others}
    if not carried:
        return fail(
            check,
            f"no call into namespace {namespace} is reported by its destination's sidecar "
            f"(istio_requests_total{{reporter=\"destination\"}}), so mTLS cannot be judged; expected "
            f"{listing(f'{a}→{b}' for a, b in expected)}",
            "the destinations' sidecars report each call once traffic flows: check the loadgenerator runs and "
            "the pods have istio-proxy sidecars scraped by Prometheus (see the other telemetry checks)",
            settled=False,
            **diagnostics,
        )
    if not plain:
        extra = f"; calls from outside the call graph in plaintext: {listing(others)}" if others else ""
        return ok(check, f"all {len(carried)} call-graph edges carrying traffic into {namespace} arrive over "
                         f"mutual TLS (connection_security_policy=\"mutual_tls\"){extra}", **diagnostics)
    causes = [_cause(edge, reported[edge], namespace, pods, services, peer_authentications, destination_rules,
                     root_namespace) for edge in plain]
    named = [c for c in causes if c[1]]
    bare = [p for a, b in plain for p in _pods_of(pods, namespace, a) + _pods_of(pods, namespace, b)
            if not o.has_sidecar(p)]
    blamed = tuple(c[1].replace(" ", "/", 1) for c in named)  # "PeerAuthentication ns/name" -> Kind/ns/name
    fixes = dict.fromkeys(fix for _, _, fix in causes)
    return fail(
        check,
        f"{count(len(plain), 'call-graph edge')} into {namespace} {'is' if len(plain) == 1 else 'are'} reported in "
        "plaintext (connection_security_policy=\"none\" from the destination's sidecar): "
        + "; ".join(text for text, _, _ in causes),
        "; ".join(fixes) + "; istio_requests_total counts since each pod started, so restart the receiving "
        "workloads after the fix (kubectl rollout restart deployment -n " + namespace + ") for old plaintext "
        "series to go",
        objects=tuple(dict.fromkeys((*blamed, *refs("Pod", bare)))),
        causes={f"{a}→{b}": text for (a, b), (text, _, _) in zip(plain, causes, strict=True)},
        named_objects=[c[1] for c in named],
        **diagnostics,
    )


def _cause(edge: Edge, record: EdgeSecurity, namespace: str, pods: Sequence[Obj], services: Sequence[Obj],
           peer_authentications: Sequence[Obj], destination_rules: Sequence[Obj],
           root_namespace: str) -> tuple[str, str, str]:
    """(what is wrong with the edge, the object to blame or "", what to do)."""
    caller, callee = edge
    share = record.plaintext / max(sum(record.policies.values()), 1.0)
    head = f"{caller}→{callee} ({share:.0%} of its requests)"
    caller_pods = _pods_of(pods, namespace, caller)
    callee_pods = _pods_of(pods, namespace, callee)
    bare = [p for p in caller_pods + callee_pods if not o.has_sidecar(p)]
    if bare:
        return (f"{head}: {listing(o.name(p) for p in bare)} {'has' if len(bare) == 1 else 'have'} no istio-proxy "
                "sidecar, so that side speaks plaintext", "",
                f"label namespace {namespace} istio-injection=enabled and restart those pods so they get a sidecar")
    labels = o.labels(callee_pods[0]) if callee_pods else {"app": callee}
    decision = peerauth.effective(peer_authentications, namespace, labels, root_namespace).weakest()
    if decision.mode == "DISABLE" and decision.source is not None:
        ref = o.ref(decision.source)
        return (f"{head}: PeerAuthentication {ref} sets mTLS mode DISABLE for {callee}", f"PeerAuthentication {ref}",
                f"delete PeerAuthentication {ref} or set its mtls.mode to STRICT (or PERMISSIVE)")
    service = next((s for s in services if o.namespace(s) == namespace
                    and o.selector_matches((s.get("spec") or {}).get("selector"), labels)), None)
    if service is not None:
        for rule in hosts.rules_for(service, destination_rules, namespace, root_namespace):
            if _tls_disabled(rule):
                ref = o.ref(rule)
                return (f"{head}: DestinationRule {ref} sets trafficPolicy.tls.mode DISABLE for host "
                        f"{hosts.host_of(rule)}, so {caller}'s sidecar sends plaintext", f"DestinationRule {ref}",
                        f"remove the tls section of DestinationRule {ref} (or set mode ISTIO_MUTUAL)")
    return (f"{head}: no PeerAuthentication or DestinationRule read here turns TLS off "
            f"({callee} is {decision.describe()})", "",
            "check meshConfig.enableAutoMtls is not false and that no DestinationRule in another namespace "
            f"overrides TLS for {callee} (istioctl x describe pod on a {callee} pod tells)")


def _pods_of(pods: Iterable[Obj], namespace: str, app: str) -> list[Obj]:
    return [p for p in pods if o.namespace(p) == namespace and o.app_of(p) == app]


def _tls_disabled(rule: Obj) -> bool:
    policy = (rule.get("spec") or {}).get("trafficPolicy") or {}
    modes = [(policy.get("tls") or {}).get("mode")]
    modes += [(p.get("tls") or {}).get("mode") for p in policy.get("portLevelSettings") or []]
    return "DISABLE" in modes


def strict_mtls(peer_authentications: Sequence[Obj], namespace: str, pods: Sequence[Obj],
                root_namespace: str = "istio-system") -> CheckResult:
    """A STRICT PeerAuthentication covers the namespace (mesh-wide or its own), and none narrower weakens it."""
    check = "telemetry.strict_mtls"
    space = peerauth.effective(peer_authentications, namespace, None, root_namespace).workload
    diagnostics = {"namespace_mode": space.describe(),
                   "peer_authentications": sorted(o.ref(p) for p in peer_authentications)}
    example = (f"apply a PeerAuthentication with spec.mtls.mode STRICT and no selector in {root_namespace} (mesh-wide) "
               f"or in {namespace}, e.g. the project's manifests/policy/peer-authentication.yaml")
    if space.mode != "STRICT":
        if space.source is None:
            return fail(check, f"no PeerAuthentication makes mTLS STRICT for namespace {namespace}: it is "
                               f"{space.describe()}, so sidecars also accept plaintext", example, **diagnostics)
        mesh, own, _ = peerauth.scopes(peer_authentications, namespace, None, root_namespace)
        overrides = (f", overriding the mesh-wide STRICT of {o.ref(mesh)}"
                     if mesh is not None and own is space.source and peerauth.mode(mesh) == "STRICT" else "")
        return fail(check, f"PeerAuthentication {o.ref(space.source)} sets mTLS mode {space.mode} for namespace "
                           f"{namespace}{overrides}, not STRICT",
                    f"set spec.mtls.mode: STRICT in PeerAuthentication {o.ref(space.source)} (or delete it if a "
                    "mesh-wide STRICT policy exists)", objects=refs("PeerAuthentication", [space.source]),
                    **diagnostics)
    weaker: dict[str, list[str]] = {}
    for pod in (p for p in pods if o.namespace(p) == namespace):
        decision = peerauth.effective(peer_authentications, namespace, o.labels(pod), root_namespace)
        if decision.workload.mode != "STRICT" and decision.workload.source is not None:
            weaker.setdefault(o.ref(decision.workload.source), []).append(
                f"{o.app_of(pod)} ({decision.workload.mode})")
        for port, port_decision in sorted(decision.ports.items()):
            if port_decision.mode != "STRICT" and port_decision.source is not None:
                weaker.setdefault(o.ref(port_decision.source), []).append(
                    f"{o.app_of(pod)} port {port} ({port_decision.mode})")
    if weaker:
        parts = [f"PeerAuthentication {ref} weakens it for {listing(sorted(set(what)))}"
                 for ref, what in weaker.items()]
        return fail(check, f"namespace {namespace} is STRICT ({space.describe()}) but " + "; ".join(parts),
                    "remove the workload-level mode or portLevelMtls that is not STRICT from "
                    + listing(f"PeerAuthentication {ref}" for ref in weaker),
                    objects=tuple(f"PeerAuthentication/{ref}" for ref in weaker), weakened=weaker, **diagnostics)
    return ok(check, f"mTLS is STRICT for namespace {namespace}: {space.describe()}, and no workload-level policy "
                     "weakens it", **diagnostics)
