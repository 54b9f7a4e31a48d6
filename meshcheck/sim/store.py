"""Objects as kube-apiserver keeps them in etcd: one revision counter, and writes that change nothing
leave nothing behind.

- ``resourceVersion`` is etcd's revision of the object's last change, one counter for the whole
  cluster, always growing; a write whose result equals the stored object is not a change and keeps
  it (the API server skips the storage update when nothing differs: GuaranteedUpdate in
  staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go, and server-side apply relies on it to be
  idempotent).
- Every writer is recorded in ``metadata.managedFields`` (manager, operation, apiVersion, time,
  fieldsType FieldsV1, fieldsV1, and ``subresource: status`` for a controller's status update), as
  staging/src/k8s.io/apimachinery/pkg/util/managedfields records them; an entry's time moves only
  when the write changed something.
- Objects are never edited in place: a write stores a new dict, as ``World.put`` swaps lists, so a
  request thread reading the previous version is never disturbed.

All writes happen under the world's lock (``World.lock``), which the caller holds.
"""

from __future__ import annotations

import copy
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from meshcheck.sim.world import World

Obj = dict[str, Any]


def stamp(moment: float | None = None) -> str:
    """An RFC 3339 time as the API writes metadata times (seconds, UTC)."""
    return datetime.fromtimestamp(time.time() if moment is None else moment, tz=timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


class Store:
    """The world's objects, read and written with the API server's bookkeeping."""

    def __init__(self, world: World) -> None:
        self.world = world
        versions = [
            int(str(o.get("metadata", {}).get("resourceVersion", "0")) or 0)
            for items in world.objects.values()
            for o in items
            if str(o.get("metadata", {}).get("resourceVersion", "0")).isdigit()
        ]
        self.revision = max([70000, *versions])

    # --- reading ----------------------------------------------------------------------------------

    def get(self, key: str, namespace: str, name: str) -> Obj | None:
        return next(
            (
                o
                for o in self.world.objects.get(key, [])
                if o["metadata"].get("name") == name and o["metadata"].get("namespace", "") == namespace
            ),
            None,
        )

    def list(self, key: str, namespace: str | None = None) -> list[Obj]:
        return self.world.of_kind(key, namespace)

    # --- writing ----------------------------------------------------------------------------------

    def next_revision(self) -> str:
        self.revision += 1
        return str(self.revision)

    def create(self, key: str, obj: Obj, *, generation: bool) -> Obj:
        """Store a new object with the fields the server sets on create (uid, creationTimestamp,
        resourceVersion, generation 1 where the kind counts generations)."""
        obj = copy.deepcopy(obj)
        metadata = obj.setdefault("metadata", {})
        metadata["uid"] = str(uuid.uuid4())
        metadata["creationTimestamp"] = stamp()
        metadata["resourceVersion"] = self.next_revision()
        if generation:
            metadata["generation"] = 1
        else:
            metadata.pop("generation", None)
        self.world.put(key, obj)
        return obj

    def save(self, key: str, obj: Obj, *, manager: str = "", operation: str = "Update", api_version: str = "",
             subresource: str = "", fields: Obj | None = None) -> Obj:
        """Store ``obj`` in place of the stored object of its name, unless nothing differs: then the
        stored object is returned as it was. ``manager`` (with ``fields``, its fieldsV1) records who
        wrote, replacing that manager's entry of the same operation and subresource."""
        metadata = obj["metadata"]
        current = self.get(key, metadata.get("namespace", ""), metadata["name"])
        candidate = copy.deepcopy(obj)
        if manager:
            entries = list(candidate["metadata"].get("managedFields") or [])
            index = _entry_index(entries, manager, operation, subresource)
            entry: Obj = {"manager": manager, "operation": operation, "apiVersion": api_version,
                          "time": entries[index]["time"] if index is not None else "",
                          "fieldsType": "FieldsV1", "fieldsV1": fields or {}}
            if subresource:
                entry["subresource"] = subresource
            if index is None:
                entries.append(entry)
            else:
                entries[index] = entry
            candidate["metadata"]["managedFields"] = entries
        if current is not None and _comparable(candidate) == _comparable(current):
            return current
        if manager:
            entries = candidate["metadata"]["managedFields"]
            entries[_entry_index(entries, manager, operation, subresource) or 0]["time"] = stamp()
        if current is not None and "generation" in current["metadata"]:
            candidate["metadata"].setdefault("generation", current["metadata"]["generation"])
        candidate["metadata"]["resourceVersion"] = self.next_revision()
        self.world.put(key, candidate)
        return candidate

    def delete(self, key: str, namespace: str, name: str) -> Obj | None:
        found = self.get(key, namespace, name)
        if found is not None:
            self.world.remove(key, namespace, name)
        return found


def _entry_index(entries: list[Obj], manager: str, operation: str, subresource: str) -> int | None:
    for index, entry in enumerate(entries):
        if (entry.get("manager"), entry.get("operation"), entry.get("subresource", "")) == (
            manager, operation, subresource
        ):
            return index
    return None


def _comparable(obj: Obj) -> Obj:
    """The object without what a write sets by itself: its resourceVersion and its managers' times."""
    shown = dict(obj)
    metadata = dict(shown.get("metadata") or {})
    metadata.pop("resourceVersion", None)
    metadata["managedFields"] = [
        {k: v for k, v in entry.items() if k != "time"} for entry in metadata.get("managedFields") or []
    ]
    shown["metadata"] = metadata
    return shown
