"""Bad input ends the run with one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.harness import Run, run_suite

BAD_INPUT = 4


def kubeconfig(tmp_path: Path, server: str = "http://127.0.0.1:1", *, user: dict | None = None,
               current: str = "lab", contexts: tuple[str, ...] = ("lab",)) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "clusters": [{"name": "lab", "cluster": {"server": server}}],
        "users": [{"name": "student", "user": user or {"token": "secret-token-do-not-print"}}],
        "contexts": [{"name": name, "context": {"cluster": "lab", "user": "student"}} for name in contexts],
    }))
    return path


def assert_one_clear_line(run: Run, *fragments: str) -> None:
    assert run.code == BAD_INPUT, run.output
    assert "Traceback" not in run.output
    assert "_pytest.outcomes" not in run.output and "!!!" not in run.output, run.output
    assert "secret-token-do-not-print" not in run.output
    lines = [line for line in run.output.splitlines() if "meshcheck:" in line]
    assert len(lines) == 1, run.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert not run.tests or all(t.outcome != "passed" for t in run.tests.values()), "no check ran"


def test_missing_kubeconfig(tmp_path: Path) -> None:
    run = run_suite("--kubeconfig", str(tmp_path / "nowhere"), scenario=None)
    assert_one_clear_line(run, "nowhere does not exist", "--cluster=sim")


def test_broken_kubeconfig(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text("clusters: [unclosed\n")
    assert_one_clear_line(run_suite(f"--kubeconfig={path}", scenario=None), "cannot be read")


def test_unknown_context(tmp_path: Path) -> None:
    run = run_suite(f"--kubeconfig={kubeconfig(tmp_path)}", "--context", "prod", scenario=None)
    assert_one_clear_line(run, "context 'prod' is not in kubeconfig", "its contexts are lab",
                          "kubectl config get-contexts")


def test_no_current_context_among_several(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, current="", contexts=("lab", "prod", "staging"))
    run = run_suite(f"--kubeconfig={path}", scenario=None)
    assert_one_clear_line(run, "names no current context", "--context (lab, prod, staging)")


def test_the_only_context_is_used_when_none_is_current(tmp_path: Path) -> None:
    run = run_suite(f"--kubeconfig={kubeconfig(tmp_path, current='')}", scenario=None)
    assert_one_clear_line(run, "http://127.0.0.1:1 did not answer GET /version")


def test_exec_credential_plugin_not_installed(tmp_path: Path) -> None:
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "meshcheck-test-auth-plugin",
                     "installHint": "Install meshcheck-test-auth-plugin by following\n  the cloud's docs"}}
    run = run_suite(f"--kubeconfig={kubeconfig(tmp_path, user=user)}", scenario=None)
    assert_one_clear_line(run, "exec plugin 'meshcheck-test-auth-plugin', which is not installed",
                          "install hint: Install meshcheck-test-auth-plugin by following the cloud's docs",
                          "token or a client certificate")
    assert "401" not in run.output


def test_exec_credential_plugin_that_fails(tmp_path: Path) -> None:
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "sh",
                     "args": ["-c", "echo 'error: token expired, log in again' >&2; exit 1"]}}
    run = run_suite(f"--kubeconfig={kubeconfig(tmp_path, user=user)}", scenario=None)
    assert_one_clear_line(run, "exec plugin 'sh' of user 'student' failed", "token expired")


def test_unreachable_api_server(tmp_path: Path) -> None:
    run = run_suite(f"--kubeconfig={kubeconfig(tmp_path)}", scenario=None)
    assert_one_clear_line(run, "http://127.0.0.1:1 did not answer GET /version", "connection refused")


def test_server_certificate_from_another_authority(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The cluster was recreated, or the kubeconfig is another cluster's: said at once, not retried."""
    import base64

    import trustme

    from tests.unit.simhttp import start_sim

    sim = start_sim("healthy", tmp_path / "sim", request)
    assert sim.kubeconfig is not None
    config = yaml.safe_load(sim.kubeconfig.read_text())
    other = base64.b64encode(trustme.CA().cert_pem.bytes()).decode()
    config["clusters"][0]["cluster"]["certificate-authority-data"] = other
    path = tmp_path / "stale-kubeconfig"
    path.write_text(yaml.safe_dump(config))
    before = len(sim.log)
    run = run_suite(f"--kubeconfig={path}", scenario=None)
    assert_one_clear_line(run, f"the API server at {sim.url} presented a certificate that the kubeconfig's "
                          "certificate authority did not sign", "the cluster was recreated",
                          "get a fresh kubeconfig")
    assert "did not answer" not in run.output
    assert len(sim.log) == before, "a TLS failure is not an answer: nothing reached the server's handlers"


def test_unknown_scenario() -> None:
    assert_one_clear_line(run_suite(scenario="no-such-scenario"), "unknown simulated scenario 'no-such-scenario'",
                          "healthy")


@pytest.mark.parametrize("profile", ["no-such-profile", "profile.yaml"])
def test_bad_profile(tmp_path: Path, profile: str) -> None:
    (tmp_path / "profile.yaml").write_text("name: x\n")
    path = str(tmp_path / profile) if profile.endswith(".yaml") else profile
    assert_one_clear_line(run_suite(f"--profile={path}"), "profile")


def test_unknown_deploy_layer() -> None:
    assert_one_clear_line(run_suite("--deploy-layers=istio,mesh"), "--deploy-layers names unknown layers mesh",
                          "metallb, istio, boutique, addons, dashboard")


def test_a_load_budget_no_run_can_use() -> None:
    assert_one_clear_line(run_suite("--load-max-error-rate=150", "-m", "load"), "--load-max-error-rate must be a "
                          "percentage from 0 to 100")
