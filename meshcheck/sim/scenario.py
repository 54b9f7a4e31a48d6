"""Scenario files: the state of a simulated cluster, written as a healthy base plus the fault.

A fault scenario names what it extends and only the settings it changes, so each file reads as
the story of one broken thing ("istiod has no available replica"). Dicts merge key by key;
lists and scalars replace.
"""

from __future__ import annotations

import re
from copy import deepcopy
from pathlib import Path
from typing import Any

import yaml

from meshcheck.errors import ConfigError

Model = dict[str, Any]
BUNDLED = Path(__file__).parent / "scenarios"


def release(text: object) -> tuple[int, ...]:
    """A version a scenario names ("1.22.1", "v0.13.12", "11.3.1") as numbers to compare; (0,) when it
    holds none, so a garbled version compares as the oldest."""
    numbers = re.findall(r"\d+", str(text))
    return tuple(int(n) for n in numbers[:3]) if numbers else (0,)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(value: object) -> float:
    """Seconds from a scenario's duration: a number of seconds, or "90s", "45m", "3h", "2d"."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", str(value))
    if match is None:
        raise ConfigError(f"{value!r} is not a duration: write seconds, or a number with s, m, h or d (3d)")
    return float(match[1]) * _UNITS[match[2]]


def available() -> list[str]:
    """The names of the bundled scenarios."""
    return sorted(p.stem for p in BUNDLED.glob("*.yaml"))


def load(name_or_path: str) -> Model:
    """The full model of a scenario, with everything it extends merged in."""
    raw = _read(name_or_path)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    return merge(load(parent), raw)


def merge(base: Model, change: Model) -> Model:
    result = deepcopy(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = deepcopy(value)
    return result


def _read(name_or_path: str) -> Model:
    path = Path(name_or_path)
    try:
        file = path if path.suffix in (".yaml", ".yml") else BUNDLED / f"{name_or_path}.yaml"
        text = file.read_text()
    except (OSError, FileNotFoundError):
        raise ConfigError(
            f"unknown simulated scenario {name_or_path!r}: choose one of "
            f"{', '.join(available())} or give a scenario file path"
        ) from None
    try:
        model = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(f"scenario {name_or_path} is not valid YAML: {reason}") from None
    if not isinstance(model, dict):
        raise ConfigError(f"scenario {name_or_path} must be a mapping of settings")
    return model
