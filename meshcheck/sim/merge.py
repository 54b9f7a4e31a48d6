"""How a write's body meets the stored object: server-side apply, JSON merge patch, and the field sets
that ``managedFields`` records.

Server-side apply here is a faithful subset of structured-merge-diff (sigs.k8s.io/structured-merge-diff,
as kube-apiserver runs it: staging/src/k8s.io/apimachinery/pkg/util/managedfields): maps merge key by
key, lists and scalars are replaced by the applied value. What it leaves out: associative lists
merged item by item, fields a manager stops applying being removed, and conflicts between managers
(every apply behaves as ``force=true``).

A JSON merge patch (RFC 7386, ``application/merge-patch+json``) merges maps and deletes keys set to
null; a strategic merge patch is read the same way (its list merge keys are not simulated).
"""

from __future__ import annotations

import copy
import json
from typing import Any

Obj = dict[str, Any]

# The metadata a client does not own: set by the server, ignored in an applied configuration.
SYSTEM_METADATA = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields",
                   "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink")


def apply(live: Obj, applied: Obj) -> Obj:
    """``applied`` merged onto ``live``: maps merge, anything else is replaced. Neither is changed."""
    result = copy.deepcopy(live)
    for key, value in applied.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = apply(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: a map patch merges (null deletes), anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def without_nulls(value: Any) -> Any:
    """A body as the server stores it: a field written ``null`` (``annotations:`` left empty in a manifest,
    as Kiali's Service in samples/addons has it) is no field once decoded into the API's types."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def without_system_fields(obj: Obj) -> Obj:
    """A client's object with the metadata only the server sets taken out."""
    cleaned = copy.deepcopy(obj)
    metadata = cleaned.get("metadata")
    if isinstance(metadata, dict):
        for key in SYSTEM_METADATA:
            metadata.pop(key, None)
    return cleaned


def fields_v1(applied: Obj, *, owned_maps: bool = False) -> Obj:
    """The FieldsV1 set of an object's fields (``f:<name>`` per field, ``k:{...}`` per keyed list item,
    ``.`` for an item, or with ``owned_maps`` for a map, owned as a whole); name, namespace, apiVersion
    and kind are identity, not fields."""
    found: Obj = {}
    for key, value in applied.items():
        if key in ("apiVersion", "kind"):
            continue
        if key == "metadata" and isinstance(value, dict):
            inner = {k: v for k, v in value.items() if k not in ("name", "namespace", *SYSTEM_METADATA)}
            if inner:
                found["f:metadata"] = _fields(inner, owned_maps, top=True)
            continue
        found[f"f:{key}"] = _fields(value, owned_maps)
    return found


def _fields(value: Any, owned_maps: bool, top: bool = False) -> Obj:
    if isinstance(value, dict):
        inner = {f"f:{k}": _fields(v, owned_maps) for k, v in value.items()}
        if owned_maps and value and not top:
            inner = {".": {}, **inner}
        return inner
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        keyed: Obj = {}
        for item in value:
            key = _item_key(item)
            if key is None:
                return {}  # an atomic list: owned as a whole
            keyed[f"k:{key}"] = {".": {}, **_fields(item, owned_maps, top=True)}
        return keyed
    return {}


def _item_key(item: Obj) -> str | None:
    """The merge key of a list item, as the built-in types declare them (name; containerPort and
    protocol; port and protocol), in the compact JSON form FieldsV1 writes."""
    if "name" in item:
        return json.dumps({"name": item["name"]}, separators=(",", ":"))
    if "containerPort" in item:
        return json.dumps({"containerPort": item["containerPort"], "protocol": item.get("protocol", "TCP")},
                          separators=(",", ":"))
    if "port" in item and isinstance(item["port"], int):
        return json.dumps({"port": item["port"], "protocol": item.get("protocol", "TCP")}, separators=(",", ":"))
    return None
