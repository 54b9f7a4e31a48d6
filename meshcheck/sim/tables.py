"""Server-side printing: a list or an object as a meta.k8s.io Table, as kube-apiserver answers
``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` (what ``kubectl get`` asks for).

A Table holds column definitions, then one row per object: its cells (``printers``) and the object
itself as ``includeObject`` asks: PartialObjectMetadata by default (kubectl reads the namespace and
name from it), the whole object with ``Object``, none with ``None``.
"""

from __future__ import annotations

import time
from typing import Any

from meshcheck.sim.printers import Printer

Obj = dict[str, Any]
INCLUDE = ("", "Metadata", "Object", "None")


def table(
    items: list[Obj],
    printer: Printer,
    *,
    table_version: str,
    resource_version: str,
    include_object: str = "",
    now: float | None = None,
) -> Obj:
    """A Table of ``items`` (each with kind and apiVersion set) in meta.k8s.io ``table_version``.

    ``include_object`` must be one of INCLUDE; the API server answers 400 for anything else.
    """
    moment = time.time() if now is None else now
    rows = []
    for item in items:
        row: Obj = {"cells": printer.cells(item, moment)}
        conditions = printer.conditions(item) if printer.conditions else []
        if conditions:
            row["conditions"] = conditions
        row["object"] = _row_object(item, include_object, table_version)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{table_version}",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": list(printer.columns),
        "rows": rows,
    }


def _row_object(item: Obj, include: str, table_version: str) -> Obj | None:
    if include == "None":
        return None
    if include == "Object":
        return item
    return {"kind": "PartialObjectMetadata", "apiVersion": f"meta.k8s.io/{table_version}", "metadata": item["metadata"]}
