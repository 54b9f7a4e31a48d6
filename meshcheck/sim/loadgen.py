"""The simulated ``loadgenerator``: Online Boutique's Locust, as its pod and its log show it.

Online Boutique runs ``locust --host=http://frontend:80 --headless -u USERS`` in container ``main``
(GoogleCloudPlatform/microservices-demo src/loadgenerator/Dockerfile; ``-r RATE`` from v0.10), whose
Locust release follows the boutique's (src/loadgenerator/requirements.txt: 1.3.1 in v0.3.x, 2.9.0 in
v0.3.9, 2.12.1 in v0.4.0, 2.15.1 in v0.8.0, 2.25.0 in v0.10.0, 2.43.0 in v0.10.5). Headless, Locust
logs its start (locust/main.py "Starting Locust X", locust/runners.py "Ramping to N users at a rate of
R per second" and "All users spawned: ..."; 1.x: "Spawning N users at the rate R users/s ...") with
its default formatter ``[%(asctime)s] HOSTNAME/LEVEL/LOGGER: message`` (locust/log.py), then prints its
statistics table every 2 s with the plain formatter, in the layout of its release (locustio/locust
locust/stats.py: ``print_stats``/``StatsEntry.to_string`` before 2.9, ``get_stats_summary`` from 2.9;
see ``meshcheck.addons.locust``). Started without ``--headless`` it starts its web UI and prints no
table ("Starting web interface at ...").

The table's counts follow the container's clock: Locust sends ``LOAD_RATE`` requests a second (the rate
the simulated Prometheus gives the loadgenerator→frontend calls, 1.5 + 0.2 a second) shared among its
pages as the boutique's locustfile weighs its tasks (index 1, setCurrency 2, browseProduct 10,
addToCart 2, viewCart 3, checkout 1; addToCart and checkout each browse a product and add to the cart
first), so two reads a few seconds apart differ, and a generator's total matches its container's age.

Knobs (``world.knobs("loadgenerator")``): ``locust`` (its release, default by the boutique's release),
``failures: {"METHOD /path": fraction}`` of that entry's requests failing, ``headless: false`` (web UI,
no table), ``replicas: 0`` with ``stopped`` (how long ago it was scaled to zero, default 10m), and
``started`` (how long ago Locust's container last started) with ``restarts`` and ``last_exit`` (the
reason its previous run ended, e.g. OOMKilled) for a generator that keeps crashing. A generator scaled to
zero, or waiting in its web UI, sends nothing: the mesh's background traffic stops when it stopped (or
never started), see ``meshcheck.sim.traffic``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from meshcheck.sim import kinds as k
from meshcheck.sim import traffic
from meshcheck.sim.scenario import duration, release
from meshcheck.sim.world import World

Obj = dict[str, Any]

NAME, CONTAINER = "loadgenerator", "main"
LOAD_RATE = 1.7
STATS_INTERVAL = 2.0
FIRST_TABLE = 1.0            # seconds after the container starts
SPAWN_RATE, USERS = 1.0, 10
PRODUCTS = ("0PUK6V6EV0", "1YMWWN1N4O", "2ZYFJ3GM2N", "66VCHSJNUP", "6E92ZMYYFZ", "9SIQT8TOJO", "L9ECAV7KIM",
            "LS4PSXUNUM", "OLJCESPC7Z")
# (method, name, share of all requests, median ms): per cycle of 19 tasks the locustfile sends 23 requests.
ENTRIES: tuple[tuple[str, str, float, int], ...] = (
    ("GET", "/", 1 / 23, 38),
    ("GET", "/cart", 3 / 23, 31),
    ("POST", "/cart", 3 / 23, 35),
    ("POST", "/cart/checkout", 1 / 23, 96),
    *(("GET", f"/product/{p}", 13 / 23 / len(PRODUCTS), 27) for p in PRODUCTS),
    ("POST", "/setCurrency", 2 / 23, 21),
)
# The Locust release each Online Boutique release's loadgenerator pins, from that release on.
RELEASES: tuple[tuple[tuple[int, ...], str], ...] = (
    ((0, 2, 1), "1.0.2"), ((0, 2, 3), "1.3.1"), ((0, 3, 6), "1.6.0"), ((0, 3, 9), "2.9.0"), ((0, 4, 0), "2.12.1"),
    ((0, 5, 0), "2.13.2"), ((0, 6, 0), "2.15.0"), ((0, 7, 0), "2.15.1"), ((0, 8, 1), "2.17.0"), ((0, 9, 0), "2.19.1"),
    ((0, 10, 0), "2.25.0"), ((0, 10, 1), "2.29.1"), ((0, 10, 2), "2.32.0"), ((0, 10, 4), "2.40.4"),
    ((0, 10, 5), "2.43.0"),
)


def locust_version(world: World, boutique_release: str) -> str:
    """The scenario's Locust release, else the one the boutique's release (its image tag) pins."""
    knob = world.knobs(NAME).get("locust")
    if knob:
        return str(knob)
    wanted = release(boutique_release)
    chosen = RELEASES[0][1]
    for first, version in RELEASES:
        if wanted >= first:
            chosen = version
    return chosen


# --- the pod, as the scenario bends it ---------------------------------------------------------------


def shape(world: World) -> None:
    """Apply the scenario's knobs to the generator's Deployment and pod, once, as the cluster starts."""
    knobs = world.knobs(NAME)
    if not knobs:
        return
    clock = k.Clock(world.started)
    now = time.time()
    deployment = next((d for d in world.of_kind("deployments", world.namespace) if d["metadata"]["name"] == NAME),
                      None)
    if deployment is None:
        return
    if knobs.get("replicas") == 0:
        stopped = duration(knobs.get("stopped", "10m"))
        scaled = k.deployment(clock, NAME, world.namespace, labels=deployment["metadata"].get("labels") or {},
                              template=deployment["spec"]["template"], replicas=0)
        scaled["metadata"]["generation"] = scaled["status"]["observedGeneration"] = 2
        world.put("deployments", scaled)
        for pod in _pods(world):
            world.remove("pods", world.namespace, pod["metadata"]["name"])
        traffic.ledger(world).generator_stopped_at = now - stopped
        return
    if "started" in knobs:
        for pod in _pods(world):
            world.put("pods", _restarted(pod, knobs, now))
    if knobs.get("headless", True) is False:  # its web UI waits for a Start: it never sent a request
        starts = [run_of(s) for p in _pods(world) for s in p["status"].get("containerStatuses") or []
                  if s["name"] == CONTAINER]
        traffic.ledger(world).generator_stopped_at = min((r[0] for r in starts if r), default=now)


def _pods(world: World) -> list[Obj]:
    return [p for p in world.of_kind("pods", world.namespace) if (p["metadata"].get("labels") or {}).get("app") == NAME]


def _stamp(moment: float) -> str:
    return datetime.fromtimestamp(moment, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _restarted(pod: Obj, knobs: Obj, now: float) -> Obj:
    """The pod with Locust's container started ``started`` ago, after ``restarts`` restarts ending as ``last_exit``."""
    pod = copy.deepcopy(pod)
    began = now - duration(knobs["started"])
    restarts = int(knobs.get("restarts", 0))
    for status in pod["status"].get("containerStatuses") or []:
        if status["name"] != CONTAINER:
            continue
        status["state"] = {"running": {"startedAt": _stamp(began)}}
        status["restartCount"] = restarts
        if restarts:
            reason = str(knobs.get("last_exit", "Error"))
            status["lastState"] = {"terminated": {
                "exitCode": 137 if reason == "OOMKilled" else 1, "reason": reason,
                "startedAt": _stamp(began - 240), "finishedAt": _stamp(began - 1),
                "containerID": status.get("containerID", "")}}
    return pod


