"""Every command form the README shows does what it says, from inside the repository and from outside it.

pytest picks its root directory before it knows the suite's options, so ``--kubeconfig PATH`` (space
form) once ran the project's own tests too (582 items instead of 37). The forms that work run
exactly the suite; the ambiguous one is refused with the fix.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import ROOT, SUITE_TESTS
from tests.unit.simhttp import start_sim


@dataclass
class Done:
    code: int
    output: str
    tests: int


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    sim = start_sim("healthy", tmp_path_factory.mktemp("sim"), request)
    assert sim.kubeconfig is not None
    return sim.kubeconfig


def pytest_in(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Done:
    junit = cwd / "junit.xml"
    junit.unlink(missing_ok=True)
    environment = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"} | (env or {})
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", f"--junitxml={junit}", *args], cwd=cwd,
                          env=environment, capture_output=True, text=True, timeout=300)
    tests = len(list(ET.parse(junit).getroot().iter("testcase"))) if junit.exists() else 0
    return Done(done.returncode, done.stdout + done.stderr, tests)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A working directory outside the repository, holding a test file that must not be collected."""
    (tmp_path / "test_elsewhere.py").write_text("def test_not_the_suite():\n    pass\n")
    return tmp_path


def test_equals_form_inside_the_repository_runs_the_suite(kubeconfig: Path) -> None:
    done = pytest_in(ROOT, f"--kubeconfig={kubeconfig}")
    assert (done.code, done.tests) == (0, SUITE_TESTS), done.output[-2000:]


def test_kubeconfig_variable_inside_the_repository_runs_the_suite(kubeconfig: Path) -> None:
    done = pytest_in(ROOT, env={"KUBECONFIG": str(kubeconfig)})
    assert (done.code, done.tests) == (0, SUITE_TESTS), done.output[-2000:]


def test_equals_form_from_outside_runs_the_named_suite(kubeconfig: Path, outside: Path) -> None:
    done = pytest_in(outside, str(ROOT / "suites"), f"--kubeconfig={kubeconfig}")
    assert (done.code, done.tests) == (0, SUITE_TESTS), done.output[-2000:]


def test_kubeconfig_variable_from_outside_runs_the_named_suite(kubeconfig: Path, outside: Path) -> None:
    done = pytest_in(outside, str(ROOT / "suites"), env={"KUBECONFIG": str(kubeconfig)})
    assert (done.code, done.tests) == (0, SUITE_TESTS), done.output[-2000:]


@pytest.mark.parametrize("where", ["inside", "outside"])
def test_space_form_is_refused_with_the_fix(kubeconfig: Path, outside: Path, where: str) -> None:
    args = ("--kubeconfig", str(kubeconfig)) if where == "inside" else (str(ROOT / "suites"), "--kubeconfig",
                                                                          str(kubeconfig))
    done = pytest_in(ROOT if where == "inside" else outside, *args)
    assert done.code == 4, done.output[-2000:]
    assert done.tests == 0
    lines = [line for line in done.output.splitlines() if "meshcheck:" in line]
    assert len(lines) == 1, done.output
    assert f"write --kubeconfig={kubeconfig} (with '=')" in lines[0]
    assert "Traceback" not in done.output


def test_space_form_of_a_profile_file_is_refused() -> None:
    profile = ROOT / "meshcheck" / "profiles" / "online-boutique.yaml"
    done = pytest_in(ROOT, "--cluster=sim", "--profile", str(profile))
    assert done.code == 4 and f"write --profile={profile}" in done.output, done.output[-2000:]


def test_fixtures_come_from_fixtures_once_and_options_from_the_plugin(outside: Path) -> None:
    """A clone run with plain pytest and the installed plugin behave the same: the options are the
    entry point's, the fixtures fixtures/'s (through the repository's conftest.py), each registered once."""
    for cwd, args in ((ROOT, ()), (outside, (str(ROOT / "suites"),))):
        done = subprocess.run([sys.executable, "-m", "pytest", "--fixtures", "-q", *args], cwd=cwd,
                              capture_output=True, text=True, timeout=120)
        lines = done.stdout.splitlines()
        for name in ("suite", "cluster", "profile", "boutique_namespace", "deployed", "kiali", "storefront",
                     "require", "wait"):
            found = [line for line in lines if line.split(" ")[0] == name]
            assert len(found) == 1 and "fixtures/" in found[0], (name, found)
        helped = subprocess.run([sys.executable, "-m", "pytest", "--help"], cwd=cwd, capture_output=True,
                                text=True, timeout=120).stdout
        declared = [line.split()[0] for line in helped.splitlines() if line.startswith("  --")]
        for option in ("--cluster=", "--deploy-layers=", "--kubeconfig=", "--keep-cluster", "--kind-workers="):
            assert len([d for d in declared if d.startswith(option)]) == 1, option
