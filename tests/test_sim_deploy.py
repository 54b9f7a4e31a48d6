"""The deploy's path end to end against the simulated cluster: every layer applied to a ``bare`` cluster
through the official client (server-side apply, bounded waits, MetalLB's webhook waited for), then the
whole read-only suite run against what was built, which must pass; and a second deploy of the same
objects changes nothing."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from meshcheck.sim.server import SimCluster
from tests import simstack
from tests.harness import run_suite
from tests.unit.simhttp import start_sim


def versions(sim: SimCluster) -> dict[tuple[str, str, str], Any]:
    assert sim.world is not None
    return {(key, o["metadata"].get("namespace", ""), o["metadata"]["name"]): o["metadata"].get("resourceVersion")
            for key, items in sim.world.objects.items() for o in items}


@pytest.mark.parametrize("ingress", ["classic", "gateway-api"])
def test_the_suite_passes_on_the_stack_a_deploy_built(ingress: str, tmp_path: Path, request: pytest.FixtureRequest):
    scenario = "bare"
    if ingress != "classic":  # the classic run keeps bare's own timing; this one is quicker
        scenario = str(tmp_path / "quick.yaml")
        Path(scenario).write_text("extends: bare\nreconcile: {ready_after: 0.25}\n")
    sim = start_sim(scenario, tmp_path, request)
    assert sim.kubeconfig is not None
    applier = simstack.Applier(sim.kubeconfig)
    base = f"127.{random.randint(1, 254)}.{random.randint(0, 254)}"
    pool = f"{base}.10-{base}.20"
    simstack.deploy(applier, pool, ingress)
    gateway = ("istio-system", "istio-ingressgateway") if ingress == "classic" else (
        "online-boutique", "istio-gateway-istio")
    ip, port, listening = sim.load_balancers()[gateway]
    assert (ip, port) == (f"{base}.1{0 if ingress == 'classic' else 1}", 80)

    writes = len(sim.writes())
    run = run_suite(f"--kubeconfig={sim.kubeconfig}", scenario=None)
    assert run.code == 0, run.output[-3000:]
    assert len(run.tests) == 37 and {t.outcome for t in run.tests.values()} == {"passed"}
    assert len(sim.writes()) == writes  # the suite wrote nothing
    if listening:  # port 80 of a loopback address: this runner could bind it, so the suite shopped there
        assert any(s.server == "storefront" for s in sim.log)

    before = versions(sim)
    simstack.deploy(applier, pool, ingress)
    assert versions(sim) == before
