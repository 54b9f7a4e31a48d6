"""CustomResourceDefinitions, as the apiextensions-apiserver's controllers handle them
(staging/src/k8s.io/apiextensions-apiserver/pkg/controller/status NamingConditionController and
establish EstablishingController): a CRD whose names no other CRD holds gets ``NamesAccepted=True``
(NoConflicts, "no conflicts found"), ``status.acceptedNames`` and ``storedVersions``, then
``Established=True`` (InitialNamesAccepted, "the initial names have been accepted"), and from then on
its group, versions and plural are served: discovery, aggregated discovery, list, get and writes.
Here both happen at once, as the API answers a moment after a CRD is applied.
"""

from __future__ import annotations

import copy
from typing import Any

from meshcheck.sim.controllers import Context
from meshcheck.sim.resources import from_crd
from meshcheck.sim.store import stamp

Obj = dict[str, Any]
MANAGER = "kube-apiserver"


def sync(ctx: Context) -> None:
    for crd in ctx.world.of_kind("customresourcedefinitions"):
        name = crd["metadata"]["name"]
        served = from_crd(crd)
        if ctx.registry.established(name) != served:
            ctx.registry.establish(name, served)
        status = _status(crd)
        if crd.get("status") != status:
            updated = copy.deepcopy(crd)
            updated["status"] = status
            ctx.store.save("customresourcedefinitions", updated, manager=MANAGER, operation="Update",
                           api_version="apiextensions.k8s.io/v1", subresource="status",
                           fields={"f:status": {"f:acceptedNames": {}, "f:conditions": {}, "f:storedVersions": {}}})


def _status(crd: Obj) -> Obj:
    spec = crd.get("spec") or {}
    names = dict(spec.get("names") or {})
    names.setdefault("singular", str(names.get("kind", "")).lower())
    names.setdefault("listKind", f"{names.get('kind', '')}List")
    old = crd.get("status") or {}
    previous = {c.get("type"): c for c in old.get("conditions") or []}
    storage = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
    stored = list(old.get("storedVersions") or [])
    stored += [v for v in storage if v not in stored]

    def condition(kind: str, reason: str, message: str) -> Obj:
        found = previous.get(kind)
        if found and found.get("status") == "True":
            return found
        return {"type": kind, "status": "True", "lastTransitionTime": stamp(), "reason": reason, "message": message}

    return {
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": names,
        "storedVersions": stored,
    }
