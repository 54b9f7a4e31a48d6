"""Which PeerAuthentication decides a workload's mTLS mode, composed as istiod composes it.

Follows istio/istio pilot/pkg/security/authn/policy_applier.go ``ComposePeerAuthentication`` (1.28):
a policy without a selector in the root namespace is mesh-wide, one without a selector elsewhere is
namespace-wide, one with a selector (outside the root namespace) is workload-level; the narrowest
scope wins, the oldest policy wins within a scope, and UNSET inherits from the scope above (a
port-level UNSET from the workload's mode). Nothing at all means PERMISSIVE. Istio's validation
refuses ``portLevelMtls`` without a selector (pkg/config/validation ``ValidatePeerAuthentication``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from meshcheck import objects as o

Obj = o.Obj

UNSET = "UNSET"
DEFAULT_MODE = "PERMISSIVE"


@dataclass(frozen=True)
class Decision:
    """A mode and the PeerAuthentication that set it (None: Istio's default, PERMISSIVE)."""

    mode: str
    source: Obj | None = None

    def describe(self) -> str:
        if self.source is None:
            return f"{self.mode} (Istio's default: no PeerAuthentication applies)"
        return f"{self.mode} (PeerAuthentication {o.ref(self.source)})"


@dataclass(frozen=True)
class Effective:
    """A workload's mTLS mode and, per port of its pods, any port-level mode that differs."""

    workload: Decision
    ports: dict[int, Decision] = field(default_factory=dict)

    def for_port(self, port: int | None) -> Decision:
        return self.ports.get(port, self.workload) if port is not None else self.workload

    def weakest(self) -> Decision:
        """The workload's mode, or a port-level one that is less strict."""
        weaker = [d for d in self.ports.values() if d.mode != "STRICT"]
        return self.workload if self.workload.mode != "STRICT" or not weaker else weaker[0]


def mode(policy: Obj) -> str:
    """The policy's own mode (UNSET when ``mtls`` or its mode is absent)."""
    return str(((policy.get("spec") or {}).get("mtls") or {}).get("mode") or UNSET).upper()


def selector(policy: Obj) -> dict[str, str]:
    return ((policy.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}


def port_modes(policy: Obj) -> dict[int, str]:
    raw = (policy.get("spec") or {}).get("portLevelMtls") or {}
    return {int(port): str((value or {}).get("mode") or UNSET).upper() for port, value in raw.items()}


def _oldest(policies: Iterable[Obj]) -> Obj | None:
    return min(policies, key=lambda p: (p.get("metadata", {}).get("creationTimestamp") or "", o.name(p)),
               default=None)


def scopes(policies: Iterable[Obj], namespace: str, labels: dict[str, str] | None,
           root_namespace: str) -> tuple[Obj | None, Obj | None, Obj | None]:
    """(mesh-wide, namespace-wide, workload-level) policies that apply; ``labels`` None: no workload."""
    policies = list(policies)
    mesh = _oldest(p for p in policies if o.namespace(p) == root_namespace and not selector(p))
    space = _oldest(p for p in policies
                    if o.namespace(p) == namespace != root_namespace and not selector(p))
    workload = None
    if labels is not None:
        workload = _oldest(p for p in policies if o.namespace(p) == namespace != root_namespace
                           and selector(p) and o.selector_matches(selector(p), labels))
    return mesh, space, workload


def effective(policies: Iterable[Obj], namespace: str, labels: dict[str, str] | None,
              root_namespace: str = "istio-system") -> Effective:
    """The mode for a workload's pods (``labels``) in ``namespace``; for the namespace itself with None."""
    decision = Decision(DEFAULT_MODE)
    mesh, space, workload = scopes(policies, namespace, labels, root_namespace)
    for policy in (mesh, space, workload):
        if policy is not None and mode(policy) != UNSET:
            decision = Decision(mode(policy), policy)
    ports: dict[int, Decision] = {}
    if workload is not None:
        for port, port_mode in port_modes(workload).items():
            ports[port] = decision if port_mode == UNSET else Decision(port_mode, workload)
    return Effective(decision, ports)
