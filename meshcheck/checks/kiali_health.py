"""Kiali layer: Kiali's health shows no app of the boutique failing.

Pure function over ``meshcheck.addons.kiali_health``, which gives each app the status Kiali shows
(its server's from v2.22.0, else Kiali's UI rules). Failure fails the check; Degraded and Not Ready
are listed and do not. Health follows traffic and pods over Kiali's rate interval, so it may still
change: a failure is unsettled (the suite stops waiting once the mesh has run long enough).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from meshcheck.addons.kiali_health import FAILURE, HEALTHY, NA, AppHealth
from meshcheck.checks.refs import named
from meshcheck.results import CheckResult, count, fail, listing, ok


def check_health(health: Mapping[str, AppHealth], namespace: str, expected: Sequence[str] = ()) -> CheckResult:
    check = "kiali.health"
    failing = [h for h in health.values() if h.status == FAILURE]
    other = [h for h in health.values() if h.status not in (HEALTHY, FAILURE, NA)]
    unlisted = [app for app in expected if app not in health]
    diagnostics = {"statuses": {app: h.status for app, h in health.items()}, "unlisted": unlisted,
                   "computed_by": sorted({h.computed_by for h in health.values()})}
    notes = []
    if other:
        notes.append("not failing but " + listing(f"{h.app} {h.status} ({'; '.join(h.reasons) or 'no reason given'})"
                                                  for h in other))
    if unlisted:
        notes.append(f"Kiali lists no app {listing(unlisted)}")
    noted = "; " + "; ".join(notes) if notes else ""
    if not health:
        return fail(check, f"Kiali's health lists no app in namespace {namespace}",
                    "Kiali lists apps by their app label: check the boutique's pods carry one and that Kiali can "
                    "read the namespace (its accessible_namespaces / discovery selectors)", settled=False,
                    **diagnostics)
    if not failing:
        return ok(check, f"Kiali's health shows none of the {count(len(health), 'app')} of namespace {namespace} "
                         f"failing{noted}", **diagnostics)
    return fail(
        check,
        f"Kiali's health shows {count(len(failing), 'app')} of namespace {namespace} failing: "
        + "; ".join(f"{h.app} Failure ({'; '.join(h.reasons) or 'no reason given'})" for h in failing) + noted,
        f"open {listing([h.app for h in failing])} in Kiali (Applications, {namespace}) to see which calls fail; "
        "check those pods' logs and the workloads they call",
        settled=False,
        objects=named("Deployment", namespace, *(h.app for h in failing)),
        **diagnostics,
    )
