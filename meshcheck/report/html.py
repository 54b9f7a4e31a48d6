"""The HTML a person reads first: which cluster, the score, a table of layers readable at a glance, and
each check in its own words.

pytest-html renders its results table itself; this module writes what goes above it (the summary) and
inside each row (the check's message, fix and diagnostics). Causes are shortened at a word with the
whole text one click away (``<details>``); every text is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from meshcheck.report.record import CheckRecord
from meshcheck.report.score import Score
from meshcheck.report.summary import About
from meshcheck.report.text import shorten

CAUSE_LIMIT = 90

STYLE = """
<style>
.meshcheck { font-family: Helvetica, Arial, sans-serif; margin: 0 0 1.5em 0; }
.meshcheck h2 { margin: 0.2em 0 0.4em 0; }
.meshcheck dl.about { display: grid; grid-template-columns: max-content auto; gap: 0.15em 1em; margin: 0 0 1em 0; }
.meshcheck dl.about dt { font-weight: bold; color: #444; }
.meshcheck dl.about dd { margin: 0; font-family: monospace; }
.meshcheck table.layers { border-collapse: collapse; width: 100%; table-layout: fixed; }
.meshcheck table.layers th, .meshcheck table.layers td { border: 1px solid #ccc; padding: 4px 8px; text-align: left;
  vertical-align: top; }
.meshcheck table.layers th { background: #f0f0f0; }
.meshcheck table.layers col.name { width: 8em; } .meshcheck table.layers col.goal { width: 16em; }
.meshcheck table.layers col.num { width: 5.5em; } .meshcheck table.layers col.state { width: 6em; }
.meshcheck td.num { text-align: right; font-variant-numeric: tabular-nums; }
.meshcheck tr.state-passed td.state { background: #d9f2d9; color: #185c18; }
.meshcheck tr.state-failed td.state { background: #f8d4d4; color: #8a1414; }
.meshcheck tr.state-blocked td.state { background: #fde6c4; color: #7a4a00; }
.meshcheck tr.state-skipped td.state, .meshcheck tr.state-not-run td.state { background: #eee; color: #555; }
.meshcheck tr.total td { font-weight: bold; }
.meshcheck details summary { cursor: pointer; }
.meshcheck pre { white-space: pre-wrap; margin: 0.3em 0; }
td.col-result.meshcheck-blocked { font-size: 0; }
td.col-result.meshcheck-blocked::after { content: "Blocked"; font-size: 12px; color: #b36b00; font-weight: bold; }
.meshcheck-check .outcome-failed { color: #8a1414; } .meshcheck-check .outcome-blocked { color: #7a4a00; }
.meshcheck-check .outcome-passed { color: #185c18; }
.meshcheck-check pre { white-space: pre-wrap; }
</style>
"""


def cause_html(text: str, limit: int = CAUSE_LIMIT) -> str:
    """A cause shortened at a word, with the whole text one click away when it was shortened."""
    short = shorten(text, limit)
    if short == " ".join(text.split()):
        return escape(short)
    return f"<details><summary>{escape(short)}</summary>{escape(text)}</details>"


def summary_html(about: About, score: Score, sections: Sequence[tuple[str, list[str]]] = (),
                 figures: Sequence[tuple[str, str]] = ()) -> str:
    """The summary above pytest-html's table. ``figures`` are trusted markup the suite drew itself (every
    text inside them escaped by their drawer), inlined so a self-contained report stays one file."""
    about_rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in about.lines())
    rows = []
    for row in score.layers:
        state = row.state.replace(" ", "-")
        points = f"{row.points:g} / {row.max:g}" if row.ran else "—"
        rows.append(
            f'<tr class="state-{state}" data-layer="{escape(row.layer)}">'
            f"<td>{escape(row.layer)}</td><td>{escape(row.goal)}</td>"
            f'<td class="state">{escape(row.state)}</td><td class="num">{points}</td>'
            f'<td class="num">{row.passed}</td><td class="num">{row.failed}</td><td class="num">{row.blocked}</td>'
            f'<td class="cause">{cause_html(row.cause) if row.cause else ""}</td></tr>'
        )
    rows.append(f'<tr class="total"><td>total</td><td>{escape(about.rubric)}</td><td></td>'
                f'<td class="num">{score.points:g} / {score.max:g}</td><td colspan="4"></td></tr>')
    extra = "".join(
        f"<h3>{escape(title)}</h3><pre>{escape(chr(10).join(lines))}</pre>" for title, lines in sections
    ) + "".join(f'<figure class="meshcheck-figure"><figcaption>{escape(title)}</figcaption>{markup}</figure>'
                for title, markup in figures)
    return (
        f'{STYLE}<section class="meshcheck" id="meshcheck-summary">'
        f"<h2>{escape(about.context)}: {score.points:g} of {score.max:g} points</h2>"
        f'<dl class="about">{about_rows}</dl>'
        '<table class="layers"><colgroup><col class="name"><col class="goal"><col class="state"><col class="num">'
        '<col class="num"><col class="num"><col class="num"><col></colgroup>'
        "<thead><tr><th>layer</th><th>goal</th><th>state</th><th>points</th><th>passed</th><th>failed</th>"
        f"<th>blocked</th><th>first failure</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        "<p>Blocked checks were not tried: a layer or step they rest on failed. The filters below count them "
        "among the skipped.</p>"
        f"{extra}</section>"
    )


def record_html(record: CheckRecord) -> str:
    """One check in its own words, for its row in pytest-html's results table."""
    parts = [f'<div class="meshcheck-check"><p class="outcome-{record.outcome}"><b>{escape(record.outcome)}</b>']
    if record.outcome == "blocked" and record.blocked_by:
        parts.append(f" by <b>{escape(record.blocked_by)}</b>")
    parts.append(f": {escape(record.message)}</p>")
    if record.remediation:
        parts.append(f"<p><b>fix:</b> {escape(record.remediation)}</p>")
    if record.diagnostics:
        parts.append(f"<details open><summary>diagnostics</summary><pre>{escape(record.diagnostics)}</pre></details>")
    parts.append("</div>")
    return "".join(parts)
