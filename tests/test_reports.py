"""The reports a run leaves, read back as their readers would: the JSON summary against its published
schema, the HTML report's summary and rows, the JUnit XML's name and properties, the terminal table; and
the rubric deciding scores and what blocks what, end to end against simulated scenarios."""

from __future__ import annotations

import base64
import html
import json
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from meshcheck import layers
from meshcheck.pictures.browser import Skipped, file_url, screenshot
from meshcheck.report.outputs import storefront_figure
from meshcheck.report.summary import SCHEMA, SCHEMA_FILE
from meshcheck.rubric import load_rubric
from meshcheck.run import RunState
from meshcheck.sim.extras import fake_secrets
from tests.harness import ROOT, SUITE_TESTS
from tests.png import decode_png


@dataclass
class Reported:
    code: int
    output: str
    summary: dict[str, Any]
    html: str
    junit: ET.Element
    junit_text: str
    json_text: str

    def check(self, name: str) -> dict[str, Any]:
        return next(c for c in self.summary["checks"] if c["check"] == name)

    def layer(self, name: str) -> dict[str, Any]:
        return next(s for s in self.summary["score"]["layers"] if s["layer"] == name)

    def html_tests(self) -> dict[str, list[dict[str, Any]]]:
        blob = re.search(r'data-jsonblob="([^"]*)"', self.html)
        assert blob, "pytest-html's data blob"
        return json.loads(html.unescape(blob.group(1)))["tests"]


RUNS = {
    "healthy": ("healthy",),
    "istiod-down": ("istiod-down",),
    "addon-ci": ("kube-system-addon-failing",),
    "addon-grader": ("kube-system-addon-failing", "--rubric=lab-grader"),
    "add-to-cart": ("add-to-cart-fails",),
    "add-to-cart-alone": ("add-to-cart-fails", "-k", "checkout"),
    "screenshots": ("healthy", "--screenshots"),
    "secrets": ("secrets-everywhere",),
    "secrets-kiali": ("secrets-everywhere", "-m", "kiali"),  # Kiali's link, with a token in it, is judged
}


def _run(scenario: str, *args: str) -> Reported:
    with tempfile.TemporaryDirectory(prefix="meshcheck-report-") as tmp:
        out = Path(tmp)
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider", "--cluster=sim",
             f"--sim-scenario={scenario}", f"--report-json={out / 'r.json'}", f"--html={out / 'r.html'}",
             f"--junitxml={out / 'j.xml'}", "--wait=2", *args],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )
        return Reported(done.returncode, done.stdout + done.stderr, json.loads((out / "r.json").read_text()),
                        (out / "r.html").read_text(), ET.parse(out / "j.xml").getroot(), (out / "j.xml").read_text(),
                        (out / "r.json").read_text())


@pytest.fixture(scope="module")
def runs() -> dict[str, Reported]:
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(_run, *args) for name, args in RUNS.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_the_json_summary_follows_its_published_schema(runs: dict[str, Reported], name: str) -> None:
    summary = runs[name].summary
    jsonschema.validate(summary, json.loads(SCHEMA_FILE.read_text()))
    assert summary["schema"] == SCHEMA
    assert summary["cluster"]["context"] == "meshcheck-sim" and summary["cluster"]["server"].startswith("https://")
    assert summary["suite"]["version"] and summary["run"]["rubric"] in ("lab", "lab-grader")


def test_a_healthy_cluster_scores_full_points_with_evidence_for_every_pass(runs: dict[str, Reported]) -> None:
    run = runs["healthy"]
    assert run.code == 0
    assert (run.summary["score"]["points"], run.summary["score"]["max_points"]) == (100, 100)
    assert len(run.summary["checks"]) == SUITE_TESTS
    passed = [c for c in run.summary["checks"] if c["outcome"] == "passed"]
    assert passed and all(c["message"] and c["message"] != "passed" for c in passed)
    assert "admin" in run.check("test_dashboard_admin_account")["message"]
    skipped = [c for c in run.summary["checks"] if c["outcome"] == "skipped"]
    assert skipped and all(c["max_points"] == 0 and c["message"] for c in skipped)
    assert "total           100/100" in run.output


