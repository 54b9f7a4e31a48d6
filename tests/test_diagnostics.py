"""meshcheck.diagnostics against the simulated cluster: what a failed check's report shows of its objects
(Events, a describe-like summary, the app's and istio-proxy's logs, redacted), at a bounded cost in
requests, and a refused read as a line rather than an exception. Also the simulator's Events and logs."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from meshcheck import kube
from meshcheck.diagnostics import MAX_LOG_PODS, MAX_OBJECTS, Diagnoser, Diagnosis, addon_objects, diagnose
from meshcheck.endpoints import Endpoint
from meshcheck.results import fail, ok
from meshcheck.sim import containerlogs, events
from meshcheck.sim import scenario as scenarios
from meshcheck.sim.build import build_world
from meshcheck.sim.extras import fake_secrets
from meshcheck.sim.printers import parse_time
from meshcheck.sim.server import SimCluster
from tests.unit.simhttp import start_sim

NS = "online-boutique"
PAYMENT = f"Deployment/{NS}/paymentservice"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> SimCluster:
    return start_sim("secrets-everywhere", tmp_path_factory.mktemp("secrets"), request)


def connect(sim: SimCluster, *kinds: kube.Kind) -> kube.Cluster:
    """A cluster door as a run has it: the kinds its checks listed already read."""
    cluster = kube.Cluster.connect(str(sim.kubeconfig), timeout=5)
    cluster.prefetch(kinds)
    return cluster


def served_during(sim: SimCluster, action) -> tuple[object, list]:
    before = len(sim.api_requests())
    value = action()
    return value, sim.api_requests()[before:]


def payment_pod(cluster: kube.Cluster) -> str:
    return next(p["metadata"]["name"] for p in cluster.list(kube.PODS, NS)
                if p["metadata"]["name"].startswith("paymentservice-"))


# --- a crash-looping Deployment -------------------------------------------------------------------------


def test_a_crash_looping_deployment_shows_its_state_events_and_logs(sim: SimCluster) -> None:
    cluster = connect(sim, kube.DEPLOYMENTS, kube.PODS)
    result = fail("boutique.deployments_available", "paymentservice is not available", "look", objects=(PAYMENT,))
    diagnosis = Diagnoser(cluster).diagnose(result)
    assert [d.ref for d in diagnosis.objects] == [PAYMENT]
    found = diagnosis.objects[0]
    summary = "\n".join(found.summary)
    assert "0/1 replicas available (1 desired, 1 updated, 0 ready)" in summary
    assert "Available=False (MinimumReplicasUnavailable" in summary
    assert "server: not ready" in summary and "waiting: CrashLoopBackOff" in summary
    assert "istio-proxy: ready" in summary
    assert found.problems == []
    reasons = {(e.type, e.reason) for e in found.events}
    assert ("Warning", "BackOff") in reasons, found.events
    backoff = next(e for e in found.events if e.reason == "BackOff")
    assert backoff.object.startswith("pod/paymentservice-") and backoff.count > 1
    assert backoff.message.startswith("Back-off restarting failed container server in pod paymentservice-")
    assert ("Warning", "ReconcileError") in reasons, "the Deployment's own Events too"
    logs = {log.container: log for log in found.logs}
    assert set(logs) == {"server", "istio-proxy"}
    assert len(logs["server"].lines) == 6 and "PaymentService gRPC server started" in logs["server"].lines[0]
    assert any("Envoy proxy is ready" in line for line in logs["istio-proxy"].lines)


def test_what_it_shows_is_redacted_everywhere(sim: SimCluster) -> None:
    cluster = connect(sim, kube.DEPLOYMENTS, kube.PODS)
    diagnosis = Diagnoser(cluster).diagnose(fail("x", "m", "r", objects=(PAYMENT,)))
    text, data = diagnosis.render_text(), json.dumps(diagnosis.to_dict())
    planted = fake_secrets()
    assert not [s for s in planted if s in text or s in data]
    assert "[redacted jwt]" in text and "password=[redacted]" in text and "Bearer" not in text
    # what the cluster serves does carry them: the report is what takes them out
    raw = cluster.pod_log(NS, payment_pod(cluster), "server", tail_lines=20)
    assert [s for s in planted if s in raw]


def test_to_dict_is_plain_json_and_render_text_reads_like_kubectl(sim: SimCluster) -> None:
    cluster = connect(sim, kube.DEPLOYMENTS, kube.PODS)
    diagnosis = Diagnoser(cluster).diagnose(fail("boutique.x", "m", "r", objects=(PAYMENT,)))
    data = diagnosis.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {"check", "objects", "notes", "requests"} and data["check"] == "boutique.x"
    item = data["objects"][0]
    assert set(item) == {"ref", "summary", "events", "logs", "problems"}
    assert set(item["events"][0]) == {"type", "reason", "object", "message", "count", "first_seen", "last_seen",
                                      "source"}
    assert set(item["logs"][0]) == {"pod", "container", "lines", "problem"}
    lines = diagnosis.render_text().splitlines()
    assert lines[0] == f"Deployment {NS}/paymentservice"
    assert "  events (newest last):" in lines
    assert any(line.startswith(f"  logs of {NS}/paymentservice-") and "container server (last 6 lines):" in line
               for line in lines)


# --- what it costs ---------------------------------------------------------------------------------------


def test_a_failure_costs_its_events_and_two_logs_and_nothing_more_the_second_time(sim: SimCluster) -> None:
    cluster = connect(sim, kube.DEPLOYMENTS, kube.PODS)
    diagnoser = Diagnoser(cluster)
    result = fail("boutique.deployments_available", "m", "r", objects=(PAYMENT,))
    diagnosis, served = served_during(sim, lambda: diagnoser.diagnose(result))
    assert [s.path.rsplit("/", 1)[-1] for s in served] == ["events", "log", "log"]
    assert {s.method for s in served} == {"GET"} and diagnosis.requests == 3
    pod = payment_pod(cluster)
    again = fail("boutique.pods_have_sidecars", "m", "r", objects=(f"Pod/{NS}/{pod}",))
    diagnosis, served = served_during(sim, lambda: diagnoser.diagnose(again))
    assert served == [] and diagnosis.requests == 0 and diagnosis.objects[0].logs, "read once per run, shared"


def test_a_passing_result_costs_nothing(sim: SimCluster) -> None:
    cluster = connect(sim)
    diagnosis, served = served_during(sim, lambda: Diagnoser(cluster).diagnose(ok("x", "fine")))
    assert served == [] and not diagnosis and diagnosis.to_dict()["objects"] == []


def test_a_failure_naming_many_objects_stays_bounded(sim: SimCluster) -> None:
    cluster = connect(sim, kube.DEPLOYMENTS, kube.PODS, kube.NODES, kube.SERVICES)
    pods = [f"Pod/{NS}/{p['metadata']['name']}" for p in cluster.list(kube.PODS, NS)]
    named = (*pods, "Node//meshcheck-worker", f"Service/{NS}/frontend")
    diagnosis, served = served_during(sim, lambda: Diagnoser(cluster).diagnose(fail("x", "m", "r", objects=named)))
    assert len(diagnosis.objects) == MAX_OBJECTS
    assert diagnosis.notes == [f"{len(named) - MAX_OBJECTS} more not diagnosed: " + ", ".join(named[3:13]) + " …"]
    logged = {log.pod for item in diagnosis.objects for log in item.logs}
    assert len(logged) == MAX_LOG_PODS
    # Events of one namespace once, and two containers of each pod whose logs are shown
    assert len(served) == diagnosis.requests <= 1 + MAX_LOG_PODS * 2
    assert all(len(log.lines) <= 20 for item in diagnosis.objects for log in item.logs)


def test_without_the_run_s_lists_the_objects_are_read_one_by_one(sim: SimCluster) -> None:
    cluster = connect(sim)
    diagnosis, served = served_during(sim, lambda: Diagnoser(cluster).diagnose(
        fail("x", "m", "r", objects=(PAYMENT, f"Service/{NS}/paymentservice", "Node//meshcheck-worker"))))
    paths = [s.path for s in served]
    assert paths[0] == f"/apis/apps/v1/namespaces/{NS}/deployments/paymentservice"
    assert paths[1] == f"/api/v1/namespaces/{NS}/pods"  # by the Deployment's label selector
    assert "labelSelector=app%3Dpaymentservice" in served[1].query
    assert f"/api/v1/namespaces/{NS}/services/paymentservice" in paths
    assert "/api/v1/nodes/meshcheck-worker" in paths and "/api/v1/namespaces/default/events" in paths
    assert len(served) == diagnosis.requests <= 9
    service = "\n".join(diagnosis.objects[1].summary)
    assert "type ClusterIP" in service and "selector app=paymentservice: 1 pods, 0 ready" in service
    assert diagnosis.objects[2].summary[0].startswith("Ready=True (KubeletReady")


# --- reads that fail --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def refusing(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> SimCluster:
    """The secrets scenario with a user who may read neither Events nor pod logs."""
    folder = tmp_path_factory.mktemp("refusing")
    path = folder / "refusing.yaml"
    path.write_text(yaml.safe_dump({"extends": "secrets-everywhere", "api": {"forbidden": ["events", "pods/log"]}}))
    sim = SimCluster(str(path), workdir=folder).start()
    request.addfinalizer(sim.stop)
    return sim


def test_a_refused_read_is_a_line_not_an_exception(refusing: SimCluster) -> None:
    cluster = connect(refusing, kube.DEPLOYMENTS, kube.PODS)
    diagnosis = Diagnoser(cluster).diagnose(fail("x", "m", "r", objects=(PAYMENT,)))
    found = diagnosis.objects[0]
    assert found.events == [] and len(found.problems) == 1
    assert found.problems[0].startswith(f"events in namespace {NS} could not be read: ")
    assert "403" in found.problems[0]
    assert [log.container for log in found.logs] == ["server", "istio-proxy"]
    assert all(log.lines == [] and "could not be read:" in log.problem and "pods/log" in log.problem
               for log in found.logs)
    assert "0/1 replicas available" in found.summary[0], "what was read still shows"
    text = diagnosis.render_text()
    assert "could not be read" in text and "Traceback" not in text


def test_a_read_that_raises_anything_becomes_a_line(sim: SimCluster) -> None:
    class Broken(kube.Cluster):
        def events(self, namespace: str, *, limit: int = 500):
            raise RuntimeError("boom with token=abc123 inside")

    real = connect(sim, kube.DEPLOYMENTS, kube.PODS)
    broken = Broken(real._api, name="broken", timeout=5)
    broken._lists = real._lists
    diagnosis = diagnose(fail("x", "m", "r", objects=(PAYMENT, "not-a-reference")), broken)
    assert diagnosis.objects[0].problems == [f"events in namespace {NS} could not be read: boom with "
                                             "token=[redacted] inside"]
    assert diagnosis.notes == ["not-a-reference: not an object reference (Kind/namespace/name)"]


def test_an_object_that_is_gone_says_so(sim: SimCluster) -> None:
    listed = connect(sim, kube.DEPLOYMENTS)
    diagnosis = Diagnoser(listed).diagnose(fail("x", "m", "r", objects=(f"Deployment/{NS}/nope",)))
    assert diagnosis.objects[0].summary == [f"Deployment {NS}/nope does not exist (not in the list this run read)"]
    fresh = connect(sim)
    diagnosis = Diagnoser(fresh).diagnose(fail("x", "m", "r", objects=(f"Pod/{NS}/nope",)))
    assert diagnosis.objects[0].summary == [f"Pod {NS}/nope does not exist"]


def test_an_addon_failure_names_its_service() -> None:
    proxied = Endpoint("kiali", "https://x/api/v1/namespaces/istio-system/services/kiali:20001/proxy", "proxy",
                       service="istio-system/kiali")
    assert addon_objects(proxied) == ("Service/istio-system/kiali",)
    assert addon_objects(Endpoint("kiali", "http://kiali.example", "direct URL")) == ()
    assert isinstance(Diagnosis("x"), Diagnosis) and not Diagnosis("x")


# --- the simulator's Events and logs ----------------------------------------------------------------------


def test_the_simulator_serves_events_as_kube_apiserver_does(sim: SimCluster) -> None:
    cluster = connect(sim)
    pod = payment_pod(cluster)
    listed = cluster.get(f"/api/v1/namespaces/{NS}/events")
    assert listed["kind"] == "EventList" and listed["apiVersion"] == "v1"
    backoff = next(e for e in listed["items"] if e["reason"] == "BackOff")
    assert set(backoff) == {"metadata", "involvedObject", "reason", "message", "source", "firstTimestamp",
                            "lastTimestamp", "count", "type", "eventTime", "reportingComponent", "reportingInstance"}
    assert backoff["involvedObject"]["kind"] == "Pod" and backoff["involvedObject"]["name"] == pod
    assert backoff["involvedObject"]["fieldPath"] == "spec.containers{server}"
    assert backoff["metadata"]["name"].startswith(pod + ".") and backoff["metadata"]["namespace"] == NS
    assert backoff["source"] == {"component": "kubelet", "host": backoff["reportingInstance"]}
    assert backoff["type"] == "Warning" and backoff["eventTime"] is None and backoff["count"] >= 1
    assert backoff["firstTimestamp"] < backoff["lastTimestamp"]
    selected = cluster.get(f"/api/v1/namespaces/{NS}/events", [("fieldSelector", f"involvedObject.name={pod},"
                                                                                  "involvedObject.kind=Pod")])
    assert {e["involvedObject"]["name"] for e in selected["items"]} == {pod}
    newer = cluster.get(f"/apis/events.k8s.io/v1/namespaces/{NS}/events")
    converted = next(e for e in newer["items"] if e["reason"] == "BackOff")
    assert converted["regarding"] == backoff["involvedObject"] and converted["note"] == backoff["message"]
    assert converted["reportingController"] == "kubelet" and converted["deprecatedCount"] == backoff["count"]
    table = cluster.get(f"/api/v1/namespaces/{NS}/events", accept="application/json;as=Table;v=v1;g=meta.k8s.io")
    assert [c["name"] for c in table["columnDefinitions"]][:4] == ["Last Seen", "Type", "Reason", "Object"]
    assert [r["cells"][1:4] for r in table["rows"]].count(["Warning", "BackOff", f"pod/{pod}"]) == 1


def _world(name: str):
    return build_world(scenarios.load(name), "127.0.0.9", 80)


def test_an_unschedulable_pod_has_failed_scheduling() -> None:
    world = _world("healthy")
    pod = copy.deepcopy(next(p for p in world.of_kind("pods", NS) if p["metadata"]["name"].startswith("frontend-")))
    pod["metadata"]["name"] = "frontend-unscheduled"
    pod["spec"].pop("nodeName")
    pod["spec"]["nodeSelector"] = {"disktype": "ssd"}
    pod["status"] = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                                                          "reason": "Unschedulable"}]}
    world.put("pods", pod)
    found = [e for e in events.build(world) if e["involvedObject"]["name"] == "frontend-unscheduled"]
    assert [(e["type"], e["reason"], e["source"]["component"]) for e in found] == [
        ("Warning", "FailedScheduling", "default-scheduler")]
    assert found[0]["message"] == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption "
        "is not helpful for scheduling.")


def test_proxies_that_are_not_ready_and_nodes_that_went_down_recently() -> None:
    world = _world("proxy-not-ready")
    found = events.build(world)
    unhealthy = [e for e in found if e["reason"] == "Unhealthy"]
    assert unhealthy and unhealthy[0]["involvedObject"]["name"].startswith("cartservice-")
    assert unhealthy[0]["message"] == "Readiness probe failed: HTTP probe failed with statuscode: 503"
    assert unhealthy[0]["involvedObject"]["fieldPath"] == "spec.containers{istio-proxy}"
    pod = next(p for p in world.of_kind("pods", NS) if p["metadata"]["name"].startswith("cartservice-"))
    status = next(s for s in pod["status"]["containerStatuses"] if s["name"] == "istio-proxy")
    lines = containerlogs.lines(world, pod, "istio-proxy", status, 3)
    assert len(lines) == 3 and all(containerlogs.NOT_READY in text and "\twarn\t" in text for _, text in lines)
    down = _world("node-not-ready")
    ready = next(c for n in down.of_kind("nodes") if n["metadata"]["name"] == "meshcheck-worker"
                 for c in n["status"]["conditions"] if c["type"] == "Ready")
    ten_minutes_on = parse_time(ready["lastTransitionTime"]) + 600
    node = next(e for e in events.build(down, now=ten_minutes_on) if e["reason"] == "NodeNotReady")
    assert node["metadata"]["namespace"] == "default" and node["involvedObject"]["kind"] == "Node"
    assert node["message"] == "Node meshcheck-worker status is now: NodeNotReady"
    assert not [e for e in events.build(_world("node-not-ready")) if e["reason"] == "NodeNotReady"], \
        "an hour on, the Event has expired (--event-ttl)"


def test_a_healthy_cluster_of_long_ago_has_no_events() -> None:
    assert events.build(_world("healthy")) == []


def test_the_secret_scenario_plants_every_listed_secret(sim: SimCluster) -> None:
    cluster = connect(sim)
    config_map = cluster.get(f"/api/v1/namespaces/{NS}/configmaps/payment-settings")
    pod = payment_pod(cluster)
    served = [json.dumps(config_map), json.dumps(cluster.get(f"/api/v1/namespaces/{NS}/events")),
              cluster.pod_log(NS, pod, "server", tail_lines=50), cluster.pod_log(NS, pod, "istio-proxy", tail_lines=50),
              json.dumps(cluster.service_proxy("kiali", "istio-system", "kiali", 20001).get_json("/kiali/api/status"))]
    everything = "\n".join(served)
    assert [s for s in fake_secrets() if s not in everything] == []


def test_kubectl_style_paths_are_unchanged_for_other_scenarios(tmp_path: Path) -> None:
    """The Events resource is served in every scenario (discovery lists it), empty where nothing happened."""
    with SimCluster("healthy", workdir=tmp_path) as sim:
        cluster = connect(sim)
        names = {r["name"] for r in cluster.resources("v1")}
        assert "events" in names
        assert cluster.events(NS) == ([], False)
