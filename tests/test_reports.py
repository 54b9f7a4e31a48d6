"""What a run reports besides pass/fail: the per-layer table in the terminal, the pytest-html summary, and
JUnit XML whose classnames keep the suite's module names."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

from meshcheck import layers
from tests.harness import run_suite


class _Tables(HTMLParser):
    """The rows of every table in a page, as lists of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_a_broken_layer_shows_in_the_terminal_table_the_html_summary_and_junit(tmp_path: Path) -> None:
    html, junit = tmp_path / "report.html", tmp_path / "junit.xml"
    run = run_suite(f"--html={html}", "--self-contained-html", scenario="istiod-down")
    assert run.code == 1

    table = {m[1]: (int(m[2]), int(m[3]), int(m[4]), m[5].strip()) for m in re.finditer(
        r"^(\w+) +(\d+) +(\d+) +(\d+)  (.*)$", run.output.split("meshcheck layers", 1)[1], re.MULTILINE)}
    assert table["cluster"] == (5, 0, 0, "")
    assert table["istio"][:3] == (4, 1, 0) and table["istio"][3].startswith("istiod Deployment istio-system/istiod")
    assert table["boutique"] == (0, 0, 7, "") and table["grafana"] == (0, 0, 4, "")
    assert re.search(r"cluster meshcheck-sim \(https://127\.0\.0\.1:\d+\): \d+ API requests", run.output)

    parser = _Tables()
    parser.feed(html.read_text())
    summary = {row[0]: row[1:] for row in parser.rows if row and row[0] in layers.BY_NAME}
    assert summary["istio"][:3] == ["4", "1", "0"] and "istiod is not available" in summary["istio"][3]
    assert summary["tracing"] == ["0", "0", "3", ""]

    run_suite(f"--junitxml={junit}", "-m", "istio", scenario="istiod-down")
    classnames = {case.get("classname") for case in ET.parse(junit).getroot().iter("testcase")}
    assert classnames == {"suites.test_10_istio"}
