"""A rubric: points per layer (grouped by the lab's goals), weights per check, and what blocks what.

Graders and CI judge the same checks differently. CI wants every failure to stop the layers above it
(the suite's own gating: every check not marked ``nonblocking``); a grader wants a student's mesh
graded even when a kube-system add-on of no consequence is failing, and wants points. The rubric is
that difference as data (``meshcheck/rubrics/*.yaml``, or a file of one's own), validated on load
against ``rubrics/schema.json`` so that a typo is a clear error before anything runs, never a
silently different score.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from meshcheck import layers
from meshcheck.errors import ConfigError

BUNDLED = Path(__file__).parent / "rubrics"
DEFAULT = "lab"
SCHEMA = json.loads((BUNDLED / "schema.json").read_text())


@dataclass(frozen=True)
class Goal:
    id: str
    title: str
    layers: tuple[str, ...]


@dataclass(frozen=True)
class Rubric:
    name: str
    title: str
    points: Mapping[str, float]  # layer -> its points
    goals: tuple[Goal, ...]
    weights: Mapping[str, float] = field(default_factory=dict)  # check (test function) -> weight, default 1
    blocking: Mapping[str, frozenset[str]] = field(default_factory=dict)  # layer -> the checks that block

    def goal_of(self, layer: str) -> Goal | None:
        return next((g for g in self.goals if layer in g.layers), None)

    def weight(self, check: str) -> float:
        return float(self.weights.get(check, 1.0))

    def blocks(self, layer: str, check: str, marked_nonblocking: bool) -> bool:
        """Whether a failure of ``check`` blocks the layers resting on ``layer``: the rubric's word where
        it has one for the layer, else the suite's own (the ``nonblocking`` marker)."""
        chosen = self.blocking.get(layer)
        if chosen is None:
            return not marked_nonblocking
        return check in chosen

    def unknown_checks(self, known: Iterable[str]) -> list[str]:
        """Checks the rubric names that the suite does not have: a typo would silently weigh nothing."""
        known = set(known)
        named = set(self.weights) | {c for checks in self.blocking.values() for c in checks}
        return sorted(named - known)


def load_rubric(source: str | Path | None = None) -> Rubric:
    """A bundled rubric by name, or a rubric file by path, with what it ``extends`` merged in."""
    source = source or DEFAULT
    raw = _raw(source, ())
    errors = sorted(jsonschema.Draft202012Validator(SCHEMA).iter_errors(raw), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(f"rubric {source!s} is not valid at {where}: {first.message}{more}; "
                          "compare it with meshcheck/rubrics/lab.yaml")
    return _build(raw, str(source))


def _raw(source: str | Path, seen: tuple[str, ...]) -> dict[str, Any]:
    path = Path(source)
    try:
        bundled = not (path.suffix in (".yaml", ".yml") or path.exists())
        text = (BUNDLED / f"{source}.yaml").read_text() if bundled else path.read_text()
    except OSError as exc:
        names = ", ".join(sorted(p.stem for p in BUNDLED.glob("*.yaml")))
        raise ConfigError(f"rubric {source!s} cannot be read ({exc.__class__.__name__}): pass --rubric with one "
                          f"of {names} or a YAML file") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"rubric {source!s} is not YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"rubric {source!s} is not a mapping of settings: compare it with meshcheck/rubrics/lab.yaml")
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if str(parent) in seen or str(parent) == str(source):
        raise ConfigError(f"rubrics extend each other in a circle: {' -> '.join((*seen, str(source), str(parent)))}")
    return {**_raw(str(parent), (*seen, str(source))), **raw}


def _build(raw: dict[str, Any], source: str) -> Rubric:
    goals = tuple(Goal(str(g["id"]), g["title"], tuple(g["layers"])) for g in raw["goals"])
    points: dict[str, float] = {}
    for goal in raw["goals"]:
        for layer, value in goal["layers"].items():
            if layer in points:
                raise ConfigError(f"rubric {source}: layer {layer} is given points in two goals")
            points[layer] = float(value)
    unknown = sorted({*points, *(raw.get("blocking") or {})} - set(layers.BY_NAME))
    if unknown:
        raise ConfigError(f"rubric {source}: unknown layer {', '.join(unknown)}; the layers are "
                          f"{', '.join(layers.BY_NAME)}")
    return Rubric(
        name=str(raw.get("name") or Path(source).stem),
        title=str(raw.get("title") or ""),
        points=points,
        goals=goals,
        weights={str(k): float(v) for k, v in (raw.get("weights") or {}).items()},
        blocking={layer: frozenset(checks) for layer, checks in (raw.get("blocking") or {}).items()},
    )
