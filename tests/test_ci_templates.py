"""ci/: the templates users copy, checked offline so that they cannot rot.

Every YAML parses; the Kubernetes objects validate against the schemas of the Kubernetes the project pins
(kubernetes-validate, strict); every pytest command line in them names only options the suite has (asked
of ``pytest --help``, so a renamed option fails here) and publishes the three reports; the Containerfile
copies only what exists. ``ci/mint-kubeconfig.sh`` runs at its boundary with a fake ``kubectl`` on PATH
(and, where one is installed, with the real kubectl's ``config`` commands), and its kubeconfig reaches the
simulated cluster as the grader.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from meshcheck.deploy import pins
from meshcheck.plugin import PATH_OPTIONS
from tests import fakes
from tests.fakes import kubectl as fake_kubectl
from tests.harness import ROOT

CI = ROOT / "ci"
KUBERNETES = pins.load_lock(ROOT / "manifests" / "lock.yaml").tools["kind"]["node_image"].split(":v")[1].split("@")[0]
YAMLS = sorted([*CI.glob("*.yaml"), *CI.glob("*.yml")])
KUBERNETES_TEMPLATES = ("job.yaml", "grade-indexed-job.yaml")
# Options the templates pass that the suite does not have yet, each with who adds it. An option that appears
# in the suite's --help must leave this list (test_pending_options_are_still_pending).
REPORTS = ("--html", "--self-contained-html", "--junitxml", "--report-json")
MINT = CI / "mint-kubeconfig.sh"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.fake-grader-token-" + "x" * 40  # shaped like a ServiceAccount token


# --- the pytest command lines of the templates ---------------------------------------------------------


def _commands(text: str) -> list[list[str]]:
    """The pytest command lines in a shell script block: each ``pytest ...`` as its arguments."""
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if "pytest" in words:
            found.append(words[words.index("pytest") + 1:])
    return found


def _containerfile_entrypoint() -> list[str]:
    text = (CI / "Containerfile").read_text().replace("\\\n", " ")
    (line,) = [line for line in text.splitlines() if line.startswith("ENTRYPOINT ")]
    return json.loads(line.removeprefix("ENTRYPOINT "))


def pytest_command_lines() -> dict[str, list[list[str]]]:
    """template -> the pytest command lines it runs (arguments after ``pytest``)."""
    lines: dict[str, list[list[str]]] = {}
    actions = yaml.safe_load((CI / "github-actions.yml").read_text())
    lines["github-actions.yml"] = [c for job in actions["jobs"].values() for step in job["steps"]
                                   for c in _commands(step.get("run", ""))]
    gitlab = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    lines["gitlab-ci.yml"] = [c for job in gitlab.values() if isinstance(job, dict)
                              for c in _commands("\n".join(job.get("script", [])))]
    entrypoint = _containerfile_entrypoint()
    assert entrypoint[0] == "pytest"
    lines["Containerfile"] = [entrypoint[1:]]
    for name in KUBERNETES_TEMPLATES:
        for doc in yaml.safe_load_all((CI / name).read_text()):
            for container in doc["spec"].get("template", {}).get("spec", {}).get("containers", []):
                command = container.get("command") or entrypoint  # no command: the image's entrypoint
                assert command[0] == "pytest", name
                lines.setdefault(name, []).append([*command[1:], *container.get("args", [])])
    return lines


COMMAND_LINES = pytest_command_lines()


@pytest.fixture(scope="module")
def suite_help() -> str:
    done = subprocess.run([sys.executable, "-m", "pytest", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_every_template_runs_pytest() -> None:
    expected = {"github-actions.yml", "gitlab-ci.yml", "Containerfile", *KUBERNETES_TEMPLATES}
    assert {name for name, lines in COMMAND_LINES.items() if lines} == expected
    assert len(COMMAND_LINES["gitlab-ci.yml"]) == 2  # attach and kind


def test_pytest_options_parse_against_the_suites_own(tmp_path: Path) -> None:
    """Every template's options, given to the suite's own pytest with --collect-only (which parses them as a run
    would, choices and types included, and connects to nothing): an option renamed or removed fails here. The
    report files are sent to a scratch folder."""
    options: list[str] = []
    for template, lines in sorted(COMMAND_LINES.items()):
        for index, line in enumerate(lines):
            for word in line:
                name, has_value, value = word.partition("=")
                if not word.startswith("--"):
                    continue
                if name in REPORTS and has_value:  # the report paths: written even by --collect-only
                    value = str(tmp_path / f"{template}-{index}-{Path(value).name}")
                options.append(f"{name}={value}" if has_value else name)
    done = subprocess.run([sys.executable, "-m", "pytest", "suites", "--collect-only", "-q", *options], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{done.stdout[-1500:]}{done.stderr[-1500:]}"
    assert re.search(r"^\d+ tests collected", done.stdout, re.MULTILINE), done.stdout[-500:]


@pytest.mark.parametrize("template", sorted(COMMAND_LINES))
def test_path_options_are_written_with_equals(template: str) -> None:
    """meshcheck.plugin refuses '--kubeconfig PATH' (pytest would take PATH for a test path)."""
    for line in COMMAND_LINES[template]:
        assert not [w for w in line if w in PATH_OPTIONS], line


@pytest.mark.parametrize("template", sorted(COMMAND_LINES))
def test_every_template_publishes_the_three_reports(template: str) -> None:
    for line in COMMAND_LINES[template]:
        given = {word.split("=", 1)[0]: word.partition("=")[2] for word in line if word.startswith("--")}
        assert set(REPORTS) <= set(given), f"{template}: {sorted(set(REPORTS) - set(given))} missing"
        assert given["--html"].endswith("report.html") and given["--junitxml"].endswith("junit.xml")
        assert given["--report-json"].endswith("report.json")


# --- YAML and Kubernetes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", YAMLS, ids=[p.name for p in YAMLS])
def test_yaml_parses(path: Path) -> None:
    assert all(isinstance(doc, dict) for doc in yaml.safe_load_all(path.read_text()))


def _kubernetes_docs() -> list[tuple[str, dict[str, Any]]]:
    return [(name, doc) for name in KUBERNETES_TEMPLATES for doc in yaml.safe_load_all((CI / name).read_text())]


@pytest.mark.parametrize(("name", "doc"), _kubernetes_docs(), ids=[f"{n}:{d['kind']}" for n, d in _kubernetes_docs()])
def test_kubernetes_templates_validate(name: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    assert doc["metadata"]["namespace"] == "meshcheck"  # the grader's namespace, from manifests/grader


def _job(name: str) -> dict[str, Any]:
    return next(d for d in yaml.safe_load_all((CI / name).read_text()) if d["kind"] == "Job")


def _claims(name: str) -> set[str]:
    return {d["metadata"]["name"] for d in yaml.safe_load_all((CI / name).read_text())
            if d["kind"] == "PersistentVolumeClaim"}


def test_in_cluster_job_runs_as_the_grader_and_keeps_its_reports() -> None:
    grader = next(d for d in yaml.safe_load_all((ROOT / "manifests" / "grader" / "grader.yaml").read_text())
                  if d["kind"] == "ServiceAccount")
    job = _job("job.yaml")
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == grader["metadata"]["name"]
    assert job["metadata"]["namespace"] == grader["metadata"]["namespace"]
    assert pod["automountServiceAccountToken"] is True  # the grader's ServiceAccount mounts none by default
    (container,) = pod["containers"]
    assert not [a for a in container.get("args", []) if a.startswith("--kubeconfig")]  # the in-cluster account
    reports = next(m for m in container["volumeMounts"] if m["mountPath"] == "/work/reports")
    volume = next(v for v in pod["volumes"] if v["name"] == reports["name"])
    assert volume["persistentVolumeClaim"]["claimName"] in _claims("job.yaml")


def test_indexed_job_grades_one_cluster_per_index() -> None:
    job = _job("grade-indexed-job.yaml")
    spec, pod = job["spec"], job["spec"]["template"]["spec"]
    assert spec["completionMode"] == "Indexed"
    assert 1 <= spec["parallelism"] <= spec["completions"] and spec["backoffLimitPerIndex"] >= 0
    assert spec.get("maxFailedIndexes", spec["completions"]) == spec["completions"]
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    command = container["command"]
    assert "--kubeconfig=/kubeconfigs/kubeconfig-$(JOB_COMPLETION_INDEX)" in command
    for option in ("--html", "--junitxml", "--report-json"):
        value = next(w for w in command if w.startswith(option + "=")).split("=", 1)[1]
        assert value.startswith("/reports/$(JOB_COMPLETION_INDEX)/"), value
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/kubeconfigs"]]["secret"]["secretName"] == "meshcheck-class-kubeconfigs"
    assert volumes[mounts["/reports"]]["persistentVolumeClaim"]["claimName"] in _claims("grade-indexed-job.yaml")


# --- the CI services' own rules -----------------------------------------------------------------------


def test_github_workflow_publishes_reports_always_and_caches_the_pins() -> None:
    workflow = yaml.safe_load((CI / "github-actions.yml").read_text())
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"].replace(" ", "") in ("${{always()}}", "always()")
    assert upload["with"]["path"].rstrip("/") == "reports"
    cache = next(s for s in steps if s.get("uses", "").startswith("actions/cache@"))
    assert "hashFiles('manifests/lock.yaml')" in cache["with"]["key"]
    assert any("--cluster=kind" in line for line in map(" ".join, COMMAND_LINES["github-actions.yml"]))
    assert workflow["permissions"] == {"contents": "read"}


def test_gitlab_jobs_publish_junit_always() -> None:
    gitlab = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    artifacts = gitlab[".meshcheck"]["artifacts"]
    assert artifacts["when"] == "always" and artifacts["reports"]["junit"] == "reports/junit.xml"
    for name in ("meshcheck:attach", "meshcheck:kind"):
        assert gitlab[name]["extends"] == ".meshcheck"


# --- the Containerfile ----------------------------------------------------------------------------------


def test_containerfile_copies_what_exists_and_installs_from_it() -> None:
    lines = (CI / "Containerfile").read_text().replace("\\\n", " ").splitlines()
    instructions = [line.split(None, 1) for line in lines if line.strip() and not line.startswith("#")]
    (base,) = [rest for op, rest in instructions if op == "FROM"]
    assert re.fullmatch(r"(docker\.io/library/)?python:3\.\d+-slim", base), base
    copies = [shlex.split(rest)[:-1] for op, rest in instructions if op == "COPY"]
    assert copies
    for sources in copies:
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
    copied = {s.rstrip("/") for sources in copies for s in sources}
    assert {"pyproject.toml", "conftest.py", "meshcheck", "fixtures", "suites", "manifests"} <= copied
    runs = " ".join(rest for op, rest in instructions if op == "RUN")
    assert "pip install --editable /opt/meshcheck" in runs and "kubectl" not in runs
    assert ["USER", "10001"] in [[op, rest.strip()] for op, rest in instructions]
    entrypoint = _containerfile_entrypoint()
    assert entrypoint[:2] == ["pytest", "/opt/meshcheck/suites"]


# --- ci/mint-kubeconfig.sh ------------------------------------------------------------------------------


def test_mint_script_is_strict_bash() -> None:
    text = MINT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text and "set -x" not in text
    assert MINT.stat().st_mode & stat.S_IXUSR
    assert subprocess.run(["bash", "-n", str(MINT)], capture_output=True).returncode == 0


@pytest.fixture
def admin(tmp_path: Path) -> Path:
    """An admin's kubeconfig, as kind writes one: a client certificate, and the cluster's CA embedded."""
    path = tmp_path / "admin.kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "kind-lab",
        "clusters": [{"name": "kind-lab", "cluster": {"server": "https://127.0.0.1:6443",
                                                      "certificate-authority-data": _b64(CA)}}],
        "users": [{"name": "kind-lab", "user": {"client-certificate-data": _b64("admin-cert"),
                                                "client-key-data": _b64("admin-key")}}],
        "contexts": [{"name": "kind-lab", "context": {"cluster": "kind-lab", "user": "kind-lab"}}]}))
    return path


CA = "-----BEGIN CERTIFICATE-----\nMIIBfakeCA\n-----END CERTIFICATE-----\n"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def mint(tmp_path: Path, admin: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FAKE_")}
    environment.update(fake_kubectl.install(tmp_path / "bin"), KUBECONFIG=str(admin), FAKE_KUBECTL_TOKEN=TOKEN,
                       **env)
    return subprocess.run(["bash", str(MINT), *args], cwd=tmp_path, env=environment, capture_output=True,
                          text=True, timeout=60)


def test_mint_writes_a_kubeconfig_for_the_grader_and_never_prints_the_token(tmp_path: Path, admin: Path) -> None:
    done = mint(tmp_path, admin, "--duration=45m")
    assert done.returncode == 0, done.stderr
    assert TOKEN not in done.stdout + done.stderr
    written = tmp_path / "meshcheck-grader.kubeconfig"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    config = yaml.safe_load(written.read_text())
    assert config["current-context"] == "meshcheck-grader"
    assert config["clusters"] == [{"name": "kind-lab", "cluster": {"server": "https://127.0.0.1:6443",
                                                                   "certificate-authority-data": _b64(CA)}}]
    assert config["users"] == [{"name": "meshcheck-grader", "user": {"token": TOKEN}}]  # nothing of the admin's
    assert config["contexts"] == [{"name": "meshcheck-grader", "context": {
        "cluster": "kind-lab", "user": "meshcheck-grader", "namespace": "meshcheck"}}]
    asked = [args for tool, args in fakes.calls(tmp_path / "bin") if args[:2] == ["create", "token"]]
    assert asked == [["create", "token", "meshcheck-grader", "--namespace=meshcheck", "--duration=45m"]]
    assert "valid for up to 45m" in done.stdout
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("tmp")]  # nothing left behind


def test_mint_refuses_to_overwrite_and_fails_without_a_token(tmp_path: Path, admin: Path) -> None:
    (tmp_path / "meshcheck-grader.kubeconfig").write_text("mine")
    done = mint(tmp_path, admin)
    assert done.returncode == 2 and "exists" in done.stderr
    assert (tmp_path / "meshcheck-grader.kubeconfig").read_text() == "mine"
    done = mint(tmp_path, admin, "--output=other.kubeconfig", FAKE_KUBECTL_NO_ACCOUNT="1")
    assert done.returncode == 2 and "kubectl create token meshcheck-grader" in done.stderr
    assert not (tmp_path / "other.kubeconfig").exists()


def test_mint_takes_the_ca_from_kube_root_ca_when_the_admin_has_none(tmp_path: Path, admin: Path) -> None:
    config = yaml.safe_load(admin.read_text())
    del config["clusters"][0]["cluster"]["certificate-authority-data"]
    admin.write_text(yaml.safe_dump(config))
    done = mint(tmp_path, admin, "--output=g.kubeconfig", "--server=https://lab.example:6443",
                FAKE_KUBECTL_ROOT_CA=CA)
    assert done.returncode == 0, done.stderr
    cluster = yaml.safe_load((tmp_path / "g.kubeconfig").read_text())["clusters"][0]["cluster"]
    assert cluster == {"server": "https://lab.example:6443", "certificate-authority-data": _b64(CA)}
    done = mint(tmp_path, admin, "--output=h.kubeconfig")
    assert done.returncode == 2 and "no certificate authority" in done.stderr


def test_a_minted_kubeconfig_reaches_the_cluster_as_the_grader(tmp_path: Path) -> None:
    """With the real kubectl's config commands where it is installed: the minted kubeconfig loads in the suite's
    client and lists what the grader may, as the grader, from the simulated cluster."""
    from meshcheck import kube
    from meshcheck.errors import ForbiddenError
    from meshcheck.sim.server import SimCluster

    real = {"FAKE_KUBECTL_REAL": kubectl} if (kubectl := _real_kubectl()) else {}
    with SimCluster("healthy-grader") as sim:
        admin = sim.write_kubeconfig(tmp_path / "admin.kubeconfig")
        environment = {k: v for k, v in os.environ.items() if not k.startswith("FAKE_")}
        environment.update(fake_kubectl.install(tmp_path / "bin"), KUBECONFIG=str(admin),
                           FAKE_KUBECTL_TOKEN=sim.token, **real)
        done = subprocess.run(["bash", str(MINT), "--output=grader.kubeconfig"], cwd=tmp_path, env=environment,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert sim.token not in done.stdout + done.stderr
        cluster = kube.Cluster.connect(str(tmp_path / "grader.kubeconfig"))
        assert cluster.list(kube.PODS)
        with pytest.raises(ForbiddenError, match="meshcheck-grader"):
            cluster.get("/api/v1/secrets")
        assert {s.status for s in sim.api_requests()} == {200, 403}


def _real_kubectl() -> str | None:
    """A kubectl on PATH that is not one of our fakes."""
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(directory) / "kubectl"
        if candidate.is_file() and os.access(candidate, os.X_OK) and "fake" not in candidate.read_bytes()[:300].decode(
                "latin-1"):
            return str(candidate)
    return None
