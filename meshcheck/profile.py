"""Expectations as data: what the stack under test should show, read from a profile file.

Checks take their names (workloads, edges, dashboards) from a ``Profile`` rather than from
constants, so another app or course can reuse the suite by writing another profile. A profile may
``extends:`` another (a bundled name or a file) and change only what differs, as the ``hardened``
profile adds its ``policies`` to ``online-boutique``: mappings merge key by key, lists and scalars
replace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from meshcheck.errors import ConfigError

Edge = tuple[str, str]

CIRCUIT_BREAKER_SETTINGS = ("outlierDetection", "connectionPool")
AUTHORIZATION_MODES = ("call-graph",)


@dataclass(frozen=True)
class Policies:
    """What the mesh must enforce beyond working: the profile's ``policies`` section; absent means none.

    Each is a promise a check verifies only where the profile makes it, so a profile that asks for
    nothing gets those checks skipped ("not required by profile") rather than passed on nothing.
    """

    mtls: str = ""  # "STRICT": a PeerAuthentication must make mTLS strict for the app's namespace
    root_namespace: str = "istio-system"  # Istio's root namespace (meshConfig.rootNamespace): mesh-wide policies
    circuit_breakers: dict[str, tuple[str, ...]] = field(default_factory=dict)  # Service -> settings required
    rate_limits: tuple[str, ...] = ()  # workloads whose sidecar must run Envoy's local rate limit
    authorization: str = ""  # "call-graph": deny by default, each call-graph edge allowed from its caller

    def required(self, policy: str) -> bool:
        return bool(getattr(self, policy))


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
    policies: Policies = field(default_factory=Policies)
    load: dict[str, Any] = field(default_factory=dict)  # the load generator and the workload its traffic enters

    @property
    def traced_edges(self) -> tuple[Edge, ...]:
        """Call-graph hops that a tracer can see (Envoy does not trace plain TCP such as Redis)."""
        return tuple(e for e in self.edges if e not in self.traced_edges_exclude)


DEFAULT = "online-boutique"
BUNDLED = Path(__file__).parent / "profiles"


def load_profile(source: str | Path | None = None) -> Profile:
    """Load a bundled profile by name, or a profile file by path, with what it extends merged in."""
    source = source or DEFAULT
    try:
        return _build(_raw(source, ()))
    except (yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(
            f"profile {source!s} is not a valid profile ({exc}): "
            "compare it with meshcheck/profiles/online-boutique.yaml"
        ) from None


def _raw(source: str | Path, seen: tuple[str, ...]) -> dict[str, Any]:
    """The profile's mapping, merged over the one it ``extends`` (a bundled name, or a file path)."""
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
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict):
        raise ValueError("a profile is a mapping of settings")
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if str(parent) in seen:
        raise ValueError(f"profiles extend each other in a circle: {' -> '.join((*seen, str(parent)))}")
    return _merge(_raw(str(parent), (*seen, str(source))), raw)


def _merge(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


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
        policies=_policies(raw.get("policies") or {}),
        load=dict(raw.get("load") or {}),
    )


def _policies(raw: dict[str, Any]) -> Policies:
    """The ``policies`` section, refusing what the checks would not understand rather than ignoring it."""
    unknown = sorted(set(raw) - {"mtls", "root_namespace", "circuit_breakers", "rate_limits", "authorization"})
    if unknown:
        raise ValueError(f"policies has unknown keys {', '.join(unknown)}")
    mtls = str(raw.get("mtls") or "").upper()
    if mtls not in ("", "STRICT"):
        raise ValueError(f"policies.mtls must be STRICT (or absent), not {raw['mtls']!r}")
    breakers = {str(host): tuple(str(s) for s in (settings or CIRCUIT_BREAKER_SETTINGS))
                for host, settings in (raw.get("circuit_breakers") or {}).items()}
    odd = sorted({s for settings in breakers.values() for s in settings} - set(CIRCUIT_BREAKER_SETTINGS))
    if odd:
        raise ValueError(f"policies.circuit_breakers may require {' and '.join(CIRCUIT_BREAKER_SETTINGS)}, "
                         f"not {', '.join(odd)}")
    authorization = str(raw.get("authorization") or "")
    if authorization not in ("", *AUTHORIZATION_MODES):
        raise ValueError(f"policies.authorization must be {' or '.join(AUTHORIZATION_MODES)}, not {authorization!r}")
    return Policies(
        mtls=mtls,
        root_namespace=str(raw.get("root_namespace") or "istio-system"),
        circuit_breakers=breakers,
        rate_limits=tuple(str(w) for w in raw.get("rate_limits") or ()),
        authorization=authorization,
    )
