"""Batch grading (meshcheck-grade), run as a grader runs it: a folder of kubeconfigs for simulated clusters
healthy, broken, unreachable, malformed and too slow, graded at once; every row says what it came to, the
reports are where the index says, and one bad cluster never stops the others. Then the batch's own input:
CSV and folder reading, and exit code 2 with one line for what the batch itself cannot use."""

from __future__ import annotations

import contextlib
import csv
import json
import re
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import jsonschema
import pytest
import yaml

from meshcheck import layers
from meshcheck.batch import __main__ as cli
from meshcheck.batch.index import COLUMNS
from meshcheck.batch.inputs import BatchInputError, Target, read_csv, read_folder, read_targets
from meshcheck.batch.launch import CRASHED, error_line
from meshcheck.batch.runner import Job, judge
from meshcheck.report.summary import SCHEMA_FILE
from meshcheck.sim.server import SimCluster

TIMEOUT = 10  # --cluster-timeout: the slow cluster needs far more, the others far less even on a busy machine


@dataclass
class Batch:
    code: int
    stdout: str
    stderr: str
    out: Path
    rows: dict[str, dict[str, str]]
    columns: list[str]
    names: list[str]      # in the order scores.csv lists them
    secrets: list[str]    # what the kubeconfigs hold that must never be printed

    def report(self, name: str) -> dict:
        return json.loads((self.out / name / "report.json").read_text())


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _grade(source: Path, out: Path, *options: str, cwd: Path) -> Batch:
    done = subprocess.run([sys.executable, "-m", "meshcheck.batch", str(source), f"--out={out}", *options],
                          cwd=cwd, capture_output=True, text=True, timeout=180)
    with (out / "scores.csv").open(newline="") as file:
        reader = csv.DictReader(file)
        listed = list(reader)
        columns = list(reader.fieldnames or [])
    return Batch(done.returncode, done.stdout, done.stderr, out, {r["name"]: r for r in listed}, columns,
                 [r["name"] for r in listed], [])


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Batch]]:
    """Two batches at once: a folder of five kinds of cluster (fork runner), and a CSV with a context column
    (subprocess runner), both against the same simulated clusters."""
    tmp = tmp_path_factory.mktemp("batch")
    folder = tmp / "students"
    folder.mkdir()
    with SimCluster("healthy", workdir=tmp / "sim-healthy") as healthy, \
            SimCluster("healthy", workdir=tmp / "sim-healthy-2") as healthy_2, \
            SimCluster("istiod-down", workdir=tmp / "sim-istiod-down") as broken, \
            SimCluster("healthy", latency=30, workdir=tmp / "sim-slow") as slow:
        for name, sim in (("healthy", healthy), ("Healthy 2", healthy_2), ("istiod-down", broken), ("slow", slow)):
            assert sim.kubeconfig is not None
            (folder / f"{name}.yaml").write_text(sim.kubeconfig.read_text())
        unreachable = yaml.safe_load(healthy.kubeconfig.read_text())  # type: ignore[union-attr]
        unreachable["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{_closed_port()}"
        (folder / "unreachable.yaml").write_text(yaml.safe_dump(unreachable))
        (folder / "malformed.yaml").write_text("clusters: [unclosed\n")
        (folder / ".hidden").write_text("not a student")
        listing = tmp / "students.csv"
        listing.write_text("name,kubeconfig,context\n# graded with its context named\n"
                           "healthy,students/healthy.yaml,meshcheck-sim\n\n"
                           "wrong-context,students/healthy.yaml,nope\n")
        secrets = [healthy.token, healthy_2.token, broken.token, slow.token]
        with ThreadPoolExecutor(max_workers=2) as pool:
            by_folder = pool.submit(_grade, folder, tmp / "out", "--jobs=6", f"--cluster-timeout={TIMEOUT}",
                                    "--", "--wait=2", cwd=tmp)
            by_csv = pool.submit(_grade, listing, tmp / "out-csv", "--runner=subprocess", "--", "--wait=2", cwd=tmp)
            result = {"folder": by_folder.result(), "csv": by_csv.result()}
        for batch in result.values():
            batch.secrets = secrets
        yield result


def test_every_cluster_has_a_row_and_one_bad_cluster_stops_nothing(batches: dict[str, Batch]) -> None:
    batch = batches["folder"]
    assert batch.code == 1, batch.stdout + batch.stderr  # some could not be graded
    assert batch.names == ["healthy", "Healthy 2", "istiod-down", "malformed", "slow", "unreachable"]
    status = {name: row["status"] for name, row in batch.rows.items()}
    assert status == {"healthy": "ok", "Healthy 2": "ok", "istiod-down": "failed", "malformed": "error",
                      "slow": "timeout", "unreachable": "error"}
    assert batch.rows["healthy"]["reason"] == ""
    assert batch.rows["istiod-down"]["reason"].startswith("istio: ")
    assert "istiod" in batch.rows["istiod-down"]["reason"]
    assert batch.rows["slow"]["reason"] == f"timed out after {TIMEOUT} s"
    # the suite's own one line for bad input, as it prints it after "ERROR: "
    assert re.match(r"meshcheck: kubeconfig .*malformed\.yaml cannot be read", batch.rows["malformed"]["reason"])
    assert batch.rows["unreachable"]["reason"].startswith("meshcheck: the API server at https://127.0.0.1:")
    assert "did not answer" in batch.rows["unreachable"]["reason"]
    assert float(batch.rows["slow"]["seconds"]) >= TIMEOUT


def test_scores_csv_has_points_per_layer(batches: dict[str, Batch]) -> None:
    batch = batches["folder"]
    assert batch.columns == list(COLUMNS)
    assert batch.columns == ["name", "points", "max", *(layer.name for layer in layers.LAYERS), "status", "reason",
                             "seconds"]
    for name in ("healthy", "istiod-down"):
        row, summary = batch.rows[name], batch.report(name)
        assert float(row["points"]) == summary["score"]["points"]
        assert float(row["max"]) == summary["score"]["max_points"] == 100
        for layer in summary["score"]["layers"]:
            assert float(row[layer["layer"]]) == layer["points"], (name, layer["layer"])
    assert batch.rows["healthy"]["points"] == "100"
    assert float(batch.rows["istiod-down"]["istio"]) < 10
    for name in ("malformed", "slow", "unreachable"):
        row = batch.rows[name]
        assert row["points"] == row["max"] == "" and all(row[layer.name] == "" for layer in layers.LAYERS)


def test_graded_clusters_have_their_reports_valid_and_their_own(batches: dict[str, Batch]) -> None:
    batch = batches["folder"]
    schema = json.loads(SCHEMA_FILE.read_text())
    servers = set()
    for name in ("healthy", "Healthy 2", "istiod-down"):
        folder = batch.out / name
        summary = batch.report(name)
        jsonschema.validate(summary, schema)
        assert summary["run"]["rubric"] == "lab-grader"  # the graders' rubric unless another is named
        kubeconfig = yaml.safe_load((folder.parent.parent / "students" / f"{name}.yaml").read_text())
        assert summary["cluster"]["server"] == kubeconfig["clusters"][0]["cluster"]["server"]  # no run saw another's
        servers.add(summary["cluster"]["server"])
        assert ET.parse(folder / "junit.xml").getroot().find("testsuite").get("name") == "meshcheck meshcheck-sim"
        assert "meshcheck report" in (folder / "report.html").read_text()
    assert len(servers) == 3
    for name in ("malformed", "slow", "unreachable"):  # not graded: no report, but the run's log
        assert not (batch.out / name / "report.json").exists() and not (batch.out / name / "report.html").exists()
        assert (batch.out / name / "pytest.log").is_file()


def test_index_links_each_report_sorted_by_name_with_reasons(batches: dict[str, Batch]) -> None:
    batch = batches["folder"]
    page = (batch.out / "index.html").read_text()
    assert re.findall(r'data-name="([^"]*)"', page) == batch.names
    links = re.findall(r'href="([^"]+)"', page)
    assert links, page
    for link in links:
        assert (batch.out / unquote(link)).is_file(), link
    assert "healthy/report.html" in links and "Healthy%202/report.html" in links and "istiod-down/report.html" in links
    assert not any(link.startswith(("slow/report", "malformed/report", "unreachable/report")) for link in links)
    for name in ("malformed", "slow", "unreachable"):
        row = re.search(rf'<tr[^>]*data-name="{name}".*?</tr>', page)
        assert row and ("timed out after" in row.group(0) or "meshcheck: " in row.group(0)), name


def test_progress_says_each_cluster_as_it_finishes(batches: dict[str, Batch]) -> None:
    batch = batches["folder"]
    done = [line for line in batch.stdout.splitlines() if re.match(r"\s*\d+/6 done ", line)]
    assert [line.split(" done ")[0].strip() for line in done] == [f"{n}/6" for n in range(1, 7)]
    healthy = next(line for line in done if " healthy " in line)
    assert re.search(r"100/100\s+ok\s+\d+\.\d s", healthy), healthy
    assert "\r" not in batch.stdout and "\x1b" not in batch.stdout  # plain lines, as CI logs show them
    assert "graded 3 of 6 clusters" in batch.stdout
    assert "Traceback" not in batch.stdout + batch.stderr


def test_no_secret_reaches_any_output(batches: dict[str, Batch]) -> None:
    for batch in batches.values():
        assert batch.secrets
        for file in [p for p in batch.out.rglob("*") if p.is_file()]:
            text = file.read_text(errors="replace")
            for secret in batch.secrets:
                assert secret not in text, file
        for secret in batch.secrets:
            assert secret not in batch.stdout + batch.stderr


def test_csv_input_with_contexts_and_the_subprocess_runner(batches: dict[str, Batch]) -> None:
    batch = batches["csv"]
    assert batch.code == 1, batch.stdout + batch.stderr
    assert batch.names == ["healthy", "wrong-context"]
    assert batch.rows["healthy"]["status"] == "ok" and batch.rows["healthy"]["points"] == "100"
    assert batch.rows["wrong-context"]["status"] == "error"
    assert "context 'nope'" in batch.rows["wrong-context"]["reason"]
    assert "subprocess runner" in batch.stdout


# --- the batch's own input ----------------------------------------------------------------------------


def test_csv_rows_header_contexts_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    listing = tmp_path / "sub" / "class.csv"
    listing.write_text("\ufeffName,Kubeconfig\n# comment\n\nalice, alice.yaml\nbob,/abs/bob.yaml,prod\n"
                       "carol,~/carol.yaml,\n\"Jane Doe\",../jane.yaml\n")
    assert read_csv(listing) == [
        Target("alice", tmp_path / "sub" / "alice.yaml"),
        Target("bob", Path("/abs/bob.yaml"), "prod"),
        Target("carol", Path("~/carol.yaml").expanduser()),
        Target("Jane Doe", tmp_path / "sub" / ".." / "jane.yaml"),
    ]
    headless = tmp_path / "headless.csv"
    headless.write_text("alice,a.yaml,ctx\n")
    assert read_csv(headless) == [Target("alice", tmp_path / "a.yaml", "ctx")]


@pytest.mark.parametrize(("text", "fragment"), [
    ("alice\n", ":1: expected name,kubeconfig[,context], found 1 columns"),
    ("name,kubeconfig\nalice,a.yaml,ctx,extra\n", ":2: expected name,kubeconfig[,context], found 4 columns"),
    ("name,kubeconfig,cluster\n", ":1: the header must read name,kubeconfig[,context]"),
    (",a.yaml\n", ":1: the name is empty"),
    ("alice,\n", ":1: no kubeconfig path for alice"),
    ("a/b,a.yaml\n", "holds a path separator"),
    ("index.html,a.yaml\n", "is the name of one of the batch's own files"),
    (".alice,a.yaml\n", "starts with a dot"),
    ("alice,a.yaml\nAlice,b.yaml\n", "the name 'Alice' appears twice ('alice' and 'Alice')"),
    ("# nobody\n", "no clusters to grade"),
])
def test_csv_errors_name_the_line(tmp_path: Path, text: str, fragment: str) -> None:
    listing = tmp_path / "class.csv"
    listing.write_text(text)
    with pytest.raises(BatchInputError, match=re.escape(fragment)):
        read_targets(listing)


def test_folder_skips_hidden_files_and_folders_and_refuses_duplicate_stems(tmp_path: Path) -> None:
    for name in ("alice.yaml", "bob", ".DS_Store"):
        (tmp_path / name).write_text("x")
    (tmp_path / "archive").mkdir()
    assert [t.name for t in read_folder(tmp_path)] == ["alice", "bob"]
    (tmp_path / "alice.conf").write_text("x")
    with pytest.raises(BatchInputError, match="the name 'alice' appears twice"):
        read_targets(tmp_path)


@pytest.mark.parametrize(("setup", "argv", "fragment"), [
    (None, ["nowhere", "--out=o"], "nowhere: no such folder or CSV file"),
    ("empty", ["empty", "--out=o"], "empty: no clusters to grade in it"),
    ("badcsv", ["class.csv", "--out=o"], "class.csv:2: expected name,kubeconfig[,context], found 4 columns"),
    ("dupes", ["dupes", "--out=o"], "the name 'alice' appears twice"),
    ("dupes-ok", ["dupes", "--out=o", "--", "--kubeconfig=x"], "--kubeconfig after --: the batch sets it itself"),
    ("dupes-ok", ["dupes", "--out=o", "--", "--deploy"], "--deploy after --"),
    ("dupes-ok", ["dupes", "--out=o", "--", "--profile", "nope"], "--profile after --: profile nope cannot be read"),
    ("dupes-ok", ["dupes", "--out=o", "--jobs=0"], "argument --jobs: 0 is not a positive number"),
    ("dupes-ok", ["dupes"], "the following arguments are required: --out"),
    ("dupes-ok", ["dupes", "--out=o", "--suites=nowhere"], "the suite's folder is not there"),
])
def test_bad_batch_input_exits_2_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str], setup: str | None,
                                               argv: list[str], fragment: str) -> None:
    monkeypatch.chdir(tmp_path)
    if setup == "empty":
        (tmp_path / "empty").mkdir()
    elif setup == "badcsv":
        (tmp_path / "class.csv").write_text("alice,a.yaml\nbob,b.yaml,ctx,more\n")
    elif setup in ("dupes", "dupes-ok"):
        (tmp_path / "dupes").mkdir()
        (tmp_path / "dupes" / "alice.yaml").write_text("x")
        if setup == "dupes":
            (tmp_path / "dupes" / "alice.yml").write_text("x")
    try:
        code = cli.main(argv)
    except SystemExit as exited:  # argparse's own errors, in one line too
        code = exited.code
    assert code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("meshcheck-grade: "), captured.err
    assert fragment in lines[0], lines[0]
    assert captured.out == "" and "Traceback" not in captured.err
    assert not (tmp_path / "o" / "scores.csv").exists()


