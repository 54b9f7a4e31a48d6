"""Discovery documents: which groups, versions and resources the simulated cluster serves.

Two forms, as kube-apiserver has them: the legacy documents (APIVersions at /api, APIGroupList at
/apis, an APIGroup per group, an APIResourceList per group version), which the suite and older
clients read; and aggregated discovery (APIGroupDiscoveryList at /api and /apis, KEP-3352: beta and on
by default from Kubernetes 1.27 as apidiscovery.k8s.io/v2beta1, GA in 1.30 as v2), which kubectl asks
for first and which spares it one request per group version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meshcheck.sim.scenario import release

if TYPE_CHECKING:
    from meshcheck.sim.apiserver import Resource

Obj = dict[str, Any]

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
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


def aggregated_versions(git_version: str) -> tuple[str, ...]:
    """The apidiscovery.k8s.io versions a kube-apiserver of this version serves, preferred first."""
    served = release(git_version)[:2]
    versions = []
    if served >= (1, 30):
        versions.append("v2")
    if (1, 27) <= served < (1, 35):
        versions.append("v2beta1")
    return tuple(versions)


def groups(resources: tuple[Resource, ...]) -> dict[str, tuple[str, ...]]:
    """Named groups and their versions, preferred first, in the order the cluster serves them."""
    found: dict[str, tuple[str, ...]] = {}
    for r in resources:
        if r.group:
            found.setdefault(r.group, r.versions)
    return found


# --- legacy documents ----------------------------------------------------------------------------


def api_versions() -> Obj:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "172.18.0.2:6443"}],
    }


def _group_doc(name: str, versions: tuple[str, ...]) -> Obj:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def group_list(resources: tuple[Resource, ...]) -> Obj:
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [_group_doc(n, v) for n, v in groups(resources).items()],
    }


def group(resources: tuple[Resource, ...], name: str) -> Obj | None:
    versions = groups(resources).get(name)
    if versions is None:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(name, versions)}


def resource_list(group: str, version: str, served: list[Resource]) -> Obj:
    entries = []
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
        if r.categories:
            entry["categories"] = list(r.categories)
        entries.append(entry)
        if r.plural == "serviceaccounts":
            entries.append(TOKEN_SUBRESOURCE)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": entries,
    }


# --- aggregated discovery ------------------------------------------------------------------------


def aggregated(resources: tuple[Resource, ...], *, core: bool, version: str) -> Obj:
    """The APIGroupDiscoveryList of /api (``core``) or /apis, in apidiscovery.k8s.io ``version``."""
    names = [""] if core else list(groups(resources))
    items = []
    for name in names:
        in_group = [r for r in resources if r.group == name]
        versions = in_group[0].versions if in_group else ()
        items.append(
            {
                "metadata": {"name": name, "creationTimestamp": None} if name else {"creationTimestamp": None},
                "versions": [
                    {
                        "version": v,
                        "resources": [_resource_discovery(r) for r in in_group if v in r.versions],
                        "freshness": "Current",
                    }
                    for v in versions
                ],
            }
        )
    return {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{version}", "metadata": {},
            "items": items}


def aggregated_content_type(version: str) -> str:
    """The Content-Type that tells client-go the answer is aggregated discovery, not an APIGroupList."""
    return f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"


def _resource_discovery(r: Resource) -> Obj:
    entry: Obj = {
        "resource": r.plural,
        "responseKind": {"group": "", "version": "", "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.kind.lower(),
        "verbs": ALL_VERBS,
    }
    if r.short:
        entry["shortNames"] = list(r.short)
    if r.categories:
        entry["categories"] = list(r.categories)
    if r.plural == "serviceaccounts":
        entry["subresources"] = [
            {
                "subresource": "token",
                "responseKind": {"group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest"},
                "verbs": ["create"],
            }
        ]
    return entry
