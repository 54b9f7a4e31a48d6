"""What the simulated containers other than the load generator print (the ``pods/log`` subresource).

- ``istio-proxy`` prints what pilot-agent prints once Envoy is up ("Readiness succeeded in 1.9s",
  "Envoy proxy is ready"), in Istio's log format (``<RFC 3339 time>\\t<level>\\t<message>``); a proxy
  that is not ready logs, at each readiness probe (every 15 s), "Envoy proxy is NOT ready: config not
  received from XDS server (is Istiod running?): cds updates: 0 successful, 0 rejected; lds updates: 0
  successful, 0 rejected" (istio/istio pilot/cmd/pilot-agent/status: handleReadyProbe, and the ready
  probe's message when Envoy got no configuration from istiod).
- a scenario gives any container lines of its own under ``addons.podlogs``: ``{<app label>:
  {<container>: [line, ...]}}``, logged one second apart (closer in a short run) up to the end of the
  container's current (or, crash-looping, last) run.

Every other container logs nothing. Lines come with the moment they were logged, oldest first.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from meshcheck.sim import loadgen
from meshcheck.sim.world import World

Obj = dict[str, Any]

SIDECAR = "istio-proxy"
PROBE_PERIOD = 15.0
NOT_READY = ("Envoy proxy is NOT ready: config not received from XDS server (is Istiod running?): cds updates: "
             "0 successful, 0 rejected; lds updates: 0 successful, 0 rejected")


def lines(world: World, pod: Obj, container: str, status: Obj, tail: int | None) -> list[tuple[float, str]]:
    """The lines the container logged in its current (or last) run, oldest first; the last ``tail``."""
    run = loadgen.run_of(status)
    if run is None:
        return []
    began, until = run
    found: list[tuple[float, str]] = []
    if container == SIDECAR:
        found += _proxy(began, until, bool(status.get("ready")), tail)
    app = (pod["metadata"].get("labels") or {}).get("app", "")
    given = ((world.knobs("podlogs").get(app) or {}).get(container)) or []
    spacing = min(1.0, max(until - began, 0.001) / (len(given) + 1))
    found += [(until - spacing * (len(given) - index), str(text)) for index, text in enumerate(given)]
    found.sort(key=lambda line: line[0])
    return found[-tail:] if tail else ([] if tail == 0 else found)


def _proxy(began: float, until: float, ready: bool, tail: int | None) -> list[tuple[float, str]]:
    if ready:
        up = began + 1.9
        return [(up, _istio(up, "info", "Readiness succeeded in 1.902418665s")),
                (up + 0.0004, _istio(up + 0.0004, "info", "Envoy proxy is ready"))]
    probes = int((until - began) // PROBE_PERIOD)
    first = max(0, probes - (tail or probes)) if tail is not None else 0
    moments = [began + PROBE_PERIOD * (index + 1) for index in range(first, probes)]
    return [(moment, _istio(moment, "warn", NOT_READY)) for moment in moments]


def _istio(moment: float, level: str, message: str) -> str:
    when = datetime.fromtimestamp(moment, tz=timezone.utc)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond:06d}Z\t{level}\t{message}"