def test_options_the_suite_refuses_are_bad_batch_input(tmp_path: Path) -> None:
    (tmp_path / "students").mkdir()
    (tmp_path / "students" / "alice.yaml").write_text("x")
    done = subprocess.run([sys.executable, "-m", "meshcheck.batch", "students", "--out=o", "--", "--rubric=nope"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        "meshcheck-grade: the suite refused the options after --: meshcheck: rubric nope cannot be read "
        "(FileNotFoundError): pass --rubric with one of lab, lab-grader or a YAML file"]
    assert not (tmp_path / "o" / "alice").exists()


# --- what a run came to, from its exit code and log ------------------------------------------------------


def _job(tmp_path: Path, log: str | None) -> Job:
    if log is not None:
        (tmp_path / "pytest.log").write_text(log)
    return Job(Target("alice", tmp_path / "k"), tmp_path, [])


def test_a_crash_is_named_by_its_signal_or_its_last_words(tmp_path: Path) -> None:
    assert judge(_job(tmp_path, ""), -9, 1.0).reason == "crashed: killed by SIGKILL"
    internal = "INTERNALERROR> Traceback\nINTERNALERROR>   File x\nINTERNALERROR> ValueError: boom\n"
    outcome = judge(_job(tmp_path, internal), 3, 1.0)
    assert (outcome.status, outcome.reason) == ("error", "crashed: ValueError: boom")
    outcome = judge(_job(tmp_path, "Traceback (most recent call last):\nOSError: disk full\n"), CRASHED, 1.0)
    assert outcome.reason == "crashed: OSError: disk full"
    outcome = judge(_job(tmp_path, "==== 3 passed ====\n"), 0, 1.0)
    assert outcome.status == "error" and outcome.reason.startswith("crashed: exit code 0 but no readable report.json")
    assert not outcome.graded


def test_option_values_after_the_double_dash() -> None:
    from meshcheck.batch.runner import common_args, option_value, own_option

    assert option_value(["--wait=2", "--profile", "hardened"], "--profile") == "hardened"
    assert option_value(["--profile=a.yaml", "--profile=b.yaml"], "--profile") == "b.yaml"
    assert option_value(["--profile"], "--profile") is None
    assert own_option(["--wait=2", "--junitxml=x.xml"]) == "--junitxml"
    assert own_option(["--wait=2", "--rubric=lab"]) is None
    assert "--rubric=lab-grader" in common_args(Path("suites"), ["--wait=2"])
    assert "--rubric=lab-grader" not in common_args(Path("suites"), ["--rubric", "lab"])


def test_error_line_reads_the_suites_line_and_pytests_usage() -> None:
    assert error_line("x\nERROR: meshcheck: context 'nope' is not in kubeconfig k\n") == (
        "meshcheck: context 'nope' is not in kubeconfig k")
    usage = ("ERROR: usage: python -m pytest [options]\npython -m pytest: error: unrecognized arguments: --bogus\n"
             "  inifile: pyproject.toml\n")
    assert error_line(usage) == "pytest: unrecognized arguments: --bogus"


def _processes_naming(fragment: str) -> list[str]:
    """Processes whose command line holds ``fragment`` (a batch's forked runs carry the batch's own)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if fragment in text:
            found.append(text)
    return found


@contextlib.contextmanager
def _batch_under_way(tmp_path: Path, out: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A batch of one cluster too slow to finish (30 s per request), its run under way: the batch and its first
    line. The simulated cluster lives as long as the block does."""
    folder = tmp_path / "students"
    folder.mkdir()
    with SimCluster("healthy", latency=30, workdir=tmp_path / "sim") as slow:
        assert slow.kubeconfig is not None
        (folder / "slow.yaml").write_text(slow.kubeconfig.read_text())
        batch = subprocess.Popen([sys.executable, "-m", "meshcheck.batch", str(folder), f"--out={out}"],
                                 cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert batch.stdout is not None
        started = batch.stdout.readline()
        deadline = time.monotonic() + 30
        while not slow.api_requests() and time.monotonic() < deadline:  # the run is under way
            time.sleep(0.05)
        yield batch, started


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads running processes from /proc")
def test_sigterm_ends_the_runs_with_the_batch_and_writes_what_finished(tmp_path: Path) -> None:
    """A cancelled CI job: the batch's runs live in process groups of their own, so the batch kills them."""
    out = tmp_path / "out-sigterm"
    with _batch_under_way(tmp_path, out) as (batch, started):
        assert "1 clusters from" in started, started
        batch.terminate()
        stdout, stderr = batch.communicate(timeout=30)
    assert batch.returncode == 130, stdout + stderr
    with (out / "scores.csv").open(newline="") as file:
        (row,) = list(csv.DictReader(file))
    assert (row["name"], row["status"], row["reason"]) == ("slow", "error", "interrupted before it was graded")
    assert _processes_naming(str(out)) == []
    assert "Traceback" not in stdout + stderr


def test_a_timed_out_run_leaves_no_process_behind(batches: dict[str, Batch]) -> None:
    if not Path("/proc/self/cmdline").exists():
        pytest.skip("reads running processes from /proc")
    assert batches["folder"].rows["slow"]["status"] == "timeout"
    assert _processes_naming(str(batches["folder"].out)) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_killed_batch_takes_its_runs_with_it(tmp_path: Path) -> None:
    """SIGKILL leaves the batch no chance to end its runs: each run asked the kernel for SIGTERM when it dies."""
    out = tmp_path / "out-sigkill"
    with _batch_under_way(tmp_path, out) as (batch, _):
        assert _processes_naming(str(out))
        batch.kill()
        batch.communicate(timeout=30)
        deadline = time.monotonic() + 15
        while _processes_naming(str(out)) and time.monotonic() < deadline:
            time.sleep(0.1)
    assert _processes_naming(str(out)) == []
