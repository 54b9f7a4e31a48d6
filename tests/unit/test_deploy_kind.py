"""meshcheck.deploy.kind at its boundary: fake kind and docker executables on PATH record what would run."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from meshcheck.deploy import pins
from meshcheck.deploy.kind import Kind, KindOptions
from meshcheck.errors import DeployError
from tests import fakes
from tests.harness import ROOT
from tests.unit.simhttp import start_sim

LOCK = pins.load_lock(ROOT / "manifests" / "lock.yaml")
NODE_IMAGE = LOCK.tools["kind"]["node_image"]


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    """Fake kind and docker first on PATH; 'kind create cluster' writes a simulated cluster's kubeconfig."""
    sim = start_sim("healthy", tmp_path / "sim", request)
    directory = tmp_path / "bin"
    for key, value in fakes.install(directory, ("kind", "docker")).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("FAKE_KIND_KUBECONFIG", str(sim.kubeconfig))
    return directory


def kind(tmp_path: Path, **options: object) -> tuple[Kind, list[str]]:
    said: list[str] = []
    return Kind(LOCK, KindOptions(workdir=tmp_path / "work", **options), progress=said.append), said


def test_create_runs_the_pinned_kind_with_the_pinned_node_image(tools: Path, tmp_path: Path) -> None:
    cluster, said = kind(tmp_path, name="ci", workers=2)
    kubeconfig = cluster.create()
    calls = [args for tool, args in fakes.calls(tools) if tool == "kind"]
    assert calls[0] == ["version"], "kind on PATH is used when it is the pinned version"
    create = next(args for args in calls if args[:2] == ["create", "cluster"])
    config = tmp_path / "work" / "ci" / "kind-config.yaml"
    assert create == ["create", "cluster", "--name=ci", f"--kubeconfig={kubeconfig}", f"--image={NODE_IMAGE}",
                      "--config", str(config)]
    nodes = yaml.safe_load(config.read_text())["nodes"]
    assert [n["role"] for n in nodes] == ["control-plane", "worker", "worker"]
    assert {n["image"] for n in nodes} == {NODE_IMAGE}
    assert "kind: creating cluster ci (kindest/node:v1.34.0, 2 workers)" in said
    assert yaml.safe_load(kubeconfig.read_text())["current-context"] == "meshcheck-sim"


def test_delete_removes_the_cluster_this_run_created(tools: Path, tmp_path: Path) -> None:
    cluster, _ = kind(tmp_path, name="ci")
    cluster.create()
    cluster.delete()
    assert fakes.calls(tools)[-1] == ("kind", ["delete", "cluster", "--name=ci",
                                               f"--kubeconfig={tmp_path / 'work' / 'ci' / 'kubeconfig'}"])
    cluster.delete()  # a second stop changes nothing
    assert [a[:2] for t, a in fakes.calls(tools)].count(["delete", "cluster"]) == 1


def test_keep_cluster_keeps_it_and_says_how_to_delete_it(tools: Path, tmp_path: Path) -> None:
    cluster, said = kind(tmp_path, name="ci", keep=True)
    cluster.create()
    cluster.delete()
    assert not [a for t, a in fakes.calls(tools) if a[:2] == ["delete", "cluster"]]
    assert said[-1] == "kind: keeping cluster ci (delete it with: kind delete cluster --name ci)"


def test_a_cluster_that_existed_before_the_run_is_reused_and_never_deleted(tools: Path, tmp_path: Path) -> None:
    (tools / "clusters").write_text("ci\n")
    cluster, said = kind(tmp_path, name="ci")
    cluster.create()
    cluster.delete()
    verbs = [a[:2] for t, a in fakes.calls(tools) if t == "kind"]
    assert ["create", "cluster"] not in verbs and ["delete", "cluster"] not in verbs
    assert any(line.startswith("kind: reusing cluster ci") for line in said)


def test_a_failed_create_says_what_to_check(tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_FAIL", "kind:create cluster")
    cluster, _ = kind(tmp_path, name="ci")
    with pytest.raises(DeployError, match=r"kind could not create cluster ci .*check that Docker runs"):
        cluster.create()


def test_the_address_pool_is_the_top_of_the_kind_network(tools: Path, tmp_path: Path) -> None:
    cluster, _ = kind(tmp_path)
    assert cluster.address_pool() == "172.18.255.205-172.18.255.254"
    assert cluster.address_pool(size=10) == "172.18.255.245-172.18.255.254"
    assert ("docker", ["network", "inspect", "kind"]) in fakes.calls(tools)


def test_a_kind_of_another_version_on_path_is_not_used(tools: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """kind v0.29 on PATH: the pinned v0.30.0 is downloaded (here: its pin is unreachable, so it says so)."""
    monkeypatch.setenv("FAKE_KIND_VERSION", "v0.29.0")
    monkeypatch.setenv("MESHCHECK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(pins, "fetch", lambda pin, cache=None, session=None: (_ for _ in ()).throw(
        DeployError(f"downloading {pin.name} from {pin.url} failed")))
    cluster, said = kind(tmp_path)
    with pytest.raises(DeployError, match=r"kind-linux-amd64 from .*/v0\.30\.0/kind-linux-amd64"):
        cluster.binary()
    assert said == ["kind on PATH is kind v0.29.0, not v0.30.0: using the pinned download"]
