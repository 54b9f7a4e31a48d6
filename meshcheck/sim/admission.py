"""Admission, as kube-apiserver runs it before storing a write: NamespaceLifecycle, then the webhooks
that registered for the request.

- NamespaceLifecycle (plugin/pkg/admission/namespace/lifecycle): a namespaced object can only be
  created in a namespace that exists, else 404 NotFound ``namespaces "x" not found``.
- Webhooks (staging/src/k8s.io/apiserver/pkg/admission/plugin/webhook): a webhook is called when one
  of its rules matches the request's group, version, resource and operation, its namespaceSelector
  the namespace's labels and its objectSelector the object's labels (an empty selector matches all).
  The API server calls the webhook's Service; a Service without ready endpoints refuses the
  connection, and with ``failurePolicy: Fail`` the request fails with 500 InternalError,
  ``failed calling webhook "<name>": failed to call webhook: Post "https://<svc>.<ns>.svc:<port><path>
  ?timeout=<n>s": dial tcp <clusterIP>:<port>: connect: connection refused`` (the message MetalLB's
  users meet while its controller starts, metallb/metallb#1540); ``Ignore`` lets it through.
  A reachable webhook is taken to allow the request; Istio's sidecar injector also mutates pods
  (``injection``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meshcheck.sim import endpoints, injection
from meshcheck.sim.resources import Resource
from meshcheck.sim.world import World

Obj = dict[str, Any]


@dataclass(frozen=True)
class Refusal:
    """Why admission refused a request: the HTTP status, the Status reason and body."""

    code: int
    body: Obj


def namespace_missing(world: World, resource: Resource, namespace: str) -> Refusal | None:
    if not resource.namespaced or any(n["metadata"]["name"] == namespace for n in world.of_kind("namespaces")):
        return None
    return Refusal(404, _status(404, "NotFound", f'namespaces "{namespace}" not found',
                                {"name": namespace, "kind": "namespaces"}))


def admit(world: World, operation: str, resource: Resource, version: str, obj: Obj) -> tuple[Obj, Refusal | None]:
    """Run the matching webhooks, mutating ones first: the object as they leave it, or the refusal."""
    namespace = obj.get("metadata", {}).get("namespace", "")
    ns_labels = _namespace_labels(world, namespace) if resource.namespaced else None
    for plural in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
        for config in sorted(world.of_kind(plural), key=lambda c: c["metadata"]["name"]):
            for hook in config.get("webhooks") or []:
                if not _matches(hook, operation, resource, version, ns_labels, obj):
                    continue
                failure = _unreachable(world, hook)
                if failure is not None:
                    if hook.get("failurePolicy", "Fail") == "Fail":
                        return obj, failure
                    continue
                if plural.startswith("mutating") and injection.is_injector(hook) and resource.plural == "pods":
                    obj = injection.inject(world, obj, hook)
    return obj, None


def _namespace_labels(world: World, namespace: str) -> dict[str, str]:
    found = next((n for n in world.of_kind("namespaces") if n["metadata"]["name"] == namespace), None)
    return dict((found or {}).get("metadata", {}).get("labels") or {})


def _matches(hook: Obj, operation: str, resource: Resource, version: str, ns_labels: dict[str, str] | None,
             obj: Obj) -> bool:
    if not any(_rule_matches(rule, operation, resource, version) for rule in hook.get("rules") or []):
        return False
    if ns_labels is not None and not selector_matches(hook.get("namespaceSelector"), ns_labels):
        return False
    return selector_matches(hook.get("objectSelector"), obj.get("metadata", {}).get("labels") or {})


def _rule_matches(rule: Obj, operation: str, resource: Resource, version: str) -> bool:
    def has(values: list[str] | None, wanted: str) -> bool:
        return bool(values) and ("*" in values or wanted in values)

    scope = rule.get("scope", "*")
    scoped = scope == "*" or (scope == "Namespaced") == resource.namespaced
    return (has(rule.get("operations"), operation) and has(rule.get("apiGroups"), resource.group)
            and has(rule.get("apiVersions"), version) and has(rule.get("resources"), resource.plural) and scoped)


def selector_matches(selector: Obj | None, labels: dict[str, str]) -> bool:
    """A LabelSelector on labels (metav1.LabelSelectorAsSelector): an empty or absent one matches all."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key", ""), expression.get("operator"), expression.get("values") or []
        present = key in labels
        if (operator == "In" and not (present and labels[key] in values)) or (
            operator == "NotIn" and present and labels[key] in values
        ) or (operator == "Exists" and not present) or (operator == "DoesNotExist" and present):
            return False
    return True


def _unreachable(world: World, hook: Obj) -> Refusal | None:
    """The InternalError a call to this webhook's Service meets, or None when its Service answers."""
    config = hook.get("clientConfig") or {}
    target = config.get("service")
    if not target:
        return None  # a webhook at a URL outside the cluster: taken to answer
    name, namespace = target.get("name", ""), target.get("namespace", "")
    port, path = target.get("port", 443), target.get("path", "")
    url = f"https://{name}.{namespace}.svc:{port}{path}?timeout={hook.get('timeoutSeconds', 10)}s"
    service = endpoints.service(world, namespace, name)
    if service is None:
        reason = f'service "{name}" not found'
    elif not endpoints.ready_pods(world, service):
        reason = f"dial tcp {service['spec'].get('clusterIP', '')}:{port}: connect: connection refused"
    else:
        return None
    cause = f'failed calling webhook "{hook.get("name", "")}": failed to call webhook: Post "{url}": {reason}'
    body = _status(500, "InternalError", f"Internal error occurred: {cause}", {"causes": [{"message": cause}]})
    return Refusal(500, body)


def _status(code: int, reason: str, message: str, details: Obj) -> Obj:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "details": details, "code": code}
