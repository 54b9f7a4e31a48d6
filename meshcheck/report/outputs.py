"""The run's outputs, all from the same records: the terminal's layer table, the pytest-html report, the
JUnit XML's name and properties, and the JSON summary.

A pytest plugin of its own, registered by ``meshcheck.plugin``: it only reads the run's state, so the
gating never depends on how a result is shown.
"""

from __future__ import annotations

import base64
import tempfile
import time
from html import escape
from pathlib import Path
from typing import Any

import pytest
from _pytest.junitxml import xml_key  # the JUnit writer: its suite name and <properties>, otherwise "pytest"

from meshcheck.pictures.browser import Skipped, screenshot
from meshcheck.redact import redact, redact_obj
from meshcheck.report import html as html_report
from meshcheck.report.record import RECORD_ATTR, CheckRecord
from meshcheck.report.score import Score, score
from meshcheck.report.summary import About, document, suite_version, timestamp, write_json
from meshcheck.report.text import shorten
from meshcheck.run import STATE, RunState


def finish(config: pytest.Config) -> tuple[About, Score] | None:
    """The run's About and Score, computed once when the session ends."""
    state = config.stash.get(STATE, None)
    if state is None or not state.records:
        return None
    if state.finished is None:
        state.finished = _about(state, config), score(state.records.values(), state.rubric)
    return state.finished


def _about(state: RunState, config: pytest.Config) -> About:
    cluster = state.suite.cluster if state.suite else None
    return About(
        context=cluster.name if cluster else "(not connected)",
        server=redact(cluster.server) if cluster else "",
        suite_version=suite_version(),
        started=state.started,
        finished=time.time(),
        rubric=state.rubric.name,
        profile=state.suite.profile.name if state.suite else "",
        api_requests=cluster.request_count if cluster else 0,
        created_cluster=config.getoption("cluster", "attach") != "attach",
    )


def storefront_figure(state: RunState) -> tuple[str, str]:
    """The storefront's home page as a browser drew it, or why there is no picture. Only through an address
    this runner reaches directly: a page through the API server's proxy would hand the browser the
    kubeconfig's credentials (meshcheck.pictures.browser says more)."""
    title = "The storefront's home page"
    endpoint = state.suite.resolved("storefront") if state.suite else None
    if endpoint is None:
        return title, "<p>No picture: the storefront layer did not reach the shop in this run.</p>"
    if endpoint.service is not None:
        return title, (f"<p>No picture: the shop was reached {escape(endpoint.via)}, which a browser cannot use "
                       "without the kubeconfig's credentials; run where the gateway's EXTERNAL-IP is reachable.</p>")
    with tempfile.TemporaryDirectory(prefix="meshcheck-shot-") as tmp:
        shot = screenshot(endpoint.base_url + "/", Path(tmp) / "storefront.png")
        if isinstance(shot, Skipped):
            return title, f"<p>No picture: {escape(redact(shot.reason))}</p>"
        data = base64.b64encode(shot.path.read_bytes()).decode()
    return f"{title} ({endpoint.via}, {shot.browser})", (
        f'<img alt="the storefront\'s home page" style="max-width:100%;border:1px solid #ccc" '
        f'src="data:image/png;base64,{data}">')


def record_of(report: Any) -> CheckRecord | None:
    return getattr(report, RECORD_ATTR, None)


# --- hooks ----------------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Before the JUnit and HTML writers write: name the suite after the cluster, add the run's properties,
    and write the JSON summary."""
    done = finish(session.config)
    if done is None:
        return
    about, run_score = done
    state = session.config.stash[STATE]
    if session.config.getoption("screenshots", False) and session.config.getoption("htmlpath", None):
        state.figures.append(storefront_figure(state))
    xml = session.config.stash.get(xml_key, None)
    if xml is not None:
        xml.suite_name = f"meshcheck {about.context}"
        for name, value in about.lines():
            xml.add_global_property(name, redact(value))
        xml.add_global_property("score", f"{run_score.points:g} of {run_score.max:g}")
    target = session.config.getoption("report_json", None)
    if target:
        write_json(Path(target), redact_obj(document(about, run_score, list(state.records.values()))))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    done = finish(config)
    if done is None:
        return
    about, run_score = done
    state = config.stash[STATE]
    write = terminalreporter.write_line
    terminalreporter.section("meshcheck layers")
    write(f"cluster {about.context} ({about.server}): {about.api_requests} API requests; meshcheck "
          f"{about.suite_version}, rubric {about.rubric}, started {timestamp(about.started)}")
    write(f"{'layer':<11} {'points':>11} {'passed':>6} {'failed':>6} {'blocked':>7}  first failure")
    for row in run_score.layers:
        if not row.ran:
            continue
        points = f"{row.points:g}/{row.max:g}"
        write(f"{row.layer:<11} {points:>11} {row.passed:>6} {row.failed:>6} {row.blocked:>7}  "
              f"{shorten(row.cause, 100)}")
    write(f"{'total':<11} {f'{run_score.points:g}/{run_score.max:g}':>11}")
    for title, lines in state.sections:
        terminalreporter.section(title)
        for line in lines:
            write(line)


@pytest.hookimpl(optionalhook=True)
def pytest_html_report_title(report: Any) -> None:
    report.title = "meshcheck report"


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_summary(prefix: list[str], summary: list[str], postfix: list[str],
                                session: pytest.Session) -> None:
    done = finish(session.config)
    if done is None:
        return
    about, run_score = done
    state = session.config.stash[STATE]
    prefix.append(html_report.summary_html(about, run_score, state.sections, state.figures))


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_row(report: Any, cells: list[str]) -> None:
    """A blocked check reads "Blocked" in its own colour. The cell's text stays pytest-html's "Skipped", which
    its filters know (a result it does not know is never shown); the word people see is drawn by the style."""
    record = record_of(report)
    if record is None or len(cells) < 2:
        return
    cells[1] = f'<td class="col-testId">{escape(record.id)}</td>'  # a check, not "…::setup", whatever phase it ended in
    if record.outcome == "blocked":
        cells[0] = '<td class="col-result meshcheck-blocked">Skipped</td>'


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_html(report: Any, data: list[str]) -> None:
    """The check's own words in place of pytest's: a blocked check's cause rather than a skip's raw tuple,
    a failure's message, fix and diagnostics rather than a traceback, a pass's evidence."""
    record = record_of(report)
    if record is None:
        return
    data[:] = [html_report.record_html(record)]
