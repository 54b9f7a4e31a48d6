"""The per-endpoint table of our own load, for the terminal and the reports (JUnit properties, HTML)."""

from __future__ import annotations

from meshcheck.addons.locust import Row
from meshcheck.load.run import LoadRun


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _line(row: Row) -> str:
    return (f"{row.method or '':<6} {row.name[:40]:<40} {row.requests:>7} {row.failures:>7} "
            f"{row.failure_ratio:>7.2%} {_ms(row.median_ms):>7} {_ms(row.p95_ms):>7} "
            f"{(row.rps or 0.0):>7.2f}")


def table_lines(run: LoadRun) -> list[str]:
    """What our load sent and how the shop answered, one line per endpoint, then the Aggregated row."""
    plan = run.plan
    head = f"{plan.users} users (spawned {plan.spawn_rate:g}/s) for {plan.duration:g}s through {plan.via}"
    if run.stats is None:
        return [head, f"no statistics: {run.error}"]
    lines = [head, f"{'type':<6} {'name':<40} {'# reqs':>7} {'# fails':>7} {'fails':>7} {'median':>7} "
                   f"{'p95 ms':>7} {'req/s':>7}"]
    lines += [_line(row) for row in run.stats.rows]
    lines.append(_line(run.stats.total))
    lines += [f"error: {f.method} {f.name}: {f.error} ×{f.occurrences}" for f in run.failures[:5]]
    return lines
