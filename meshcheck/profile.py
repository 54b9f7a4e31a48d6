"""Expectations as data: what the stack under test should show, read from a profile file.

Checks take their names (workloads, edges, dashboards) from a ``Profile`` rather than from
constants, so another app or course can reuse the suite by writing another profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from meshcheck.errors import ConfigError

Edge = tuple[str, str]


@dataclass(frozen=True)
class Profile:
    name: str
    namespaces: tuple[str, ...]
    anchor: str
    workloads: dict[str, str]
    services: dict[str, int]
    edges: tuple[Edge, ...]
    traced_edges_exclude: tuple[Edge, ...]
    max_restarts: int
    ingress: dict[str, Any]
    dashboard: dict[str, Any]
    addons: dict[str, tuple[str, ...]]
    addons_namespace: str
    grafana_dashboards: tuple[str, ...]
    storefront: dict[str, Any] = field(default_factory=dict)
    deploy: dict[str, Any] = field(default_factory=dict)  # how the deploy step builds it (ingress flavour)
    load: dict[str, Any] = field(default_factory=dict)  # the load generator and the workload its traffic enters

    @property
    def traced_edges(self) -> tuple[Edge, ...]:
        """Call-graph hops that a tracer can see (Envoy does not trace plain TCP such as Redis)."""
        return tuple(e for e in self.edges if e not in self.traced_edges_exclude)


DEFAULT = "online-boutique"
BUNDLED = Path(__file__).parent / "profiles"


def load_profile(source: str | Path | None = None) -> Profile:
    """Load a bundled profile by name, or a profile file by path."""
    source = source or DEFAULT
    path = Path(source)
    try:
        if path.suffix in (".yaml", ".yml") or path.exists():
            text = path.read_text()
        else:
            text = (BUNDLED / f"{source}.yaml").read_text()
    except (OSError, FileNotFoundError) as exc:
        raise ConfigError(
            f"profile {source!s} cannot be read ({exc.__class__.__name__}): "
            "pass --profile with a profile name or a YAML file"
        ) from None
    try:
        raw = yaml.safe_load(text)
        return _build(raw)
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"profile {source!s} is not a valid profile ({exc}): "
            "compare it with meshcheck/profiles/online-boutique.yaml"
        ) from None


def _edges(raw: Any) -> tuple[Edge, ...]:
    return tuple((str(a), str(b)) for a, b in raw or ())


def _build(raw: dict[str, Any]) -> Profile:
    return Profile(
        name=raw["name"],
        namespaces=tuple(raw["namespaces"]),
        anchor=raw["anchor"],
        workloads=dict(raw["workloads"]),
        services={k: int(v) for k, v in raw["services"].items()},
        edges=_edges(raw["edges"]),
        traced_edges_exclude=_edges(raw.get("traced_edges_exclude")),
        max_restarts=int(raw.get("max_restarts", 5)),
        ingress=dict(raw["ingress"]),
        dashboard=dict(raw["dashboard"]),
        addons={k: tuple(v) for k, v in raw["addons"].items()},
        addons_namespace=raw.get("addons_namespace", "istio-system"),
        grafana_dashboards=tuple(raw["grafana_dashboards"]),
        storefront=dict(raw.get("storefront") or {}),
        deploy=dict(raw.get("deploy") or {}),
        load=dict(raw.get("load") or {}),
    )
