"""The Kubernetes REST API over the simulated cluster's objects, as a pure request -> response function.

What a client relies on is served the way kube-apiserver serves it: discovery (/version, /api,
/apis, resource lists), list and get for every kind the suite reads, label and field selectors,
metadata-only lists (PartialObjectMetadataList), and failures as ``Status`` objects with the
reason and code the API uses (NotFound, Forbidden, Unauthorized, ServiceUnavailable).
The simulated user is bound to a read-only role: anything but GET on a resource is Forbidden.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from meshcheck.sim.protocol import SimRequest, SimResponse
from meshcheck.sim.scenario import release

Obj = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    group: str
    versions: tuple[str, ...]  # the first is preferred
    plural: str
    kind: str
    namespaced: bool
    short: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Where the builder stores these objects: the plural, qualified for add-on groups."""
        return self.plural if self.group in CORE_GROUPS else f"{self.plural}.{self.group}"


CORE_GROUPS = ("", "apps", "rbac.authorization.k8s.io", "admissionregistration.k8s.io", "networking.k8s.io")
READ_VERBS = ["get", "list", "watch"]
ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

BUILTIN = (
    Resource("", ("v1",), "namespaces", "Namespace", False, ("ns",)),
    Resource("", ("v1",), "nodes", "Node", False, ("no",)),
    Resource("", ("v1",), "pods", "Pod", True, ("po",)),
    Resource("", ("v1",), "services", "Service", True, ("svc",)),
    Resource("", ("v1",), "serviceaccounts", "ServiceAccount", True, ("sa",)),
    Resource("", ("v1",), "configmaps", "ConfigMap", True, ("cm",)),
    Resource("", ("v1",), "secrets", "Secret", True),
    Resource("apps", ("v1",), "deployments", "Deployment", True, ("deploy",)),
    Resource("rbac.authorization.k8s.io", ("v1",), "clusterroles", "ClusterRole", False),
    Resource("rbac.authorization.k8s.io", ("v1",), "clusterrolebindings", "ClusterRoleBinding", False),
    Resource(
        "admissionregistration.k8s.io", ("v1",), "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", False
    ),
    Resource("networking.k8s.io", ("v1",), "ingresses", "Ingress", True, ("ing",)),
)
ISTIO = (
    Resource("networking.istio.io", ("v1", "v1beta1", "v1alpha3"), "gateways", "Gateway", True, ("gw",)),
    Resource("networking.istio.io", ("v1", "v1beta1", "v1alpha3"), "virtualservices", "VirtualService", True, ("vs",)),
)
ISTIO_BEFORE_1_22 = tuple(Resource(r.group, ("v1beta1", "v1alpha3"), r.plural, r.kind, True, r.short) for r in ISTIO)
GATEWAY_API = (
    Resource("gateway.networking.k8s.io", ("v1", "v1beta1"), "gateways", "Gateway", True, ("gtw",)),
    Resource("gateway.networking.k8s.io", ("v1", "v1beta1"), "httproutes", "HTTPRoute", True),
)
METALLB = (
    Resource("metallb.io", ("v1beta1",), "ipaddresspools", "IPAddressPool", True),
    Resource("metallb.io", ("v1beta1",), "l2advertisements", "L2Advertisement", True),
)
# TokenRequest: a subresource that tells clients tokens can be requested for service accounts.
TOKEN_SUBRESOURCE = {
    "name": "serviceaccounts/token",
    "singularName": "",
    "namespaced": True,
    "group": "authentication.k8s.io",
    "version": "v1",
    "kind": "TokenRequest",
    "verbs": ["create"],
}


def status(code: int, reason: str, message: str, details: Obj | None = None) -> SimResponse:
    body: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return SimResponse.json(body, code)


