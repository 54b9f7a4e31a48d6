"""The batch's own files at the top of its output folder: ``scores.csv`` for a spreadsheet and ``index.html``
linking every cluster's report, both sorted by name, both naming why a cluster has no report.

Both are written from the same outcomes, so they cannot disagree. Every text in the HTML is escaped
(a student's name or an error message may hold anything) and every link is relative, so the folder
can be zipped, moved or served as it is.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from urllib.parse import quote

from meshcheck import layers
from meshcheck.batch.progress import score_text
from meshcheck.batch.runner import Outcome

LAYER_NAMES = tuple(layer.name for layer in layers.LAYERS)
COLUMNS = ("name", "points", "max", *LAYER_NAMES, "status", "reason", "seconds")


@dataclass(frozen=True)
class BatchAbout:
    """What the index says above its table: what was graded, how, and when."""

    source: str
    options: str
    started: str
    seconds: float
    runner: str


def by_name(outcomes: Sequence[Outcome]) -> list[Outcome]:
    return sorted(outcomes, key=lambda o: (o.name.casefold(), o.name))


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def write_scores(out: Path, outcomes: Sequence[Outcome]) -> Path:
    """``scores.csv``: name, points, max, one column per layer with its points, status, reason, seconds.

    A layer's cell is empty when the cluster was not graded or the layer did not run.
    """
    path = out / "scores.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for o in by_name(outcomes):
            writer.writerow([o.name, _number(o.points), _number(o.max_points),
                             *(_number(o.layers.get(name)) for name in LAYER_NAMES),
                             o.status, o.reason, f"{o.seconds:.1f}"])
    return path


def _link(outcome: Outcome, file: str) -> str:
    return f"{quote(outcome.name)}/{quote(file)}"


STYLE = """<style>
body { font-family: Helvetica, Arial, sans-serif; margin: 1.5em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.status-ok td.status { background: #d9f2d9; } tr.status-failed td.status { background: #fde6c4; }
tr.status-error td.status, tr.status-timeout td.status { background: #f8d4d4; }
td.reason { max-width: 40em; } dl { display: grid; grid-template-columns: max-content auto; gap: 0.1em 1em; }
dt { font-weight: bold; color: #444; } dd { margin: 0; font-family: monospace; }
</style>"""


def _out_of(outcomes: Sequence[Outcome], layer: str) -> str:
    """" / 10" under a layer's name when every graded cluster could win the same points there (one rubric)."""
    maxima = {o.layer_max[layer] for o in outcomes if layer in o.layer_max}
    return f'<br><small>/ {next(iter(maxima)):g}</small>' if len(maxima) == 1 else ""


def write_index(out: Path, outcomes: Sequence[Outcome], about: BatchAbout) -> Path:
    """``index.html``: a row per cluster, its name linking its report; a row without a report says why."""
    rows = []
    for o in by_name(outcomes):
        name = escape(o.name)
        if o.has("report.html"):
            name = f'<a href="{escape(_link(o, "report.html"))}">{name}</a>'
        files = " ".join(f'<a href="{escape(_link(o, f))}">{escape(f)}</a>'
                         for f in ("report.json", "junit.xml", "pytest.log") if o.has(f))
        cells = "".join(f'<td class="num">{_number(o.layers.get(n))}</td>' for n in LAYER_NAMES)
        rows.append(
            f'<tr class="status-{escape(o.status)}" data-name="{escape(o.name)}"><td class="name">{name}</td>'
            f'<td class="num">{escape(score_text(o))}</td><td class="status">{escape(o.status)}</td>{cells}'
            f'<td class="num">{o.seconds:.1f}</td><td class="reason">{escape(o.reason)}</td>'
            f'<td class="files">{files}</td></tr>'
        )
    graded = sum(o.graded for o in outcomes)
    head = "".join(f"<th>{escape(n)}{_out_of(outcomes, n)}</th>" for n in LAYER_NAMES)
    facts = [("graded", f"{graded} of {len(outcomes)} clusters"), ("from", about.source),
             ("suite options", about.options), ("started", about.started),
             ("took", f"{about.seconds:.1f} s ({about.runner} runner)"), ("scores", "scores.csv")]
    listed = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts)
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>meshcheck grades</title>'
        f"{STYLE}</head><body><h1>meshcheck grades</h1><dl>{listed}</dl>"
        "<p>Each name links to that cluster's report. A cluster without a report could not be graded: "
        "its reason says why, and its log (pytest.log) says more.</p>"
        f"<table><thead><tr><th>name</th><th>points</th><th>status</th>{head}<th>seconds</th><th>reason</th>"
        f"<th>files</th></tr></thead><tbody>{''.join(rows)}</tbody></table></body></html>\n"
    )
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
