"""The few validation rules the simulated API server enforces, answered as kube-apiserver answers them:
422 ``Invalid`` with the object's kind and name, and one cause per field
(apimachinery's errors.NewInvalid: ``Deployment.apps "web" is invalid: spec.selector: Required value``).

Only rules a deploy can trip over and a real server would refuse are here: a name, a workload's
selector that matches its pod template's labels, at least one container, a CRD's names and versions.
"""

from __future__ import annotations

from typing import Any

from meshcheck.sim.resources import Resource

Obj = dict[str, Any]
Cause = tuple[str, str, str]  # (field, reason, message)


def problems(resource: Resource, obj: Obj) -> list[Cause]:
    """What is wrong with ``obj`` for this kind (empty: valid)."""
    found: list[Cause] = []
    if not (obj.get("metadata") or {}).get("name"):
        found.append(("metadata.name", "FieldValueRequired", "Required value: name or generateName is required"))
    spec = obj.get("spec") or {}
    if resource.group == "apps" and resource.plural in ("deployments", "daemonsets"):
        selector = spec.get("selector")
        template = spec.get("template") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        if not selector:
            found.append(("spec.selector", "FieldValueRequired", "Required value"))
        elif any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
            shown = "map[string]string{" + ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items())) + "}"
            found.append(("spec.template.metadata.labels", "FieldValueInvalid",
                          f"Invalid value: {shown}: `selector` does not match template `labels`"))
        if not (template.get("spec") or {}).get("containers"):
            found.append(("spec.template.spec.containers", "FieldValueRequired", "Required value"))
    if resource.plural == "customresourcedefinitions":
        names = spec.get("names") or {}
        if not names.get("plural") or not names.get("kind"):
            found.append(("spec.names", "FieldValueRequired", "Required value: plural and kind are required"))
        if not spec.get("versions"):
            found.append(("spec.versions", "FieldValueRequired", "Required value: must have exactly one version "
                          "marked as storage version"))
        name = (obj.get("metadata") or {}).get("name")
        expected = f"{names.get('plural')}.{spec.get('group')}"
        if name and names.get("plural") and name != expected:
            found.append(("metadata.name", "FieldValueInvalid",
                          f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'))
    return found


def invalid_status(resource: Resource, name: str, causes: list[Cause]) -> Obj:
    """The Status body of a 422 for these causes."""
    kind = f"{resource.kind}.{resource.group}" if resource.group else resource.kind
    summary = ", ".join(f"{field}: {message}" for field, _, message in causes)
    shown = f"[{summary}]" if len(causes) > 1 else summary
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'{kind} "{name}" is invalid: {shown}',
        "reason": "Invalid",
        "details": {
            "name": name,
            "group": resource.group,
            "kind": resource.kind,
            "causes": [{"reason": reason, "message": message, "field": field} for field, reason, message in causes],
        },
        "code": 422,
    }
