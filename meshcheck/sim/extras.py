"""What a scenario adds to the simulated cluster as written, beyond the layers it builds.

- ``addons.config_maps.items: [{name, namespace, data, labels}]``: ConfigMaps (the namespace defaults to the
  boutique's), such as one a student filled with credentials;
- ``fake_secrets: [...]``: no object, but the list of the made-up credentials the scenario plants in
  logs, Events, ConfigMaps and add-on answers, so that tests can look for each in every output
  (``fake_secrets``).
"""

from __future__ import annotations

from typing import Any

from meshcheck.sim import kinds as k
from meshcheck.sim import scenario as scenarios
from meshcheck.sim.world import World

Obj = dict[str, Any]


def install(world: World) -> None:
    """Put the scenario's extra objects into a freshly built world."""
    clock = k.Clock(world.started)
    for spec in world.knobs("config_maps").get("items") or []:
        namespace = str(spec.get("namespace") or world.namespace)
        data = {str(key): str(value) for key, value in (spec.get("data") or {}).items()}
        world.put("configmaps", k.config_map(clock, str(spec["name"]), namespace, data, labels=spec.get("labels")))


def fake_secrets(scenario: str = "secrets-everywhere") -> tuple[str, ...]:
    """The made-up credentials a scenario plants (its ``fake_secrets``): no output may show any of them."""
    return tuple(str(s) for s in scenarios.load(scenario).get("fake_secrets") or ())
