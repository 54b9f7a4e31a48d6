"""Whether Istio's AuthorizationPolicies let one workload call another, judged from the caller's identity.

Follows Istio's authorization semantics (istio.io docs/reference/config/security/authorization-policy,
"Authorization Policy"; istio/istio pilot/pkg/security/authz/builder): policies apply to the workloads
their ``selector`` selects in their namespace (in every namespace for a policy in the root namespace),
or without one every workload of their namespace (of the mesh, from the root namespace); DENY is
evaluated before ALLOW; when any ALLOW policy applies a request must match one of its rules, and an
ALLOW policy without rules (``spec: {}``) matches nothing, so it denies by default. A rule matches
when each of its ``from``, ``to`` and ``when`` parts matches; a part with several entries matches
when one does. Strings match exactly, by prefix (``abc*``), by suffix (``*abc``) or as ``*``.

A call is judged by what the mesh knows of it: the caller's principal
``cluster.local/ns/NS/sa/SA``, namespace and ServiceAccount (``principals``, ``namespaces`` and, from
Istio 1.28, ``serviceAccounts``), and the callee's ports. What only a request carries
(methods, paths, hosts, JWT principals, ``when`` conditions, IP blocks) may narrow a rule: an ALLOW
rule that restricts them still lets the caller in for some requests, and a DENY rule that
restricts them is not taken to deny the whole call. Policies bound to a waypoint or gateway
(``targetRef``/``targetRefs``) and CUSTOM or AUDIT actions are not sidecar verdicts and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from meshcheck import objects as o

Obj = o.Obj

REQUEST_ONLY_SOURCE = ("requestPrincipals", "notRequestPrincipals", "ipBlocks", "notIpBlocks",
                       "remoteIpBlocks", "notRemoteIpBlocks")
REQUEST_ONLY_OPERATION = ("hosts", "notHosts", "methods", "notMethods", "paths", "notPaths")


def principal(namespace: str, service_account: str, trust_domain: str = "cluster.local") -> str:
    return f"{trust_domain}/ns/{namespace}/sa/{service_account}"


@dataclass(frozen=True)
class Caller:
    principal: str
    namespace: str

    @property
    def service_account(self) -> str:
        """The ServiceAccount named by a ``.../ns/NS/sa/SA`` principal ("" for another form)."""
        _, found, rest = self.principal.partition("/sa/")
        return rest.split("/", 1)[0] if found else ""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    by: Obj | None = None  # the DENY policy that denies, or the ALLOW policy that lets the call in
    reason: str = ""

    @property
    def by_ref(self) -> str:
        return o.ref(self.by) if self.by is not None else ""


def action(policy: Obj) -> str:
    return str((policy.get("spec") or {}).get("action") or "ALLOW").upper()


def selector(policy: Obj) -> dict[str, str]:
    return ((policy.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}


def rules(policy: Obj) -> list[Obj]:
    return [r if isinstance(r, dict) else {} for r in (policy.get("spec") or {}).get("rules") or []]


def sidecar_policy(policy: Obj) -> bool:
    """Applied by sidecars: ALLOW or DENY, not bound to a waypoint or gateway by targetRef(s)."""
    spec = policy.get("spec") or {}
    return action(policy) in ("ALLOW", "DENY") and not spec.get("targetRef") and not spec.get("targetRefs")


def applies(policy: Obj, namespace: str, labels: dict[str, str], root_namespace: str) -> bool:
    """Whether the policy governs the workload with pod ``labels`` in ``namespace``."""
    if not sidecar_policy(policy):
        return False
    if o.namespace(policy) not in (namespace, root_namespace):
        return False
    return not selector(policy) or o.selector_matches(selector(policy), labels)


def string_match(pattern: str, value: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return pattern == value


def _any(patterns: Iterable[str], value: str) -> bool:
    return any(string_match(str(p), value) for p in patterns)


def _account_match(value: str, caller: Caller, policy_namespace: str) -> bool:
    """``serviceAccounts`` (Istio 1.28): ``name`` in the policy's namespace, or ``namespace/name``
    (pilot/pkg/security/authz/model/generator.go ``serviceAccountRegex``)."""
    namespace, _, name = value.rpartition("/")
    return (namespace or policy_namespace) == caller.namespace and name == caller.service_account


def _source_matches(source: Obj, caller: Caller, strict: bool, policy_namespace: str = "") -> bool:
    """``strict``: a field only a request carries counts as not matching (for DENY)."""
    accounts = source.get("serviceAccounts")
    if accounts and not any(_account_match(str(a), caller, policy_namespace) for a in accounts):
        return False
    if source.get("notServiceAccounts") and any(_account_match(str(a), caller, policy_namespace)
                                                 for a in source["notServiceAccounts"]):
        return False
    if source.get("principals") and not _any(source["principals"], caller.principal):
        return False
    if source.get("notPrincipals") and _any(source["notPrincipals"], caller.principal):
        return False
    if source.get("namespaces") and not _any(source["namespaces"], caller.namespace):
        return False
    if source.get("notNamespaces") and _any(source["notNamespaces"], caller.namespace):
        return False
    return not (strict and any(source.get(k) for k in REQUEST_ONLY_SOURCE))


def _operation_matches(operation: Obj, ports: Sequence[int], strict: bool) -> bool:
    wanted = {str(p) for p in ports}
    if operation.get("ports") and not wanted & {str(p) for p in operation["ports"]}:
        return False
    if operation.get("notPorts") and wanted and wanted <= {str(p) for p in operation["notPorts"]}:
        return False
    return not (strict and any(operation.get(k) for k in REQUEST_ONLY_OPERATION))


def rule_matches(rule: Obj, caller: Caller, ports: Sequence[int], strict: bool = False,
                 policy_namespace: str = "") -> bool:
    """Whether a rule matches calls from ``caller`` to ``ports``; ``strict`` for DENY (see the module)."""
    sources = [(f or {}).get("source") or {} for f in rule.get("from") or []]
    if sources and not any(_source_matches(s, caller, strict, policy_namespace) for s in sources):
        return False
    operations = [(t or {}).get("operation") or {} for t in rule.get("to") or []]
    if operations and not any(_operation_matches(op, ports, strict) for op in operations):
        return False
    return not (strict and rule.get("when"))


def decide(policies: Iterable[Obj], namespace: str, labels: dict[str, str], caller: Caller,
           ports: Sequence[int] = (), root_namespace: str = "istio-system") -> Verdict:
    """Whether ``caller`` may call the workload with pod ``labels`` in ``namespace`` on ``ports``."""
    governing = [p for p in policies if applies(p, namespace, labels, root_namespace)]
    for policy in governing:
        if action(policy) == "DENY" and any(rule_matches(r, caller, ports, True, o.namespace(policy))
                                            for r in rules(policy)):
            return Verdict(False, policy, f"DENY policy {o.ref(policy)} matches it")
    allows = [p for p in governing if action(p) == "ALLOW"]
    if not allows:
        return Verdict(True, None, "no ALLOW policy applies, so everything not denied is allowed")
    for policy in allows:
        if any(rule_matches(r, caller, ports, False, o.namespace(policy)) for r in rules(policy)):
            return Verdict(True, policy, f"ALLOW policy {o.ref(policy)} matches it")
    names = ", ".join(o.ref(p) for p in allows)
    return Verdict(False, None, f"no rule of the ALLOW policies that apply ({names}) matches it")


def denies_by_default(policy: Obj) -> bool:
    """An allow-nothing ALLOW policy (no rules) or a deny-all DENY policy (a rule matching everything),
    without a selector: nothing is let in unless another policy allows it (allow-nothing) or at all."""
    if not sidecar_policy(policy) or selector(policy):
        return False
    if action(policy) == "ALLOW":
        return not rules(policy)
    return any(not r for r in rules(policy))


def open_to_all(policy: Obj) -> bool:
    """An ALLOW policy with a rule that any caller matches (no ``from``), e.g. ``rules: [{}]``."""
    return action(policy) == "ALLOW" and any(not r.get("from") for r in rules(policy))