def test_a_broken_layer_blocks_the_layers_above_and_their_checks_score_zero(runs: dict[str, Reported]) -> None:
    run = runs["istiod-down"]
    assert run.code == 1
    assert run.check("test_istiod_available")["outcome"] == "failed"
    boutique = run.layer("boutique")
    assert boutique["state"] == "blocked" and boutique["points"] == 0 and boutique["max_points"] == 10
    assert boutique["cause"].startswith("blocked by istio: istiod Deployment istio-system/istiod is not available")
    found = run.check("test_boutique_namespace_found")
    assert (found["outcome"], found["blocked_by"], found["phase"]) == ("blocked", "istio", "setup")
    assert run.layer("cluster")["points"] == 15 and run.summary["score"]["points"] == 15 + run.layer("istio")["points"]


def test_every_check_is_recorded_even_one_that_failed_in_setup(runs: dict[str, Reported]) -> None:
    for run in runs.values():
        ids = {c["id"] for c in run.summary["checks"]}
        assert len(ids) == len(run.summary["checks"])
        assert all(c["outcome"] != "failed" or c["message"] for c in run.summary["checks"])
    assert len(runs["istiod-down"].summary["checks"]) == SUITE_TESTS


def test_causes_are_never_blank(runs: dict[str, Reported]) -> None:
    for run in runs.values():
        for layer in run.summary["score"]["layers"]:
            assert (layer["failed"] + layer["blocked"] == 0) == (layer["cause"] == ""), layer


def test_the_rubric_decides_whether_a_failing_kube_system_pod_blocks(runs: dict[str, Reported]) -> None:
    """CI (the default rubric): any failing kube-system pod blocks every later layer. Graders (lab-grader): it
    costs the cluster layer its share, and the student's mesh is graded as it is."""
    ci, grader = runs["addon-ci"], runs["addon-grader"]
    for run in (ci, grader):
        check = run.check("test_kube_system_pods_running")
        assert check["outcome"] == "failed" and "metrics-server" in check["message"]
        assert run.check("test_cluster_dns_available")["outcome"] == "passed"
    assert ci.layer("istio")["state"] == "blocked" and ci.summary["score"]["points"] < 15
    assert all(grader.layer(name)["state"] == "passed" for name in layers.BY_NAME if name != "cluster")
    assert grader.layer("cluster")["points"] == pytest.approx(12.5)
    assert grader.summary["score"]["points"] == pytest.approx(97.5)


def test_a_storefront_step_after_a_failed_step_is_blocked_by_it(runs: dict[str, Reported]) -> None:
    run = runs["add-to-cart"]
    add = run.check("test_storefront_add_to_cart_redirects_to_cart")
    assert add["outcome"] == "failed"
    for later in ("test_storefront_cart_shows_added_product",
                  "test_storefront_checkout_completes_with_order_confirmation"):
        check = run.check(later)
        assert check["outcome"] == "blocked", check
        assert check["blocked_by"] == "test_storefront_add_to_cart_redirects_to_cart"
        assert check["max_points"] > 0 and check["points"] == 0
    assert run.layer("storefront")["failed"] == 1 and run.layer("storefront")["blocked"] == 2


def test_a_step_whose_blocker_did_not_run_fails_in_its_own_right(runs: dict[str, Reported]) -> None:
    """`pytest -k checkout` on a broken shop must not pass: add-to-cart did not run as a check, so checkout fails."""
    run = runs["add-to-cart-alone"]
    checkout = run.check("test_storefront_checkout_completes_with_order_confirmation")
    assert run.code == 1 and checkout["outcome"] == "failed" and "add-to-cart failed" in checkout["message"]


def test_junit_names_the_cluster_and_carries_the_run_and_its_score(runs: dict[str, Reported]) -> None:
    suite = runs["istiod-down"].junit.find("testsuite")
    assert suite is not None and suite.get("name") == "meshcheck meshcheck-sim"
    properties = {p.get("name"): p.get("value") for p in suite.iter("property") if p.get("name")}
    assert properties["cluster"] == "meshcheck-sim" and properties["API server"].startswith("https://")
    assert properties["suite"].startswith("meshcheck ") and properties["started"].endswith("Z")
    assert properties["score"] == f"{runs['istiod-down'].summary['score']['points']:g} of 100"