class ApiServer:
    """Serves ``objects`` (as built for a ``World``) for the resources this cluster has installed."""

    def __init__(
        self,
        objects: dict[str, list[Obj]],
        resources: tuple[Resource, ...],
        *,
        git_version: str,
        user: str = "meshcheck-sim",
        forbidden: frozenset[str] = frozenset(),
    ) -> None:
        self.objects = objects
        self.resources = resources
        self.git_version = git_version
        self.user = user
        self.forbidden = forbidden  # resources the simulated user's role may not read

    # --- dispatch -----------------------------------------------------------------------------

    def handle(self, request: SimRequest) -> SimResponse:
        path = request.path.rstrip("/") or "/"
        if request.method != "GET":
            return self._forbidden_write(request)
        if path == "/version":
            return SimResponse.json(self._version())
        if path == "/api":
            return SimResponse.json(
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "172.18.0.2:6443"}],
                }
            )
        if path == "/apis":
            return SimResponse.json(self._group_list())
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        elif parts[0] == "apis" and len(parts) == 2:
            return self._group(parts[1])
        else:
            return SimResponse.text("404 page not found\n", 404)
        served = [r for r in self.resources if r.group == group and version in r.versions]
        if not served:
            return SimResponse.text("404 page not found\n", 404)
        if not rest:
            return SimResponse.json(self._resource_list(group, version, served))
        return self._objects(request, group, version, rest)

    def _objects(self, request: SimRequest, group: str, version: str, rest: list[str]) -> SimResponse:
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        resource = next(
            (r for r in self.resources if r.group == group and version in r.versions and r.plural == rest[0]), None
        )
        if resource is None or len(rest) > 2:
            return status(404, "NotFound", "the server could not find the requested resource")
        if namespace and not resource.namespaced:
            return status(404, "NotFound", "the server could not find the requested resource")
        if resource.plural in self.forbidden:
            scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
            return status(
                403,
                "Forbidden",
                f'{resource.plural} is forbidden: User "{self.user}" cannot '
                f'list resource "{resource.plural}" in API group "{group}" {scope}',
                {"kind": resource.plural},
            )
        items = [
            o
            for o in self.objects.get(resource.key, [])
            if namespace is None or o["metadata"].get("namespace") == namespace
        ]
        api_version = f"{group}/{version}" if group else version
        if len(rest) == 2:
            found = next((o for o in items if o["metadata"]["name"] == rest[1]), None)
            if found is None:
                return status(
                    404,
                    "NotFound",
                    f'{resource.plural}{"." + group if group else ""} "{rest[1]}" not found',
                    {"name": rest[1], "group": group, "kind": resource.plural},
                )
            return SimResponse.json(self._present(found, resource, api_version, request, single=True))
        try:
            items = [
                o
                for o in items
                if _labels_match(o, request.arg("labelSelector", "") or "")
                and _fields_match(o, request.arg("fieldSelector", "") or "")
            ]
        except ValueError as exc:
            return status(400, "BadRequest", f"unable to parse requirement: {exc}")
        return SimResponse.json(self._list(items, resource, api_version, request))

    # --- documents ----------------------------------------------------------------------------

    def _version(self) -> Obj:
        major, minor = self.git_version.lstrip("v").split(".")[:2]
        return {
            "major": major,
            "minor": minor,
            "gitVersion": self.git_version,
            "gitCommit": "4b8e819355d791d96b7e9d9efe4cbafae2311c88",
            "gitTreeState": "clean",
            "buildDate": "2024-02-14T22:24:00Z",
            "goVersion": "go1.21.7",
            "compiler": "gc",
            "platform": "linux/amd64",
        }

    def _groups(self) -> dict[str, tuple[str, ...]]:
        groups: dict[str, tuple[str, ...]] = {}
        for r in self.resources:
            if r.group:
                groups.setdefault(r.group, r.versions)
        return groups

    def _group_doc(self, name: str, versions: tuple[str, ...]) -> Obj:
        entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
        return {"name": name, "versions": entries, "preferredVersion": entries[0]}

    def _group_list(self) -> Obj:
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [self._group_doc(n, v) for n, v in self._groups().items()],
        }

    def _group(self, name: str) -> SimResponse:
        versions = self._groups().get(name)
        if versions is None:
            return SimResponse.text("404 page not found\n", 404)
        return SimResponse.json({"kind": "APIGroup", "apiVersion": "v1", **self._group_doc(name, versions)})

    def _resource_list(self, group: str, version: str, served: list[Resource]) -> Obj:
        resources = []
        for r in served:
            entry = {
                "name": r.plural,
                "singularName": r.kind.lower(),
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": ALL_VERBS,
                "storageVersionHash": r.kind[:8].ljust(8, "="),
            }
            if r.short:
                entry["shortNames"] = list(r.short)
            resources.append(entry)
            if r.plural == "serviceaccounts":
                resources.append(TOKEN_SUBRESOURCE)
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    def _present(self, obj: Obj, resource: Resource, api_version: str, request: SimRequest, single: bool) -> Obj:
        if _metadata_only(request):
            return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]}
        if single or resource.group not in CORE_GROUPS:
            return {"kind": resource.kind, **obj, "apiVersion": api_version}
        return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}

    def _list(self, items: list[Obj], resource: Resource, api_version: str, request: SimRequest) -> Obj:
        presented = [self._present(o, resource, api_version, request, single=False) for o in items]
        if _metadata_only(request):
            return {
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": {"resourceVersion": "48213"},
                "items": presented,
            }
        return {
            "kind": f"{resource.kind}List",
            "apiVersion": api_version,
            "metadata": {"resourceVersion": "48213"},
            "items": presented,
        }

    def _forbidden_write(self, request: SimRequest) -> SimResponse:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
            request.method, request.method.lower()
        )
        parts = request.path.strip("/").split("/")
        plural = parts[-1] if verb == "create" else (parts[-2] if len(parts) >= 2 else parts[-1])
        return status(
            403,
            "Forbidden",
            f'{plural} is forbidden: User "{self.user}" cannot {verb} resource '
            f'"{plural}": the simulated cluster grants a read-only role',
            {"kind": plural},
        )


