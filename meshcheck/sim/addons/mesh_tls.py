"""Whether a simulated call arrives over Istio mTLS: the ``connection_security_policy`` its destination reports.

Istio's destination proxy labels a request ``mutual_tls`` when it arrived over Istio mTLS and ``none``
otherwise (istio.io docs/reference/config/metrics/ "Labels"). With auto mTLS (meshConfig.enableAutoMtls,
on by default) a client sidecar sends mTLS to a destination that has a sidecar unless the destination's
PeerAuthentication disables it or a DestinationRule for its host sets ``tls.mode: DISABLE``
(istio.io docs/concepts/security "Auto mutual TLS"; pilot/pkg/networking/core/cluster_tls.go). A caller
without a sidecar always sends plaintext. The PeerAuthentication that applies is composed as istiod
composes it (pilot/pkg/security/authn/policy_applier.go ``ComposePeerAuthentication``): workload over
namespace over mesh (root namespace), the oldest within a scope, UNSET inheriting.
"""

from __future__ import annotations

from typing import Any

from meshcheck.sim.world import World

Obj = dict[str, Any]

MUTUAL_TLS, NONE = "mutual_tls", "none"
PEER_AUTHENTICATIONS = "peerauthentications.security.istio.io"
DESTINATION_RULES = "destinationrules.networking.istio.io"


def security_policy(world: World, caller: str, callee: str) -> str:
    """What the callee's sidecar reports for calls from ``caller``: "mutual_tls" or "none"."""
    ns = world.namespace
    if any(not _has_sidecar(p) for p in _pods(world, caller)):
        return NONE
    callee_pods = _pods(world, callee)
    labels = (callee_pods[0]["metadata"].get("labels") or {}) if callee_pods else {"app": callee}
    if _peer_mode(world, ns, labels) == "DISABLE":
        return NONE
    host = f"{callee}.{ns}.svc.cluster.local"
    for rule in world.of_kind(DESTINATION_RULES):
        if rule["metadata"].get("namespace") not in (ns, world.istio_namespace):
            continue
        spec = rule.get("spec") or {}
        written = str(spec.get("host") or "")
        short = "." not in written and written != "*"
        resolved = f"{written}.{rule['metadata']['namespace']}.svc.cluster.local" if short else written
        if resolved in (host, "*") or (resolved.startswith("*.") and host.endswith(resolved[1:])):
            policy = spec.get("trafficPolicy") or {}
            if (policy.get("tls") or {}).get("mode") == "DISABLE":
                return NONE
    return MUTUAL_TLS


def _pods(world: World, app: str) -> list[Obj]:
    return [p for p in world.of_kind("pods", world.namespace) if (p["metadata"].get("labels") or {}).get("app") == app]


def _has_sidecar(pod: Obj) -> bool:
    """An istio-proxy container, or a native sidecar (an init container of that name)."""
    spec = pod.get("spec") or {}
    return any(c.get("name") == "istio-proxy" for c in [*(spec.get("containers") or []),
                                                        *(spec.get("initContainers") or [])])


def _peer_mode(world: World, namespace: str, labels: dict[str, str]) -> str:
    def selector(p: Obj) -> dict[str, str]:
        return ((p.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}

    def oldest(found: list[Obj]) -> Obj | None:
        return min(found, key=lambda p: (p["metadata"].get("creationTimestamp", ""), p["metadata"]["name"]),
                   default=None)

    policies = world.of_kind(PEER_AUTHENTICATIONS)
    root = world.istio_namespace
    mesh = oldest([p for p in policies if p["metadata"].get("namespace") == root and not selector(p)])
    space = oldest([p for p in policies if p["metadata"].get("namespace") == namespace != root and not selector(p)])
    workload = oldest([p for p in policies if p["metadata"].get("namespace") == namespace != root and selector(p)
                       and all(labels.get(k) == v for k, v in selector(p).items())])
    mode = "PERMISSIVE"
    for policy in (mesh, space, workload):
        found = str(((policy or {}).get("spec") or {}).get("mtls", {}).get("mode") or "UNSET").upper()
        if policy is not None and found != "UNSET":
            mode = found
    return mode