def test_the_html_summary_names_the_cluster_and_shows_each_layer_with_points(runs: dict[str, Reported]) -> None:
    page = runs["istiod-down"].html
    summary = page[page.index('id="meshcheck-summary"'):]
    summary = summary[:summary.index("</section>")]
    assert "meshcheck-sim" in summary and "API server" in summary and "meshcheck 0.1" in summary
    for name in layers.BY_NAME:
        assert f'data-layer="{name}"' in summary
    assert 'class="state-blocked" data-layer="boutique"' in summary
    assert "0 / 10" in summary and "(2-3) Online Boutique on Istio" in summary
    shortened = re.findall(r"<details><summary>(.*?)</summary>(.*?)</details>", summary)
    assert shortened, "long causes are shortened with the whole text a click away"
    for short, whole in shortened:
        assert short.endswith("…") and whole.startswith(short[:-1].rstrip())
        assert html.unescape(whole)[len(html.unescape(short)) - 1] in " ,;:("  # cut at a word boundary


def test_html_rows_say_blocked_in_words_not_a_raw_tuple(runs: dict[str, Reported]) -> None:
    tests = runs["istiod-down"].html_tests()
    blocked = tests["suites/test_20_boutique.py::test_boutique_namespace_found"][0]
    assert "meshcheck-blocked" in blocked["resultsTableRow"][0]
    assert "blocked</b> by <b>istio</b>" in blocked["log"]
    assert "('" not in blocked["log"] and "plugin.py" not in blocked["log"]
    failed = tests["suites/test_10_istio.py::test_istiod_available"][0]
    assert "fix:</b>" in failed["log"] and "Traceback" not in failed["log"]
    passed = tests["suites/test_00_cluster.py::test_nodes_ready"][0]
    assert "nodes are Ready" in passed["log"]


