"""The real kubectl against a started simulated cluster answers as it would on a real one: the README tells
newcomers to use a scenario's kubeconfig, so `kubectl get ...` must work with it, over HTTPS, with a token
or a client certificate, printed by the server as kube-apiserver prints."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from meshcheck.sim.server import SimCluster
from tests.unit.simhttp import start_sim

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine (not on PATH)")


@pytest.fixture(scope="module", params=["healthy", "healthy-client-cert"])
def sim(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> SimCluster:
    return start_sim(request.param, tmp_path_factory.mktemp(request.param), request)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """kubectl's home and caches: never the user's own ~/.kube."""
    return tmp_path_factory.mktemp("kubectl-home")


def kubectl(sim: SimCluster, home: Path, *args: str, cache: str = "cache") -> str:
    assert KUBECTL is not None
    env = {**os.environ, "HOME": str(home)}
    env.pop("KUBECONFIG", None)
    done = subprocess.run(
        [KUBECTL, "--kubeconfig", str(sim.kubeconfig), "--cache-dir", str(home / cache), *args],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert done.returncode == 0, f"kubectl {' '.join(args)} exited {done.returncode}: {done.stderr}"
    return done.stdout


def table(output: str) -> tuple[list[str], list[list[str]]]:
    """kubectl's columns: split on runs of two or more spaces (values hold single spaces, e.g. OS-IMAGE)."""
    lines = [re.split(r"\s{2,}", line.strip()) for line in output.strip().splitlines()]
    return lines[0], lines[1:]


def test_get_nodes(sim: SimCluster, home: Path):
    header, rows = table(kubectl(sim, home, "get", "nodes"))
    assert header == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert rows[0][:3] == ["meshcheck-control-plane", "Ready", "control-plane"]
    assert len(rows) == 3 and all(row[4] == "v1.29.2" for row in rows)


def test_get_pods_in_every_namespace(sim: SimCluster, home: Path):
    header, rows = table(kubectl(sim, home, "get", "pods", "-A"))
    assert header == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    boutique = [row for row in rows if row[0] == "online-boutique"]
    assert len(boutique) == 12 and all(row[2:4] == ["2/2", "Running"] for row in boutique)
    assert {row[0] for row in rows} >= {"kube-system", "istio-system", "online-boutique"}


def test_get_services_shows_the_gateway_address(sim: SimCluster, home: Path):
    header, rows = table(kubectl(sim, home, "get", "svc", "-n", "istio-system"))
    assert header == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    [gateway] = [row for row in rows if row[0] == "istio-ingressgateway"]
    assert sim.api is not None
    [service] = [s for s in sim.api.objects["services"] if s["metadata"]["name"] == "istio-ingressgateway"]
    address = service["status"]["loadBalancer"]["ingress"][0]["ip"]
    assert address.startswith("127.") and gateway[1] == "LoadBalancer" and gateway[3] == address


def test_get_raw_through_the_service_proxy(sim: SimCluster, home: Path):
    path = "/api/v1/namespaces/istio-system/services/kiali:20001/proxy/kiali/api/status"
    raw = kubectl(sim, home, "get", "--raw", path)
    assert json.loads(raw)["status"]["Kiali state"] == "running"


def test_wide_output_shows_the_priority_columns(sim: SimCluster, home: Path):
    header, rows = table(kubectl(sim, home, "get", "pods", "-n", "online-boutique", "-o", "wide"))
    assert header[-4:] == ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]
    assert all(row[5].startswith("10.244.") and row[6].startswith("meshcheck-") for row in rows)


def test_kubectl_reads_only_and_is_answered_in_its_own_formats(sim: SimCluster, home: Path):
    """Server-side printing (Table) for gets, aggregated discovery (no request per group version), no write."""
    sim.log.clear()
    kubectl(sim, home, "get", "deployments", "-A", cache=f"fresh-{sim.url.rsplit(':', 1)[1]}")
    asked = sim.api_requests()
    assert asked and all(s.method == "GET" for s in asked)
    lists = [s for s in asked if s.path.endswith("/deployments")]
    assert lists and all("as=Table" in s.accept for s in lists)
    assert not [s.path for s in asked if s.path.startswith("/apis/") and s.path.count("/") == 3]
    assert "as=APIGroupDiscoveryList" in next(s.accept for s in asked if s.path == "/apis")


MANIFEST = """
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: demo}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.27"}]}
"""


def test_kubectl_writes_to_the_bare_cluster(tmp_path: Path, request: pytest.FixtureRequest):
    """The bare cluster's admin applies server-side (kubectl downloads no OpenAPI here: --validate=false),
    labels, lists and deletes as on a fresh kind cluster; the daemon sets print with their own columns."""
    assert KUBECTL is not None
    slow = tmp_path / "slow.yaml"  # pods stay in creation for the whole test, however slow the machine
    slow.write_text("extends: bare\nreconcile: {ready_after: 600}\n")
    sim = start_sim(str(slow), tmp_path, request)
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("KUBECONFIG", None)

    def run(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run([KUBECTL, "--kubeconfig", str(sim.kubeconfig), "--cache-dir", str(tmp_path / "cache"),
                               *args], input=stdin, capture_output=True, text=True, timeout=60, env=env)
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout

    applied = run("apply", "--server-side", "--validate=false", "-f", "-", stdin=MANIFEST)
    assert applied.split("\n")[:2] == ["namespace/demo serverside-applied", "deployment.apps/web serverside-applied"]
    assert "serverside-applied" in run("apply", "--server-side", "--validate=false", "-f", "-", stdin=MANIFEST)
    header, rows = table(run("get", "pods", "-n", "demo"))
    assert header[:3] == ["NAME", "READY", "STATUS"] and len(rows) == 2
    assert all(row[0].startswith("web-") and row[1] == "0/1" for row in rows)  # still being created
    assert "namespace/demo labeled" in run("label", "namespace", "demo", "istio-injection=enabled")
    assert "istio-injection=enabled" in run("get", "namespace", "demo", "--show-labels")
    header, rows = table(run("get", "daemonsets", "-n", "kube-system"))
    assert header[:7] == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR"]
    assert sorted(row[0] for row in rows) == ["kindnet", "kube-proxy"] and all(row[1] == "2" for row in rows)
    assert 'namespace "demo" deleted' in run("delete", "namespace", "demo")
    assert run("get", "pods", "-n", "demo", "-o", "name") == ""
