"""Kubernetes RBAC in the simulated API server: a scenario's user is bound to the roles of real manifests.

A scenario that says ``api: {role_from: manifests/grader, user: system:serviceaccount:NS:NAME}`` has its
requests authorized the way kube-apiserver's RBAC authorizer authorizes them, from the ClusterRoles, Roles,
ClusterRoleBindings and RoleBindings of that folder (the very files a grader applies), plus the bindings every
cluster bootstraps for ``system:authenticated`` (discovery, version and health, self-reviews). What is not
allowed is answered 403 Forbidden, before any handler sees the request, with the Status body kube-apiserver
writes. The point is that the project's grader role is *proved* sufficient (the whole suite passes under it)
and *necessary* (a narrower role fails the checks that need what it lacks), not assumed.

How a request becomes what RBAC judges follows k8s.io/apiserver's ``RequestInfoFactory`` (endpoints/request/
requestinfo.go): ``/api/v1/...`` and ``/apis/GROUP/VERSION/...`` are resource requests, with the namespace,
resource, name and subresource read from the path (``services/NAME/proxy/...`` is resource ``services``,
subresource ``proxy``, name ``NAME`` as written, ``kiali:20001`` included); the verb is the HTTP method's (GET
``get``, or ``list`` without a name, ``watch`` with ``?watch=true``; POST ``create``; PUT ``update``; PATCH
``patch``; DELETE ``delete`` or ``deletecollection``). Anything shorter (``/api``, ``/apis/GROUP/VERSION``,
``/version``) is a non-resource request, judged by its path. Rules match as in k8s.io/kubernetes
pkg/apis/rbac/v1/evaluation_helpers.go: verbs and API groups exactly or ``*``; resources exactly (``pods/log``),
``*``, or ``*/SUBRESOURCE``; resourceNames, when given, the request's name; nonResourceURLs exactly, ``*``, or a
prefix ending in ``*``. Subjects as pkg/registry/rbac/validation: a User by name, a Group by the user's groups,
a ServiceAccount as ``system:serviceaccount:NAMESPACE:NAME`` (a RoleBinding's own namespace when the subject
names none). Aggregated ClusterRoles (``aggregationRule``) are not expanded: the controller that would fill
them in does not run here, so only their listed rules count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from meshcheck.errors import ConfigError
from meshcheck.sim.protocol import SimRequest, SimResponse
from meshcheck.sim.statuses import status

Obj = dict[str, Any]

ROOT = Path(__file__).resolve().parents[2]  # a scenario's role_from is relative to the project's root
AUTHENTICATED = "system:authenticated"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"

# Request paths kube-apiserver serves as resources; everything else is a non-resource URL.
_API_PREFIXES = ("api", "apis")
_GROUPLESS = ("api",)
_SPECIAL_VERBS = ("proxy", "watch")  # /api/v1/watch/..., the deprecated /api/v1/proxy/...
_NAMESPACE_SUBRESOURCES = ("status", "finalize")
_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True)
class PolicyRule:
    """One rule of a Role or ClusterRole (rbac.authorization.k8s.io/v1 PolicyRule)."""

    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    resource_names: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    @classmethod
    def from_manifest(cls, rule: Obj) -> PolicyRule:
        return cls(
            verbs=tuple(rule.get("verbs") or ()),
            api_groups=tuple(rule.get("apiGroups") or ()),
            resources=tuple(rule.get("resources") or ()),
            resource_names=tuple(rule.get("resourceNames") or ()),
            non_resource_urls=tuple(rule.get("nonResourceURLs") or ()),
        )


@dataclass(frozen=True)
class Attributes:
    """What the authorizer is asked about one request (k8s.io/apiserver authorizer.Attributes)."""

    user: str
    groups: tuple[str, ...]
    verb: str
    path: str
    resource_request: bool
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""

    @property
    def combined_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def request_attributes(
    method: str, path: str, query: dict[str, list[str]], user: str, groups: Iterable[str]
) -> Attributes:
    """The attributes of a request, parsed from its method and path as kube-apiserver's RequestInfoFactory does."""
    groups = tuple(groups)
    non_resource = Attributes(user, groups, method.lower(), path, False)
    parts = path.strip("/").split("/") if path.strip("/") else []
    if len(parts) < 3 or parts[0] not in _API_PREFIXES:
        return non_resource
    prefix, parts = parts[0], parts[1:]
    group = ""
    if prefix not in _GROUPLESS:
        if len(parts) < 3:
            return non_resource
        group, parts = parts[0], parts[1:]
    version, parts = parts[0], parts[1:]
    if parts[0] in _SPECIAL_VERBS:
        if len(parts) < 2:
            return replace(non_resource, resource_request=True, api_group=group, api_version=version)
        verb, parts = parts[0], parts[1:]
    else:
        verb = _VERBS.get(method.upper(), "")
    namespace = ""
    if parts[0] == "namespaces" and len(parts) > 1:
        namespace = parts[1]
        if len(parts) > 2 and parts[2] not in _NAMESPACE_SUBRESOURCES:
            parts = parts[2:]
    resource = parts[0]
    name = parts[1] if len(parts) >= 2 else ""
    subresource = parts[2] if len(parts) >= 3 and verb != "proxy" else ""
    if not name and verb == "get":
        watch = (query.get("watch") or [""])[0].lower()
        verb = "list" if not query.get("watch") or watch in ("false", "0") else "watch"
    if not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(user, groups, verb, path, True, group, version, namespace, resource, subresource, name)


