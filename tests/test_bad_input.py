"""Bad input ends the run with one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.harness import Run, run_suite

BAD_INPUT = 4


def kubeconfig(tmp_path: Path, server: str = "http://127.0.0.1:1") -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "lab",
        "clusters": [{"name": "lab", "cluster": {"server": server}}],
        "users": [{"name": "student", "user": {"token": "secret-token-do-not-print"}}],
        "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "student"}}],
    }))
    return path


def assert_one_clear_line(run: Run, *fragments: str) -> None:
    assert run.code == BAD_INPUT, run.output
    assert "Traceback" not in run.output
    assert "secret-token-do-not-print" not in run.output
    lines = [line for line in run.output.splitlines() if "meshcheck:" in line]
    assert len(lines) == 1, run.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_missing_kubeconfig(tmp_path: Path) -> None:
    run = run_suite("--kubeconfig", str(tmp_path / "nowhere"), scenario=None)
    assert_one_clear_line(run, "nowhere does not exist", "--cluster=sim")


def test_broken_kubeconfig(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text("clusters: [unclosed\n")
    assert_one_clear_line(run_suite(f"--kubeconfig={path}", scenario=None), "cannot be read")


def test_unknown_context(tmp_path: Path) -> None:
    run = run_suite(f"--kubeconfig={kubeconfig(tmp_path)}", "--context", "prod", scenario=None)
    assert_one_clear_line(run, "context 'prod' is not in it", "kubectl config get-contexts")


def test_unreachable_api_server(tmp_path: Path) -> None:
    run = run_suite(f"--kubeconfig={kubeconfig(tmp_path)}", scenario=None)
    assert_one_clear_line(run, "http://127.0.0.1:1 did not answer GET /version", "connection refused")


def test_unknown_scenario() -> None:
    assert_one_clear_line(run_suite(scenario="no-such-scenario"), "unknown simulated scenario 'no-such-scenario'",
                          "healthy")


@pytest.mark.parametrize("profile", ["no-such-profile", "profile.yaml"])
def test_bad_profile(tmp_path: Path, profile: str) -> None:
    (tmp_path / "profile.yaml").write_text("name: x\n")
    path = str(tmp_path / profile) if profile.endswith(".yaml") else profile
    assert_one_clear_line(run_suite(f"--profile={path}"), "profile")


def test_kind_is_not_claimed() -> None:
    assert_one_clear_line(run_suite("--cluster=kind", scenario=None), "--cluster=kind", "not available yet")
