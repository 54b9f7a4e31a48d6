"""The Kubernetes REST API over the simulated cluster's objects, as a pure request -> response function.

What a client relies on is served the way kube-apiserver serves it: discovery (/version, /api,
/apis, resource lists; aggregated discovery for clients that ask for it), list and get for every
kind the suite reads, label and field selectors, the representations a client negotiates (the
object, PartialObjectMetadata(List), a Table for kubectl, 406 when none is served), and failures
as ``Status`` objects with the reason and code the API uses (NotFound, Forbidden, Unauthorized,
NotAcceptable, ServiceUnavailable). The simulated user is bound to a read-only role: anything but
GET on a resource is Forbidden.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

from meshcheck.sim import discovery, negotiation, tables
from meshcheck.sim.negotiation import Representation
from meshcheck.sim.printers import printer_for
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
    categories: tuple[str, ...] = ()  # e.g. "all": what `kubectl get all` lists

    @property
    def key(self) -> str:
        """Where the builder stores these objects: the plural, qualified for add-on groups."""
        return self.plural if self.group in CORE_GROUPS else f"{self.plural}.{self.group}"


CORE_GROUPS = ("", "apps", "rbac.authorization.k8s.io", "admissionregistration.k8s.io", "networking.k8s.io")
LIST_RESOURCE_VERSION = "48213"

BUILTIN = (
    Resource("", ("v1",), "namespaces", "Namespace", False, ("ns",)),
    Resource("", ("v1",), "nodes", "Node", False, ("no",)),
    Resource("", ("v1",), "pods", "Pod", True, ("po",), ("all",)),
    Resource("", ("v1",), "services", "Service", True, ("svc",), ("all",)),
    Resource("", ("v1",), "serviceaccounts", "ServiceAccount", True, ("sa",)),
    Resource("", ("v1",), "configmaps", "ConfigMap", True, ("cm",)),
    Resource("", ("v1",), "secrets", "Secret", True),
    Resource("apps", ("v1",), "deployments", "Deployment", True, ("deploy",), ("all",)),
    Resource("rbac.authorization.k8s.io", ("v1",), "clusterroles", "ClusterRole", False),
    Resource("rbac.authorization.k8s.io", ("v1",), "clusterrolebindings", "ClusterRoleBinding", False),
    Resource(
        "admissionregistration.k8s.io", ("v1",), "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", False
    ),
    Resource("networking.k8s.io", ("v1",), "ingresses", "Ingress", True, ("ing",)),
)
ISTIO_CATEGORIES = ("istio-io", "networking-istio-io")
ISTIO = (
    Resource(
        "networking.istio.io", ("v1", "v1beta1", "v1alpha3"), "gateways", "Gateway", True, ("gw",), ISTIO_CATEGORIES
    ),
    Resource(
        "networking.istio.io",
        ("v1", "v1beta1", "v1alpha3"),
        "virtualservices",
        "VirtualService",
        True,
        ("vs",),
        ISTIO_CATEGORIES,
    ),
)
ISTIO_BEFORE_1_22 = tuple(dataclasses.replace(r, versions=("v1beta1", "v1alpha3")) for r in ISTIO)
GATEWAY_API = (
    Resource("gateway.networking.k8s.io", ("v1", "v1beta1"), "gateways", "Gateway", True, ("gtw",)),
    Resource("gateway.networking.k8s.io", ("v1", "v1beta1"), "httproutes", "HTTPRoute", True),
)
METALLB = (
    Resource("metallb.io", ("v1beta1",), "ipaddresspools", "IPAddressPool", True),
    Resource("metallb.io", ("v1beta1",), "l2advertisements", "L2Advertisement", True),
)


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
        if path in ("/api", "/apis"):
            return self._discovery(request, core=path == "/api")
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        elif parts[0] == "apis" and len(parts) == 2:
            document = discovery.group(self.resources, parts[1])
            return SimResponse.json(document) if document else SimResponse.text("404 page not found\n", 404)
        else:
            return SimResponse.text("404 page not found\n", 404)
        served = [r for r in self.resources if r.group == group and version in r.versions]
        if not served:
            return SimResponse.text("404 page not found\n", 404)
        if not rest:
            return SimResponse.json(discovery.resource_list(group, version, served))
        return self._objects(request, group, version, rest)

    def _discovery(self, request: SimRequest, core: bool) -> SimResponse:
        """/api or /apis: aggregated discovery when the client asks for it and this version serves it."""
        accept = request.headers.get("accept", "")
        version = negotiation.for_discovery(accept, discovery.aggregated_versions(self.git_version))
        if version is None:
            return status(406, "NotAcceptable", negotiation.not_acceptable_message())
        if version:
            response = SimResponse.json(discovery.aggregated(self.resources, core=core, version=version))
            response.headers["Content-Type"] = discovery.aggregated_content_type(version)
        else:
            response = SimResponse.json(discovery.api_versions() if core else discovery.group_list(self.resources))
        response.headers["Vary"] = "Accept"
        return response

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
                f'{resource.plural} is forbidden: User "{request.user or self.user}" cannot '
                f'list resource "{resource.plural}" in API group "{group}" {scope}',
                {"kind": resource.plural},
            )
        single = len(rest) == 2
        representation = negotiation.for_objects(request.headers.get("accept", ""))
        if representation is None:
            return status(406, "NotAcceptable", negotiation.not_acceptable_message())
        if representation.kind.startswith("PartialObjectMetadata") and single != (
            representation.kind == "PartialObjectMetadata"
        ):
            what = f"{resource.kind}List" if not single else resource.kind
            return status(
                406,
                "NotAcceptable",
                f"you requested {representation.kind}, but the requested object is "
                f"{'not ' if single else ''}a list ({what})",
            )
        include = request.arg("includeObject", "") or ""
        if representation.kind == "Table" and include not in tables.INCLUDE:
            return status(400, "BadRequest", f'unrecognized includeObject value: "{include}"')
        items = [
            o
            for o in self.objects.get(resource.key, [])
            if namespace is None or o["metadata"].get("namespace") == namespace
        ]
        api_version = f"{group}/{version}" if group else version
        if single:
            found = next((o for o in items if o["metadata"]["name"] == rest[1]), None)
            if found is None:
                return status(
                    404,
                    "NotFound",
                    f'{resource.plural}{"." + group if group else ""} "{rest[1]}" not found',
                    {"name": rest[1], "group": group, "kind": resource.plural},
                )
            return SimResponse.json(self._render([found], resource, api_version, representation, include, True))
        try:
            items = [
                o
                for o in items
                if _labels_match(o, request.arg("labelSelector", "") or "")
                and _fields_match(o, request.arg("fieldSelector", "") or "")
            ]
        except ValueError as exc:
            return status(400, "BadRequest", f"unable to parse requirement: {exc}")
        return SimResponse.json(self._render(items, resource, api_version, representation, include, False))

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

    def _render(
        self,
        items: list[Obj],
        resource: Resource,
        api_version: str,
        representation: Representation,
        include: str,
        single: bool,
    ) -> Obj:
        """Objects as the client negotiated them: themselves, their metadata only, or a Table."""
        typed = [{"kind": resource.kind, **o, "apiVersion": api_version} for o in items]
        list_version = LIST_RESOURCE_VERSION
        if representation.kind == "Table":
            version = typed[0]["metadata"].get("resourceVersion", "") if single else list_version
            printer = printer_for(resource.plural, custom=resource.group not in CORE_GROUPS)
            return tables.table(
                typed, printer, table_version=representation.version, resource_version=version, include_object=include
            )
        if representation.kind.startswith("PartialObjectMetadata"):
            partial = [
                {"kind": "PartialObjectMetadata", "apiVersion": representation.api_version, "metadata": o["metadata"]}
                for o in items
            ]
            if single:
                return partial[0]
            return {
                "kind": "PartialObjectMetadataList",
                "apiVersion": representation.api_version,
                "metadata": {"resourceVersion": list_version},
                "items": partial,
            }
        if single:
            return typed[0]
        # List items carry no kind or apiVersion for built-in kinds; custom resources keep theirs.
        return {
            "kind": f"{resource.kind}List",
            "apiVersion": api_version,
            "metadata": {"resourceVersion": list_version},
            "items": typed if resource.group not in CORE_GROUPS else items,
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
            f'{plural} is forbidden: User "{request.user or self.user}" cannot {verb} resource '
            f'"{plural}": the simulated cluster grants a read-only role',
            {"kind": plural},
        )


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
    from meshcheck.sim import mesh_config  # Istio's policy kinds: DestinationRule, EnvoyFilter, security.istio.io

    served += mesh_config.resources(model)
    return tuple(served)


def dumps(obj: Obj) -> bytes:
    return json.dumps(obj).encode()