def rule_allows(attributes: Attributes, rule: PolicyRule) -> bool:
    """Whether one rule grants the request (evaluation_helpers.go RuleAllows)."""
    if not ("*" in rule.verbs or attributes.verb in rule.verbs):
        return False
    if not attributes.resource_request:
        return any(
            url == "*" or url == attributes.path or (url.endswith("*") and attributes.path.startswith(url.rstrip("*")))
            for url in rule.non_resource_urls
        )
    if not ("*" in rule.api_groups or attributes.api_group in rule.api_groups):
        return False
    if not _resource_matches(rule.resources, attributes):
        return False
    return not rule.resource_names or attributes.name in rule.resource_names


def _resource_matches(resources: tuple[str, ...], attributes: Attributes) -> bool:
    for resource in resources:
        if resource in ("*", attributes.combined_resource):
            return True
        if attributes.subresource and resource == f"*/{attributes.subresource}":
            return True
    return False


def groups_of(user: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The groups kube-apiserver's authenticators give a user: a ServiceAccount token's user is in
    ``system:serviceaccounts`` and ``system:serviceaccounts:NAMESPACE``; everyone authenticated in
    ``system:authenticated``."""
    groups = list(extra)
    if user.startswith(SERVICE_ACCOUNT_PREFIX):
        namespace = user[len(SERVICE_ACCOUNT_PREFIX):].split(":", 1)[0]
        groups += ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]
    return (*dict.fromkeys(groups), AUTHENTICATED)


# The bindings every cluster bootstraps for authenticated users (plugin/pkg/auth/authorizer/rbac/
# bootstrappolicy/policy.go, Kubernetes 1.34): discovery, version and health, and reviews of oneself.
BOOTSTRAP: tuple[Obj, ...] = (
    {"kind": "ClusterRole", "metadata": {"name": "system:discovery"}, "rules": [
        {"verbs": ["get"], "nonResourceURLs": ["/livez", "/readyz", "/healthz", "/version", "/version/", "/openapi",
                                               "/openapi/*", "/api", "/api/*", "/apis", "/apis/*"]}]},
    {"kind": "ClusterRole", "metadata": {"name": "system:public-info-viewer"}, "rules": [
        {"verbs": ["get"], "nonResourceURLs": ["/livez", "/readyz", "/healthz", "/version", "/version/"]}]},
    {"kind": "ClusterRole", "metadata": {"name": "system:basic-user"}, "rules": [
        {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
         "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
        {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]}]},
    *(
        {"kind": "ClusterRoleBinding", "metadata": {"name": name},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
         "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": AUTHENTICATED}]}
        for name in ("system:discovery", "system:public-info-viewer", "system:basic-user")
    ),
)


@dataclass
class Policy:
    """The RBAC objects of a cluster: roles by name, and the bindings that give them to subjects."""

    cluster_roles: dict[str, tuple[PolicyRule, ...]] = field(default_factory=dict)
    roles: dict[tuple[str, str], tuple[PolicyRule, ...]] = field(default_factory=dict)  # (namespace, name)
    bindings: list[Obj] = field(default_factory=list)  # ClusterRoleBindings and RoleBindings, as written

    @classmethod
    def from_documents(cls, documents: Iterable[Obj]) -> Policy:
        policy = cls()
        for doc in documents:
            kind, meta = doc.get("kind"), doc.get("metadata") or {}
            rules = tuple(PolicyRule.from_manifest(r) for r in doc.get("rules") or ())
            if kind == "ClusterRole":
                policy.cluster_roles[meta["name"]] = rules
            elif kind == "Role":
                policy.roles[(meta.get("namespace", "default"), meta["name"])] = rules
            elif kind in ("ClusterRoleBinding", "RoleBinding"):
                policy.bindings.append(doc)
        return policy

    @classmethod
    def from_folder(cls, folder: str | Path, *, bootstrap: bool = True) -> Policy:
        """The RBAC objects of every ``*.yaml`` in ``folder`` (relative to the project's root), plus the
        bindings every cluster has for authenticated users."""
        path = Path(folder) if Path(folder).is_absolute() else ROOT / folder
        files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
        if not files or not all(f.is_file() for f in files):
            raise ConfigError(f"role_from {folder}: no RBAC manifests there (looked for {path}/*.yaml)")
        documents = [d for f in files for d in yaml.safe_load_all(f.read_text()) if isinstance(d, dict)]
        return cls.from_documents([*(BOOTSTRAP if bootstrap else ()), *documents])

    def without(self, resources: Iterable[str]) -> Policy:
        """The same policy with these resources (``services/proxy``) struck from every role: a narrower role."""
        gone = set(resources)

        def narrow(rules: tuple[PolicyRule, ...]) -> tuple[PolicyRule, ...]:
            kept = (replace(r, resources=tuple(x for x in r.resources if x not in gone)) for r in rules)
            return tuple(r for r in kept if r.resources or r.non_resource_urls)

        return Policy(
            {name: narrow(rules) for name, rules in self.cluster_roles.items()},
            {key: narrow(rules) for key, rules in self.roles.items()},
            list(self.bindings),
        )

    def allows(self, attributes: Attributes) -> bool:
        """Whether any binding that applies to the user gives a role with a rule that allows the request:
        ClusterRoleBindings everywhere, RoleBindings in their own namespace only."""
        for binding in self.bindings:
            namespace = (binding.get("metadata") or {}).get("namespace", "") if binding["kind"] == "RoleBinding" else ""
            if namespace and namespace != attributes.namespace:
                continue
            if not any(_applies(s, attributes, namespace) for s in binding.get("subjects") or ()):
                continue
            if any(rule_allows(attributes, rule) for rule in self._rules(binding["roleRef"], namespace)):
                return True
        return False

    def _rules(self, ref: Obj, namespace: str) -> tuple[PolicyRule, ...]:
        if ref.get("kind") == "Role":
            return self.roles.get((namespace, ref.get("name", "")), ())
        return self.cluster_roles.get(ref.get("name", ""), ())


def _applies(subject: Obj, attributes: Attributes, namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "User":
        return name == attributes.user
    if kind == "Group":
        return name in attributes.groups
    if kind == "ServiceAccount":
        return f"{SERVICE_ACCOUNT_PREFIX}{subject.get('namespace') or namespace}:{name}" == attributes.user
    return False


def forbidden(attributes: Attributes) -> SimResponse:
    """403 as kube-apiserver writes it (endpoints/handlers/responsewriters/errors.go ``Forbidden`` and
    apimachinery's ``NewForbidden``): a Status naming the user, the verb, the resource (with its subresource)
    and API group, and the namespace or the cluster scope; for a non-resource request, the path."""
    if not attributes.resource_request:
        said = f'User "{attributes.user}" cannot {attributes.verb} path "{attributes.path}"'
        return status(403, "Forbidden", _sanitized(f"forbidden: {said}"))
    scope = f'in the namespace "{attributes.namespace}"' if attributes.namespace else "at the cluster scope"
    said = (f'User "{attributes.user}" cannot {attributes.verb} resource "{attributes.combined_resource}" '
            f'in API group "{attributes.api_group}" {scope}')
    resource = f"{attributes.resource}.{attributes.api_group}" if attributes.api_group else attributes.resource
    named = f' "{attributes.name}"' if attributes.name else ""
    details = {k: v for k, v in (("name", attributes.name), ("group", attributes.api_group),
                                 ("kind", attributes.resource)) if v}
    return status(403, "Forbidden", f"{resource}{named} is forbidden: {_sanitized(said)}", details)


def _sanitized(text: str) -> str:
    """kube-apiserver escapes what could read as HTML in a Forbidden message."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Authorizer:
    """Authorizes each request of a scenario's user against a ``Policy``; None when allowed."""

    def __init__(self, policy: Policy, groups: Iterable[str] = ()) -> None:
        self.policy = policy
        self.extra_groups = tuple(groups)

    @classmethod
    def for_scenario(cls, api: Obj) -> Authorizer | None:
        """From a scenario's ``api`` settings: ``role_from`` (a folder of RBAC manifests), ``role_without``
        (resources to strike from its roles, a narrower role), ``group`` (another group of the user)."""
        folder = api.get("role_from")
        if not folder:
            return None
        policy = Policy.from_folder(str(folder))
        if api.get("role_without"):
            policy = policy.without(api["role_without"])
        return cls(policy, [api["group"]] if api.get("group") else [])

    def check(self, request: SimRequest) -> SimResponse | None:
        """None when the request's user may make it, else the 403 to answer."""
        user = request.user or ""
        attributes = request_attributes(request.method, request.path, request.query, user,
                                        groups_of(user, self.extra_groups))
        return None if self.policy.allows(attributes) else forbidden(attributes)