# --- the log -------------------------------------------------------------------------------------------


def _moment(stamp: str | None) -> float | None:
    if not stamp:
        return None
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


def run_of(status: Obj) -> tuple[float, float] | None:
    """(started, ended) of the container run whose log the kubelet serves: the running one, or the last
    one to end (a crash-looping container's); None when it never ran."""
    state, last = status.get("state") or {}, status.get("lastState") or {}
    if "running" in state:
        began = _moment(state["running"].get("startedAt"))
        return (began, time.time()) if began is not None else None
    ended = state.get("terminated") or last.get("terminated")
    if ended:
        began, finished = _moment(ended.get("startedAt")), _moment(ended.get("finishedAt"))
        if began is not None and finished is not None:
            return began, finished
    return None


def log_lines(world: World, pod: Obj, status: Obj, tail: int | None = None) -> list[tuple[float, str]]:
    """The lines Locust logged in the container's current (or last) run, with their times, oldest first;
    only the last ``tail`` of them when given (a run of hours holds thousands of tables: only those
    needed are written)."""
    run = run_of(status)
    if run is None:
        return []
    began, until = run
    knobs = world.knobs(NAME)
    version = locust_version(world, str(status.get("image", "")).rpartition(":")[2])
    headless = knobs.get("headless", True) is not False
    lines = [line for line in _startup(pod["metadata"]["name"], version, began, headless) if line[0] <= until]
    if headless:
        failures = {str(key): float(value) for key, value in (knobs.get("failures") or {}).items()}
        tables = int((until - began - FIRST_TABLE) // STATS_INTERVAL) + 1 if until - began >= FIRST_TABLE else 0
        first = 0 if tail is None else max(0, tables - (tail // 5 + 2))  # a table is at least 5 lines
        if first:
            lines = []
        for index in range(first, tables):
            moment = began + FIRST_TABLE + index * STATS_INTERVAL
            lines += [(moment + 0.000001 * n, text)
                      for n, text in enumerate(table(version, moment - began, failures))]
        lines.sort(key=lambda line: line[0])
    return lines[-tail:] if tail else ([] if tail == 0 else lines)


def _logged(host: str, moment: float, logger: str, message: str) -> str:
    when = datetime.fromtimestamp(moment, tz=timezone.utc)
    return f"[{when:%Y-%m-%d %H:%M:%S},{when.microsecond // 1000:03d}] {host}/INFO/{logger}: {message}"


def _startup(host: str, version: str, began: float, headless: bool) -> Iterator[tuple[float, str]]:
    modern = release(version) >= (2, 0)
    if not headless:
        yield began + 0.05, _logged(host, began + 0.05, "locust.main", "Starting web interface at http://0.0.0.0:8089 "
                                    "(accepting connections from all network interfaces)")
        yield began + 0.06, _logged(host, began + 0.06, "locust.main", f"Starting Locust {version}")
        return
    yield began + 0.05, _logged(host, began + 0.05, "locust.main", f"Starting Locust {version}")
    if modern:
        yield began + 0.06, _logged(host, began + 0.06, "locust.main", "No run time limit set, use CTRL+C to interrupt")
        yield began + 0.07, _logged(host, began + 0.07, "locust.runners",
                                    f"Ramping to {USERS} users at a rate of {SPAWN_RATE:.2f} per second")
        spawned = began + USERS / SPAWN_RATE
        yield spawned, _logged(host, spawned, "locust.runners",
                               f'All users spawned: {{"WebsiteUser": {USERS}}} ({USERS} total users)')
    else:
        yield began + 0.07, _logged(host, began + 0.07, "locust.runners",
                                    f"Spawning {USERS} users at the rate {SPAWN_RATE:g} users/s (0 users already "
                                    "running)...")
        spawned = began + USERS / SPAWN_RATE
        yield spawned, _logged(host, spawned, "locust.runners",
                               f"All users spawned: WebsiteUser: {USERS} (0 already running)")


def _row_values(share: float, median: int, elapsed: float, ratio: float) -> tuple[int, int, int, int, int, int, float,
                                                                                 float]:
    requests = int(share * LOAD_RATE * max(elapsed - FIRST_TABLE, 0.0))
    failures = int(requests * ratio)
    rps = share * LOAD_RATE
    return requests, failures, int(median * 1.15), max(median // 3, 1), median * 8, median, rps, rps * ratio


def table(version: str, elapsed: float, failures: dict[str, float]) -> list[str]:
    """Locust's table after ``elapsed`` seconds, in its release's layout; entries it has not yet met are absent."""
    rows = []
    for method, name, share, median in ENTRIES:
        values = _row_values(share, median, elapsed, failures.get(f"{method} {name}", 0.0))
        if values[0]:
            rows.append((method, name, *values))
    total_requests = sum(r[2] for r in rows)
    total_failures = sum(r[3] for r in rows)
    total = ("", "Aggregated", total_requests, total_failures, 38, min((r[5] for r in rows), default=0),
             max((r[6] for r in rows), default=0), 29 if rows else 0, sum(r[8] for r in rows),
             sum(r[9] for r in rows))
    layout = _new_layout if release(version) >= (2, 9) else _old_layout
    return layout(version, rows, total)


def _fails(requests: int, failures: int) -> str:
    ratio = failures / requests if requests else (1.0 if failures else 0.0)
    return f"{failures}({ratio * 100:.2f}%)"  # StatsEntry.to_string: "%d(%.2f%%)"


def _old_layout(version: str, rows: list[tuple[Any, ...]], total: tuple[Any, ...]) -> list[str]:
    """print_stats before 2.9: the method inside the name column (60 wide in 1.x, 80 from 2.0), "Median"."""
    width = 60 if release(version) < (2, 0) else 80
    row_format = " %-" + str(width) + "s %7d %12s  | %7d %7d %7d %7d  | %7.2f %7.2f"
    header = (" %-" + str(width) + "s %7s %12s  | %7s %7s %7s %7s  | %7s %7s") % (
        "Name", "# reqs", "# fails", "Avg", "Min", "Max", "Median", "req/s", "failures/s")

    def line(row: tuple[Any, ...]) -> str:
        method, name, requests, failures, average, low, high, median, rps, fps = row
        return row_format % ((f"{method} " if method else "") + name, requests, _fails(requests, failures), average,
                             low, high, median, rps, fps)

    separator = "-" * (80 + width)
    return [header, separator, *(line(r) for r in rows), separator, line(total), ""]


def _new_layout(version: str, rows: list[tuple[Any, ...]], total: tuple[Any, ...]) -> list[str]:
    """get_stats_summary from 2.9: a Type column, "Med", separators with "|" (name column 80 - 8 + 4)."""
    name_width = 80 - 8 + 4
    row_format = "%-8s %-" + str(name_width) + "s %7d %12s |%7d %7d %7d%7d | %7.2f %11.2f"
    header = ("%-8s %-" + str(name_width) + "s %7s %12s |%7s %7s %7s%7s | %7s %11s") % (
        "Type", "Name", "# reqs", "# fails", "Avg", "Min", "Max", "Med", "req/s", "failures/s")
    separator = (f"{'-' * 8}|{'-' * name_width}|{'-' * 7}|{'-' * 13}|{'-' * 7}|{'-' * 7}|{'-' * 7}|{'-' * 7}|"
                 f"{'-' * 8}|{'-' * 11}")

    def line(row: tuple[Any, ...]) -> str:
        method, name, requests, failures, average, low, high, median, rps, fps = row
        return row_format % ((f"{method} " if method else ""), name, requests, _fails(requests, failures), average,
                             low, high, median, rps, fps)

    return [header, separator, *(line(r) for r in rows), separator, line(total), ""]
