"""Kiali layer: Kiali finds no error in the Istio configuration of the boutique's namespace.

Pure function over ``meshcheck.addons.kiali_validations``. Errors fail the check, each named with its
object, its KIA code, Kiali's message and where in the object; warnings are listed and do not fail
(Kiali marks an object with only warnings as valid: models/istio_validation.go ``Valid``). Objects do
not fix themselves, so a failure is settled.
"""

from __future__ import annotations

from collections.abc import Sequence

from meshcheck.addons.kiali_validations import DOCS, ObjectValidation, with_severity
from meshcheck.results import CheckResult, count, fail, listing, ok


def check_validations(validations: Sequence[ObjectValidation], namespace: str) -> CheckResult:
    check = "kiali.validations"
    errors = with_severity(validations, "error")
    warnings = with_severity(validations, "warning")
    listed = [f"{v.ref}: {c.describe()}" for v in warnings for c in v.of_severity("warning")]
    diagnostics = {"validated": len(validations), "errors": [f"{v.ref}: {c.describe()}" for v in errors
                                                          for c in v.of_severity("error")], "warnings": listed}
    noted = f"; {count(len(listed), 'warning')}: {listing(listed, 3)}" if listed else ""
    if not errors:
        return ok(check, f"Kiali finds no error in the {count(len(validations), 'Istio object')} of namespace "
                         f"{namespace}{noted}", **diagnostics)
    found = [f"{v.ref} {c.describe()}" for v in errors for c in v.of_severity("error")]
    codes = sorted({c.code.lower() for v in errors for c in v.of_severity("error") if c.code})
    return fail(
        check,
        f"Kiali reports {count(len(found), 'error')} in the Istio configuration of namespace {namespace}: "
        + "; ".join(found) + noted,
        f"fix {listing(sorted({v.ref for v in errors}))} as Kiali's message says (Kiali's Istio Config page shows "
        f"each, {DOCS}#{codes[0] if codes else ''} explains the code)",
        **diagnostics,
    )
