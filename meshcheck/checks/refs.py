"""How a check names the objects a failure is about, for ``CheckResult.objects``: "Kind/namespace/name",
"Node//name" for a cluster-scoped object. Reports look these up for Events, a summary and logs."""

from __future__ import annotations

from collections.abc import Iterable

from meshcheck import objects as o

Obj = o.Obj


def ref(kind: str, obj: Obj) -> str:
    return f"{kind}/{o.namespace(obj)}/{o.name(obj)}"


def refs(kind: str, objs: Iterable[Obj]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ref(kind, obj) for obj in objs))


def named(kind: str, namespace: str, *names: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f"{kind}/{namespace}/{name}" for name in names if name))