def _metadata_only(request: SimRequest) -> bool:
    return "as=PartialObjectMetadata" in request.headers.get("accept", "")


_SET_RE = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_requirements(selector: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in selector:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _labels_match(obj: Obj, selector: str) -> bool:
    """Kubernetes label selector syntax: =, ==, !=, in, notin, key, !key."""
    labels = obj["metadata"].get("labels") or {}
    for requirement in _split_requirements(selector):
        match = _SET_RE.match(requirement)
        if match:
            key, op, values = match.group(1), match.group(2), {v.strip() for v in match.group(3).split(",")}
            if (labels.get(key) in values) != (op == "in") or (op == "in" and key not in labels):
                return False
        elif "!=" in requirement:
            key, value = (s.strip() for s in requirement.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in requirement:
            key, value = (s.strip() for s in requirement.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif requirement.startswith("!"):
            if requirement[1:].strip() in labels:
                return False
        elif re.fullmatch(r"[\w./-]+", requirement):
            if requirement not in labels:
                return False
        else:
            raise ValueError(requirement)
    return True


def _fields_match(obj: Obj, selector: str) -> bool:
    """Field selectors on dotted paths (metadata.name, status.phase, spec.nodeName, type)."""
    for requirement in _split_requirements(selector):
        negate = "!=" in requirement
        key, value = (s.strip() for s in re.split(r"!=|==|=", requirement, maxsplit=1))
        current: Any = obj
        for part in key.split("."):
            current = current.get(part) if isinstance(current, dict) else None
        if (str(current) == value if current is not None else value == "") == negate:
            return False
    return True


def resources_for(model: Obj) -> tuple[Resource, ...]:
    """The API a cluster in this scenario serves: built-ins plus the CRDs its installers add."""
    served = list(BUILTIN)
    served += ISTIO if release(model["istio"]["version"]) >= (1, 22) else ISTIO_BEFORE_1_22
    if model["ingress"]["kind"] == "gateway-api":
        served += GATEWAY_API
    metallb = model.get("metallb") or {}
    if metallb.get("installed") and release(metallb.get("version", "v0.13")) >= (0, 13):
        served += METALLB
    return tuple(served)


def dumps(obj: Obj) -> bytes:
    return json.dumps(obj).encode()