def test_a_bad_rubric_ends_the_run_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "rubric.yaml"
    bad.write_text("goals: [{id: 1, title: t, layers: {clustr: 5}}]\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider",
                           "--cluster=sim", f"--rubric={bad}"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 4
    assert "meshcheck: rubric" in done.stderr and "unknown layer clustr" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_a_rubric_naming_a_check_the_suite_lacks_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "rubric.yaml"
    bad.write_text("extends: lab\nweights: {test_nodes_redy: 2}\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider",
                           "--cluster=sim", f"--rubric={bad}"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 4 and "test_nodes_redy" in done.stderr


def test_the_terminal_table_shows_points_counts_and_causes(runs: dict[str, Reported]) -> None:
    output = runs["istiod-down"].output.split("meshcheck layers", 1)[1]
    table = {m[1]: (m[2], int(m[3]), int(m[4]), int(m[5]), m[6].strip()) for m in re.finditer(
        r"^(\w+) +([\d.]+/[\d.]+) +(\d+) +(\d+) +(\d+)  (.*)$", output, re.MULTILINE)}
    assert table["cluster"] == ("15/15", 6, 0, 0, "")
    assert table["istio"][1:4] == (4, 1, 0) and table["istio"][4].startswith("istiod Deployment istio-system/istiod")
    assert table["boutique"][:4] == ("0/10", 0, 0, 7) and table["boutique"][4].startswith("blocked by istio: ")
    assert re.search(r"cluster meshcheck-sim \(https://127\.0\.0\.1:\d+\): \d+ API requests", output)
    assert all(len(cause) <= 101 for *_, cause in table.values())


def test_junit_keeps_the_suite_module_names_as_classnames(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    subprocess.run([sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider", "--cluster=sim",
                    "--sim-scenario=istiod-down", f"--junitxml={junit}", "-m", "istio"], cwd=ROOT, capture_output=True)
    classnames = {case.get("classname") for case in ET.parse(junit).getroot().iter("testcase")}
    assert classnames == {"suites.test_10_istio"}


@pytest.mark.parametrize("name", ["secrets", "secrets-kiali"])
def test_no_credential_survives_into_any_output(runs: dict[str, Reported], name: str) -> None:
    """Logs, Events, a ConfigMap and Kiali's answer carry made-up credentials; the failures quote and the
    diagnostics read them. None reaches the terminal, the HTML, the JUnit XML or the JSON summary."""
    run = runs[name]
    planted = fake_secrets()
    assert planted
    outputs = {"terminal": run.output, "html": html.unescape(run.html), "junit": html.unescape(run.junit_text),
               "json": run.json_text}
    for where, text in outputs.items():
        leaked = [secret for secret in planted if secret in text]
        assert not leaked, (where, leaked)
    assert "[redacted" in run.output


def test_failures_carry_diagnostics_in_every_report(runs: dict[str, Reported]) -> None:
    run = runs["secrets"]
    check = run.check("test_boutique_deployments_available")
    assert "Deployment online-boutique/paymentservice" in check["diagnostics"]
    assert "events (newest last):" in check["diagnostics"] and "container istio-proxy" in check["diagnostics"]
    assert "container istio-proxy" in run.output
    failure = next(c for c in run.junit.iter("testcase") if c.get("name") == "test_boutique_deployments_available")
    assert "events (newest last):" in (failure.find("failure").text or "")  # type: ignore[union-attr]
    row = run.html_tests()["suites/test_20_boutique.py::test_boutique_deployments_available"][0]
    assert "diagnostics</summary>" in row["log"] and "events (newest last):" in row["log"]
    assert all(not c["diagnostics"] for c in runs["healthy"].summary["checks"])


def test_the_report_reads_at_a_glance_in_a_real_browser(runs: dict[str, Reported], tmp_path: Path) -> None:
    """Headless Chromium draws the report of a broken cluster: the layer table shows a passed layer in green,
    the failed one in red and the blocked ones in their own amber, before any scrolling."""
    page = tmp_path / "report.html"
    page.write_text(runs["istiod-down"].html)
    shot = screenshot(file_url(page), tmp_path / "report.png", width=1280, height=900)
    if isinstance(shot, Skipped):
        pytest.skip(shot.reason)
    width, height, rows = decode_png(shot.path.read_bytes())
    assert (width, height) == (1280, 900)
    colours = {pixel for row in rows for pixel in row}
    cells = {"passed": (0xD9, 0xF2, 0xD9), "failed": (0xF8, 0xD4, 0xD4), "blocked": (0xFD, 0xE6, 0xC4)}
    for name, rgb in cells.items():
        assert rgb in colours, f"no {name} cell in view"
    amber = [(0xFD, 0xE6, 0xC4) in row for row in rows]
    bands = sum(1 for y in range(1, len(amber)) if amber[y] and not amber[y - 1])
    assert bands >= 2, "blocked layers, each a row of its own (cell borders between them)"


def test_with_screenshots_the_report_shows_the_storefront_as_a_browser_drew_it(runs: dict[str, Reported]) -> None:
    page = runs["screenshots"].html
    assert "The storefront&#x27;s home page" in page or "The storefront's home page" in page
    if "No picture:" in page:
        assert "install Debian" in page  # no browser here: the report says what to install
        pytest.skip("no browser on this machine")
    image = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert image, "the picture is inlined: a self-contained report stays one file"
    width, height, rows = decode_png(base64.b64decode(image.group(1)))
    assert (width, height) == (1280, 900) and len({p for row in rows[:200] for p in row}) > 2  # not blank
    assert "data:image/png" not in runs["healthy"].html, "only when asked: a browser costs seconds"


def test_no_storefront_picture_through_the_api_server_proxy() -> None:
    """A page through the proxy would hand the browser the kubeconfig's credentials: the report says why not."""
    state = RunState(rubric=load_rubric())
    assert "did not reach the shop" in storefront_figure(state)[1]


def test_one_layer_alone_is_scored_out_of_its_own_points() -> None:
    """The rubric weighs checks of other layers: a run of one module is not refused for that, and its total is
    that layer's points."""
    done = subprocess.run([sys.executable, "-m", "pytest", "suites/test_60_kiali.py", "-q", "-p", "no:cacheprovider",
                           "--cluster=sim", "--rubric=lab-grader"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^total +15/15", done.stdout, re.MULTILINE)
