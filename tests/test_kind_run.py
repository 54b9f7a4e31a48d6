"""``pytest --cluster=kind`` end to end at its boundary: fake kind, docker and istioctl on PATH, and a simulated
cluster standing in for the one kind would create. Proves the commands run, the suite checks the cluster
they made, and the cluster is deleted afterwards: after success, after a failed deploy, after SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import fakes
from tests.harness import ROOT, SUITE_TESTS
from tests.unit.simhttp import start_sim

SKIPPED = 7  # four policy checks the default profile does not require, three of our own load (--load)


@pytest.fixture
def env(tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    sim = start_sim("healthy", tmp_path / "sim", request)
    environment = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    environment.update(fakes.install(tmp_path / "bin"))
    environment.update(FAKE_KIND_KUBECONFIG=str(sim.kubeconfig), MESHCHECK_CACHE=str(tmp_path / "cache"))
    return environment


def command(tmp_path: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider", "--cluster=kind",
            "--cluster-name=ci", "--deploy-layers=istio", f"--junitxml={tmp_path / 'junit.xml'}", *args]


def run(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(tmp_path, *args), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def verbs(tmp_path: Path) -> list[str]:
    return [f"{tool} {' '.join(a for a in args[:2] if not a.startswith('-'))}"
            for tool, args in fakes.calls(tmp_path / "bin")]


def test_create_deploy_check_delete(tmp_path: Path, env: dict[str, str]) -> None:
    done = run(tmp_path, env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert f"{SUITE_TESTS - SKIPPED} passed, {SKIPPED} skipped" in done.stdout
    assert verbs(tmp_path)[-1] == "kind delete cluster", verbs(tmp_path)
    assert "kind create cluster" in verbs(tmp_path) and "istioctl install" in verbs(tmp_path)
    kubeconfig = ROOT / ".pytest-kind" / "ci" / "kubeconfig"
    install = next(args for tool, args in fakes.calls(tmp_path / "bin") if tool == "istioctl" and "install" in args)
    assert install == ["install", "-f", str(ROOT / "manifests" / "istio" / "demo.yaml"), "--skip-confirmation",
                       "--kubeconfig", str(kubeconfig)]
    for line in ("kind: creating cluster ci (kindest/node:v1.34.0, 1 worker)", "deploy istio:",
                 "istio: rolled out in istio-system", "kind: deleting cluster ci"):
        assert line in done.stdout, done.stdout[-3000:]


def test_a_failed_deploy_still_deletes_the_cluster(tmp_path: Path, env: dict[str, str]) -> None:
    done = run(tmp_path, {**env, "FAKE_FAIL": "istioctl:install"})
    assert done.returncode == 4, done.stdout[-3000:]
    assert "ERROR: meshcheck: layer istio: istioctl install failed (ERROR: istioctl:install failed" in done.stderr
    assert verbs(tmp_path)[-1] == "kind delete cluster"


def test_keep_cluster_keeps_it(tmp_path: Path, env: dict[str, str]) -> None:
    done = run(tmp_path, env, "--keep-cluster")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "kind delete cluster" not in verbs(tmp_path)
    assert "kind: keeping cluster ci (delete it with: kind delete cluster --name ci)" in done.stdout


def test_an_existing_cluster_is_reused_and_kept(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "bin" / "clusters").write_text("ci\n")
    done = run(tmp_path, env)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "kind create cluster" not in verbs(tmp_path) and "kind delete cluster" not in verbs(tmp_path)
    assert "kind export kubeconfig" in verbs(tmp_path)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_run_deletes_the_cluster(tmp_path: Path, env: dict[str, str], sig: signal.Signals) -> None:
    """A cancelled CI job (SIGTERM) or a Ctrl-C while istioctl runs: the cluster is deleted all the same."""
    process = subprocess.Popen(command(tmp_path), cwd=ROOT, env={**env, "FAKE_SLEEP": "60"},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while "istioctl install" not in verbs(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "istioctl install" in verbs(tmp_path), "istioctl never started"
    process.send_signal(sig)
    output, _ = process.communicate(timeout=60)
    assert process.returncode != 0
    assert verbs(tmp_path)[-1] == "kind delete cluster", output[-2000:]
    assert "kind: deleting cluster ci" in output
