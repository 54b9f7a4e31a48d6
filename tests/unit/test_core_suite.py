"""meshcheck.suite.Suite: bounded waits per layer, and how the storefront is reached."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from meshcheck import kube
from meshcheck.profile import load_profile
from meshcheck.results import CheckResult, fail, ok
from meshcheck.sim.server import SimCluster
from meshcheck.suite import Options, Suite
from tests.unit.simhttp import start_sim

PROFILE = load_profile()


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> SimCluster:
    return start_sim("healthy", tmp_path_factory.mktemp("healthy"), request)


def suite_for(sim: SimCluster, **options: float) -> Suite:
    settings = {"wait": 0.3, "poll": 0.01, "settle": 1e9, "request_timeout": 2.0, **options}
    return Suite(kube.Cluster.connect(str(sim.kubeconfig)), PROFILE, Options(**settings))


class Look:
    """A check that fails, still changing, ``failures`` times and then passes (or never, with None)."""

    def __init__(self, failures: int | None, settled: bool = False) -> None:
        self.failures, self.settled, self.calls = failures, settled, 0

    def __call__(self) -> CheckResult:
        self.calls += 1
        if self.failures is not None and self.calls > self.failures:
            return ok("test.look", f"passed on look {self.calls}")
        return fail("test.look", f"failed on look {self.calls}", "wait", settled=self.settled)


def timed(call: Callable[[], CheckResult]) -> tuple[CheckResult, float]:
    began = time.monotonic()
    result = call()
    return result, time.monotonic() - began


# --- wait ---------------------------------------------------------------------------------------------


def test_a_passed_result_returns_at_once(sim: SimCluster):
    look = Look(0)
    result = suite_for(sim).wait("boutique", look, [kube.PODS])
    assert result.passed and look.calls == 1


def test_a_settled_failure_returns_at_once(sim: SimCluster):
    look = Look(None, settled=True)
    result, took = timed(lambda: suite_for(sim).wait("boutique", look, [kube.PODS]))
    assert not result.passed and look.calls == 1
    assert took < 0.2


def test_an_unsettled_failure_is_retried_until_it_passes(sim: SimCluster):
    look = Look(3)
    result = suite_for(sim).wait("boutique", look, [kube.PODS])
    assert result.passed and look.calls == 4
    assert result.message == "passed on look 4"


def test_retries_refresh_the_kinds_named(sim: SimCluster):
    suite = suite_for(sim)
    suite.cluster.list(kube.PODS)
    before = suite.cluster.log.count(("GET", "/api/v1/pods"))
    inner = Look(2)

    def look() -> CheckResult:
        suite.cluster.list(kube.PODS)
        return inner()

    assert suite.wait("boutique", look, [kube.PODS]).passed
    assert suite.cluster.log.count(("GET", "/api/v1/pods")) == before + 2


def test_the_budget_is_per_layer_and_shared_by_its_waits(sim: SimCluster):
    suite = suite_for(sim, wait=0.2, poll=0.01)
    first = Look(None)
    result, took = timed(lambda: suite.wait("gateway", first, [kube.SERVICES]))
    assert not result.passed and not result.settled
    assert first.calls > 2
    assert 0.1 <= took < 0.6
    second = Look(None)
    result, took = timed(lambda: suite.wait("gateway", second, [kube.SERVICES]))
    assert second.calls == 1 and took < 0.1
    other_layer = Look(2)
    assert suite.wait("storefront", other_layer, [kube.SERVICES]).passed
    assert other_layer.calls == 3


def test_without_kinds_a_mesh_older_than_settle_is_not_waited_for(sim: SimCluster):
    look = Look(None)
    suite = suite_for(sim, settle=60)  # the simulated pods started hours ago
    assert suite.mesh_age() > 3600
    result = suite.wait("telemetry", look)
    assert not result.passed and look.calls == 1


def test_without_kinds_a_young_mesh_is_waited_for(sim: SimCluster):
    look = Look(2)
    result = suite_for(sim, settle=1e9).wait("telemetry", look)
    assert result.passed and look.calls == 3


# --- storefront ------------------------------------------------------------------------------------


def test_storefront_through_a_reachable_external_ip(sim: SimCluster):
    endpoint = suite_for(sim).storefront()
    services = sim.world.objects["services"]
    gateway = next(s for s in services if s["metadata"]["name"] == "istio-ingressgateway")
    ip = gateway["status"]["loadBalancer"]["ingress"][0]["ip"]
    assert endpoint.via.startswith(f"gateway EXTERNAL-IP {ip}:")
    assert endpoint.base_url.startswith(f"http://{ip}:")
    assert endpoint.service is None
    assert endpoint.get("/").status_code == 200


def test_storefront_through_the_api_server_when_the_address_is_unreachable(
    tmp_path: Path, request: pytest.FixtureRequest
):
    sim = start_sim("storefront-unreachable", tmp_path, request)
    suite = suite_for(sim)
    endpoint = suite.storefront()
    assert endpoint.via.startswith("API server proxy to service istio-system/istio-ingressgateway:80")
    assert f"EXTERNAL-IP {suite.ingress.address}:80 is not reachable from this runner" in endpoint.via
    assert endpoint.base_url.startswith(sim.url + "/api/v1/namespaces/istio-system/services/")
    assert endpoint.service == "istio-system/istio-ingressgateway"
    assert suite.storefront() is endpoint  # resolved once
    assert endpoint.get("/").status_code == 200


# --- Kiali's settings and the network -----------------------------------------------------------------


def test_kiali_settings_are_read_from_its_namespace_only(sim: SimCluster):
    suite = suite_for(sim)
    suite.prefetch(["kiali"])
    settings = suite.kiali_tracing_settings(suite.addon("kiali"), "v1.76.0")
    assert settings.source == "ConfigMap istio-system/kiali" and settings.read
    paths = [path for _, path in suite.cluster.log]
    assert paths.count("/api/v1/namespaces/istio-system/configmaps") == 1
    assert "/api/v1/configmaps" not in paths and not any("kiali.io" in p for p in paths)
    network = suite.network()
    assert {n["metadata"]["name"] for n in network.nodes} >= {"meshcheck-worker"} and network.services


def test_a_reader_that_may_not_read_configmaps_gets_settings_that_say_so(tmp_path: Path,
                                                                         request: pytest.FixtureRequest):
    file = tmp_path / "reader-without-configmaps.yaml"
    file.write_text("extends: healthy\napi: {forbidden: [configmaps]}\n")
    suite = suite_for(start_sim(str(file), tmp_path, request))
    settings = suite.kiali_tracing_settings(suite.addon("kiali"), "v1.76.0")
    assert not settings.read and "may not read ConfigMaps in istio-system (403)" in settings.problem
