"""The deploy step end to end against the simulated cluster, through the same HTTP API as a real one.

``pytest --cluster=kind`` runs with fake kind, docker and istioctl on PATH: "kind" hands over a ``bare``
simulated cluster (a fresh kind cluster whose admin may write), "docker" its network, "istioctl"
applies a demo-profile stand-in; the upstream sources are local stand-ins pinned in a copy of
manifests/ (tests/standins.py). The deploy builds every layer; then the whole read-only suite must pass
on what it built. A second deploy changes nothing; a deploy that skips or breaks a layer makes
exactly the checks that verify it fail.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from meshcheck import layers
from meshcheck.sim.server import SimCluster
from tests import fakes
from tests.harness import ROOT, SUITE_TESTS
from tests.standins import Mirror, istio_demo
from tests.unit.simhttp import start_sim

# Skipped by design: the policies the default profile does not require, our own load (only with --load).
DEFAULT_LAYERS = [d for d in layers.DEPLOYABLES if d.default]  # the policy layer only when asked
NOT_ASKED = ("not required by profile", "our own load was not asked for")


@dataclass
class Stack:
    sim: SimCluster
    mirror: Mirror
    env: dict[str, str]
    tmp: Path
    subnet: str


@pytest.fixture
def stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    scenario = tmp_path / "quick-bare.yaml"
    scenario.write_text("extends: bare\nreconcile: {ready_after: 0.25}\n")
    sim = start_sim(str(scenario), tmp_path / "sim", request)
    mirror = Mirror(tmp_path)
    import yaml

    mirror.istio.write_text(yaml.safe_dump_all(istio_demo(), sort_keys=False))
    subnet = f"127.{random.randint(1, 254)}"
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env.update(fakes.install(tmp_path / "bin"))
    env.update(FAKE_KIND_KUBECONFIG=str(sim.kubeconfig), FAKE_DOCKER_SUBNET=f"{subnet}.0.0/16",
               FAKE_ISTIO_MANIFEST=str(mirror.istio), MESHCHECK_CACHE=str(tmp_path / "cache"))
    yield Stack(sim, mirror, env, tmp_path, subnet)
    mirror.stop()


@dataclass
class Ran:
    code: int
    output: str
    outcomes: dict[str, tuple[str, str]]  # test name -> (outcome, message)


def pytest_run(stack: Stack, *args: str) -> Ran:
    junit = stack.tmp / "junit.xml"
    junit.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider",
                           f"--junitxml={junit}", f"--manifests={stack.mirror.manifests}", "--deploy-timeout=60",
                           "--wait=30", *args], cwd=ROOT, env=stack.env, capture_output=True, text=True, timeout=600)
    outcomes = {}
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            found = next((case.find(t) for t in ("failure", "error", "skipped") if case.find(t) is not None), None)
            outcome = "passed" if found is None else {"failure": "failed"}.get(found.tag, found.tag)
            outcomes[str(case.get("name"))] = (outcome, "" if found is None else str(found.get("message")))
    return Ran(done.returncode, done.stdout + done.stderr, outcomes)


def versions(sim: SimCluster) -> dict[tuple[str, str, str], Any]:
    assert sim.world is not None
    return {(key, o["metadata"].get("namespace", ""), o["metadata"]["name"]): o["metadata"].get("resourceVersion")
            for key, items in sim.world.objects.items() for o in items}


def kind(stack: Stack, *args: str) -> Ran:
    return pytest_run(stack, "--cluster=kind", "--cluster-name=e2e", *args)


@pytest.mark.parametrize("ingress", ["classic", "gateway-api"])
def test_kind_deploys_every_layer_and_the_suite_passes_on_it(stack: Stack, ingress: str) -> None:
    args: tuple[str, ...] = ()
    if ingress == "gateway-api":
        profile = stack.tmp / "profile.yaml"
        text = (ROOT / "meshcheck" / "profiles" / "online-boutique.yaml").read_text()
        profile.write_text(text.replace("ingress: classic", "ingress: gateway-api"))
        args = (f"--profile={profile}",)
    ran = kind(stack, *args)
    assert ran.code == 0, ran.output[-4000:]
    expect(ran, {})
    for deployable in DEFAULT_LAYERS:
        assert f"deploy {deployable.name}: {deployable.title}" in ran.output
    assert f"metallb: address pool {stack.subnet}.255.205-{stack.subnet}.255.254" in ran.output
    assert fakes.calls(stack.tmp / "bin")[-1][1][:2] == ["delete", "cluster"]
    writes = [s for s in stack.sim.writes() if s.method == "PATCH"]
    assert writes and all("fieldManager=meshcheck" in s.query for s in writes), "server-side apply, as meshcheck"
    gateway = ("istio-system", "istio-ingressgateway") if ingress == "classic" else (
        "online-boutique", "istio-gateway-istio")
    address = stack.sim.load_balancers()[gateway][0]  # from the pool (the demo profile's gateway may come first)
    assert address in (f"{stack.subnet}.255.205", f"{stack.subnet}.255.206"), address


def test_a_second_deploy_changes_nothing(stack: Stack) -> None:
    first = kind(stack, "--keep-cluster")
    assert first.code == 0, first.output[-4000:]
    before = versions(stack.sim)
    second = pytest_run(stack, f"--kubeconfig={stack.sim.kubeconfig}", "--deploy",
                        f"--metallb-addresses={stack.subnet}.255.205-{stack.subnet}.255.254")
    assert second.code == 0, second.output[-4000:]
    assert versions(stack.sim) == before, "no object changed"
    for deployable in DEFAULT_LAYERS:
        if deployable.name != "istio":  # istioctl reports its own work
            assert f"deploy {deployable.name}: " in second.output and \
                   f"deploy {deployable.name}: 0 " not in second.output  # it did apply objects…
            line = next(x for x in second.output.splitlines() if x.startswith(f"deploy {deployable.name}: ")
                        and "applied" in x)
            assert line.endswith(", 0 changed"), line  # …and changed none
    assert "which this run did not create" in second.output, "an attached cluster is told what will change"


def expect(ran: Ran, failing: dict[str, str], blocked_by: str | None = None) -> None:
    """Exactly ``failing`` fail (with those fragments), the layers resting on ``blocked_by`` are blocked,
    everything else passes."""
    blocked = {lay.module for lay in layers.LAYERS if blocked_by and blocked_by in layers.prerequisites(lay.name)}
    assert len(ran.outcomes) == SUITE_TESTS, ran.output[-3000:]
    for test, (outcome, message) in ran.outcomes.items():
        if test in failing:
            assert outcome == "failed" and failing[test] in message, (test, outcome, message)
        elif outcome == "skipped" and any(reason in message for reason in NOT_ASKED):
            continue
        elif outcome == "skipped":
            assert "blocked by" in message and blocked, (test, message)
        else:
            assert outcome == "passed", (test, outcome, message)
    assert blocked or all(o != "skipped" or any(r in m for r in NOT_ASKED) for o, m in ran.outcomes.values())


def test_skipping_metallb_leaves_the_gateway_without_an_address(stack: Stack) -> None:
    ran = kind(stack, "--deploy-layers=istio,boutique,addons,dashboard")
    expect(ran, {"test_gateway_has_external_address": "has no EXTERNAL-IP"}, blocked_by="gateway")


def test_skipping_the_addons_fails_exactly_their_checks(stack: Stack) -> None:
    ran = kind(stack, "--deploy-layers=metallb,istio,boutique,dashboard")
    failing = {name: "no Service named" for name in (
        "test_prometheus_is_ready", "test_prometheus_scrapes_boutique_sidecar_targets",
        "test_prometheus_has_mesh_request_series_for_workloads", "test_mesh_calls_arrive_over_mutual_tls",
        "test_tracing_lists_boutique_services",
        "test_tracing_has_recent_frontend_traces", "test_tracing_covers_traced_call_graph_hops")}
    expect(ran, failing, blocked_by="telemetry")  # Kiali and Grafana rest on Prometheus


def test_a_namespace_without_the_injection_label_fails_at_the_istio_layer(stack: Stack) -> None:
    namespace = stack.mirror.manifests / "boutique" / "namespace.yaml"
    namespace.write_text(namespace.read_text().replace("  labels:\n    istio-injection: enabled\n", ""))
    ran = kind(stack)
    expect(ran, {"test_istio_injection_label_on_boutique_namespace": "is not labelled for sidecar injection"},
           blocked_by="istio")
