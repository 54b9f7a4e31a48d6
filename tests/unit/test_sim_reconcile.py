"""What the simulated controllers make of writes, a moment later as the real ones would: pods for
Deployments and DaemonSets and their status, rollouts of a changed template, Istio's sidecar only where
the injector applies, MetalLB's addresses (and its webhook refusing pools until its controller runs), a
loopback address serving its Service, the service proxy reaching only ready pods, Grafana provisioned from
its ConfigMaps."""

from __future__ import annotations

import copy
import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from meshcheck.sim.server import SimCluster
from tests import simstack
from tests.simstack import Applier, container, deployment, namespace, service
from tests.unit.simhttp import start_sim

Obj = dict[str, Any]
READY_AFTER = 0.25


@pytest.fixture
def sim(tmp_path: Path, request: pytest.FixtureRequest) -> SimCluster:
    scenario = tmp_path / "quick.yaml"
    scenario.write_text(f"extends: bare\nreconcile: {{ready_after: {READY_AFTER}}}\n")
    return start_sim(str(scenario), tmp_path, request)


@pytest.fixture
def api(sim: SimCluster) -> Applier:
    assert sim.kubeconfig is not None
    return Applier(sim.kubeconfig)


def pods(api: Applier, ns: str) -> list[Obj]:
    return api.get(f"/api/v1/namespaces/{ns}/pods")[1]["items"]


def web(ns: str, image: str = "nginx:1.25", replicas: int = 2) -> Obj:
    return deployment("web", ns, {"app": "web"}, [container("web", image, 8080)], replicas=replicas)


def test_a_deployment_gets_pods_that_are_ready_a_moment_later(api: Applier):
    api.apply(namespace("shop"))
    api.apply(web("shop"))
    _, rolling = api.get("/apis/apps/v1/namespaces/shop/deployments/web")
    conditions = {c["type"]: (c["status"], c["reason"]) for c in rolling["status"]["conditions"]}
    assert conditions == {"Available": ("False", "MinimumReplicasUnavailable"),
                          "Progressing": ("True", "NewReplicaSetCreated")}
    starting = pods(api, "shop")
    assert [p["status"]["phase"] for p in starting] == ["Pending", "Pending"]
    template_hash = starting[0]["metadata"]["labels"]["pod-template-hash"]
    assert all(p["metadata"]["name"].startswith(f"web-{template_hash}-") for p in starting)
    assert starting[0]["metadata"]["ownerReferences"][0]["name"] == f"web-{template_hash}"
    assert {p["spec"]["nodeName"] for p in starting} == {"meshcheck-worker"}  # the control plane is tainted
    api.wait("web available", lambda: api.available("shop", "web"), timeout=5)
    _, ready = api.get("/apis/apps/v1/namespaces/shop/deployments/web")
    assert {k: ready["status"][k] for k in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
                                             "observedGeneration")} == {
        "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2, "observedGeneration": 1}
    assert {c["type"]: c["reason"] for c in ready["status"]["conditions"]} == {
        "Available": "MinimumReplicasAvailable", "Progressing": "NewReplicaSetAvailable"}
    running = pods(api, "shop")
    assert [p["status"]["phase"] for p in running] == ["Running", "Running"]
    for pod in running:
        api.api._ApiClient__deserialize(copy.deepcopy(pod), "V1Pod")
    api.api._ApiClient__deserialize(ready, "V1Deployment")


def test_a_changed_template_rolls_out_new_pods(api: Applier):
    api.apply(namespace("roll"))
    api.apply(web("roll", replicas=1))
    api.wait("first rollout", lambda: api.available("roll", "web"), timeout=5)
    old = {p["metadata"]["name"] for p in pods(api, "roll")}
    _, changed = api.apply(web("roll", image="nginx:1.27", replicas=1))
    assert changed["metadata"]["generation"] == 2
    during = pods(api, "roll")
    assert len(during) == 2 and {p["metadata"]["name"] for p in during} > old  # the old pod serves until then
    _, rolling = api.get("/apis/apps/v1/namespaces/roll/deployments/web")
    assert next(c for c in rolling["status"]["conditions"] if c["type"] == "Progressing")["reason"] != (
        "NewReplicaSetAvailable")

    def replaced() -> bool:
        now = pods(api, "roll")
        return len(now) == 1 and now[0]["metadata"]["name"] not in old and now[0]["status"]["phase"] == "Running"

    api.wait("the new pod alone", replaced, timeout=5)
    assert pods(api, "roll")[0]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert api.available("roll", "web")


def test_deleting_a_deployment_deletes_its_pods(api: Applier):
    api.apply(namespace("gone"))
    api.apply(web("gone"))
    assert len(pods(api, "gone")) == 2
    assert api.call("DELETE", "/apis/apps/v1/namespaces/gone/deployments/web")[0] == 200
    assert pods(api, "gone") == []


def test_a_daemon_set_runs_a_pod_on_every_node_it_tolerates(api: Applier):
    api.apply(next(o for o in simstack.metallb() if o["kind"] == "Namespace"))
    daemon = next(o for o in simstack.metallb() if o["kind"] == "DaemonSet")
    api.apply(daemon)
    api.wait("speakers", lambda: api.get("/apis/apps/v1/namespaces/metallb-system/daemonsets/speaker")[1]["status"]
             .get("numberReady") == 2, timeout=5)
    _, status = api.get("/apis/apps/v1/namespaces/metallb-system/daemonsets/speaker")
    assert {k: status["status"][k] for k in ("desiredNumberScheduled", "currentNumberScheduled", "numberReady",
                                             "numberAvailable", "updatedNumberScheduled")} == dict.fromkeys(
        ("desiredNumberScheduled", "currentNumberScheduled", "numberReady", "numberAvailable",
         "updatedNumberScheduled"), 2)
    api.api._ApiClient__deserialize(status, "V1DaemonSet")
    untolerated = copy.deepcopy(daemon)
    untolerated["metadata"]["name"] = "worker-only"
    untolerated["spec"]["template"]["spec"].pop("tolerations")
    api.apply(untolerated)
    placed = [p["spec"]["nodeName"] for p in pods(api, "metallb-system") if p["metadata"]["name"].startswith("worker")]
    assert placed == ["meshcheck-worker"]


def containers(pod: Obj) -> list[str]:
    spec = pod["spec"]
    return [c["name"] for c in [*(spec.get("initContainers") or []), *spec["containers"]]]


def test_the_sidecar_is_injected_only_by_a_running_injector_into_labelled_namespaces(api: Applier):
    api.apply(namespace("meshed", {"istio-injection": "enabled"}))
    api.apply(namespace("plain"))
    api.apply(web("meshed", replicas=1))
    assert containers(pods(api, "meshed")[0]) == ["web"]  # no webhook yet: a pod like any other
    istio = simstack.istio()
    api.apply_all(istio)
    api.apply(deployment("late", "meshed", {"app": "late"}, [container("late", "nginx:1.25")]))
    assert [p for p in pods(api, "meshed") if p["metadata"]["labels"]["app"] == "late"] == []  # injector down
    api.wait("istiod", lambda: api.available("istio-system", "istiod"), timeout=5)
    api.get("/version")
    api.wait("late's pod", lambda: any(p["metadata"]["labels"]["app"] == "late" for p in pods(api, "meshed")), 5)
    late = next(p for p in pods(api, "meshed") if p["metadata"]["labels"]["app"] == "late")
    assert containers(late) == ["istio-init", "late", "istio-proxy"]
    proxy = late["spec"]["containers"][-1]
    assert proxy["image"] == f"docker.io/istio/proxyv2:{simstack.ISTIO_VERSION}"
    assert late["metadata"]["labels"]["security.istio.io/tlsMode"] == "istio"
    assert late["metadata"]["annotations"]["prometheus.io/port"] == "15020"
    assert containers(next(p for p in pods(api, "meshed") if p["metadata"]["labels"]["app"] == "web")) == ["web"]
    api.apply(web("plain", replicas=1))
    assert containers(pods(api, "plain")[0]) == ["web"]  # not labelled: no sidecar
    restarted = web("meshed", replicas=1)
    restarted["spec"]["template"]["metadata"]["annotations"] = {"kubectl.kubernetes.io/restartedAt": "now"}
    api.apply(restarted)  # a rollout restart: the new pod is created with the injector running
    api.wait("web restarted", lambda: [containers(p) for p in pods(api, "meshed") if p["metadata"]["labels"]["app"]
                                       == "web"] == [["istio-init", "web", "istio-proxy"]], timeout=5)


def test_load_balancers_wait_for_metallb_and_an_advertised_pool(api: Applier):
    base = f"127.{random.randint(1, 254)}.{random.randint(0, 254)}"
    api.apply(namespace("edge"))
    lb = service("edge", "edge", {"app": "edge"}, [{"name": "http", "port": 18080}], kind="LoadBalancer")
    api.apply(lb)

    def address(name: str = "edge") -> list[Obj]:
        return api.get(f"/api/v1/namespaces/edge/services/{name}")[1]["status"]["loadBalancer"].get("ingress", [])

    assert address() == []  # no load balancer: pending
    api.apply_all(simstack.metallb())
    pool, advertisement = simstack.metallb_pool(f"{base}.10-{base}.20")
    code, refused = api.apply(pool)  # MetalLB's webhook is its controller, still starting
    assert (code, refused["reason"]) == (500, "InternalError")
    assert refused["message"].startswith('Internal error occurred: failed calling webhook '
                                         '"ipaddresspoolvalidationwebhook.metallb.io": failed to call webhook: Post '
                                         '"https://metallb-webhook-service.metallb-system.svc:443/validate-metallb-io'
                                         '-v1beta1-ipaddresspool?timeout=10s": dial tcp ')
    assert refused["message"].endswith(":443: connect: connection refused")
    api.wait("MetalLB's webhook", lambda: api.apply(pool)[0] in (200, 201), timeout=5)
    assert address() == []  # a pool nobody announces hands out nothing
    assert api.apply(advertisement)[0] == 201
    assert address() == [{"ip": f"{base}.10", "ipMode": "VIP"}]
    _, assigned = api.get("/api/v1/namespaces/edge/services/edge")
    assert assigned["metadata"]["annotations"]["metallb.universe.tf/ip-allocated-from-pool"] == "default-pool"
    api.apply({**lb, "metadata": {**lb["metadata"], "name": "second"}})
    assert address("second") == [{"ip": f"{base}.11", "ipMode": "VIP"}]


def test_a_loopback_address_serves_the_storefront(api: Applier):
    base = f"127.{random.randint(1, 254)}.{random.randint(0, 254)}"
    api.apply_all(simstack.metallb())
    api.wait("MetalLB", lambda: all(api.apply(o)[0] in (200, 201) for o in simstack.metallb_pool(f"{base}.2/31")))
    api.apply(namespace("store"))
    api.apply(service("frontend-external", "store", {"app": "frontend"}, [{"name": "http", "port": 18080,
                                                                          "targetPort": 8080}], kind="LoadBalancer"))
    ip = api.get("/api/v1/namespaces/store/services/frontend-external")[1]["status"]["loadBalancer"]["ingress"][0]["ip"]
    assert ip == f"{base}.2"
    url = f"http://{ip}:18080/"
    assert requests.get(url, timeout=5).status_code == 503  # no frontend pod ready behind it yet
    api.apply(deployment("frontend", "store", {"app": "frontend"}, [container("server", "frontend:v0.10.1", 8080)]))
    api.wait("frontend", lambda: api.available("store", "frontend"), timeout=5)
    page = requests.get(url, timeout=5)
    assert page.status_code == 200 and "Online Boutique" in page.text
    assert api.call("DELETE", "/api/v1/namespaces/store/services/frontend-external")[0] == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)


def test_the_service_proxy_reaches_only_ready_pods(api: Applier, sim: SimCluster):
    api.apply(namespace("istio-system"))
    prometheus = [o for o in simstack.addons() if o["metadata"]["name"] == "prometheus"]
    api.apply(next(o for o in prometheus if o["kind"] == "Service"))
    path = "/api/v1/namespaces/istio-system/services/prometheus:9090/proxy/-/ready"
    code, body = api.call("GET", path)
    assert (code, body["message"]) == (503, 'no endpoints available for service "prometheus"')
    api.apply(next(o for o in prometheus if o["kind"] == "Deployment"))
    api.wait("prometheus", lambda: api.available("istio-system", "prometheus"), timeout=5)
    assert api.call("GET", path) == (200, b"Prometheus Server is Ready.\n")


def test_grafana_answers_with_the_dashboards_of_its_config_maps(api: Applier):
    api.apply(namespace("istio-system"))
    addons = [o for o in simstack.addons() if "grafana" in o["metadata"]["name"] or o["metadata"]["name"] in (
        "prometheus",)]
    api.apply_all(addons)
    api.wait("grafana", lambda: api.available("istio-system", "grafana") and api.available("istio-system",
                                                                                           "prometheus"), timeout=5)
    proxy = "/api/v1/namespaces/istio-system/services/grafana:3000/proxy"
    _, hits = api.call("GET", f"{proxy}/api/search", query=[("type", "dash-db")])
    titles = {h["title"] for h in hits}
    assert titles == {t for files in simstack.GRAFANA_DASHBOARDS.values() for t in files.values()}
    assert {h["folderTitle"] for h in hits} == {"istio"}
    _, sources = api.call("GET", f"{proxy}/api/datasources")
    assert [(s["name"], s["type"], s["url"]) for s in sources] == [("Prometheus", "prometheus",
                                                                    "http://prometheus:9090")]
    code, health = api.call("GET", f"{proxy}/api/datasources/uid/{sources[0]['uid']}/health")
    assert code == 200 and health["status"] == "OK"
    fewer = next(o for o in addons if o["metadata"]["name"] == "istio-services-grafana-dashboards")
    fewer = {**fewer, "data": {"istio-mesh-dashboard.json": json.dumps({"title": "Istio Mesh Dashboard"})}}
    api.call("PUT", "/api/v1/namespaces/istio-system/configmaps/istio-services-grafana-dashboards", fewer)
    _, hits = api.call("GET", f"{proxy}/api/search", query=[("type", "dash-db")])
    assert "Istio Workload Dashboard" not in {h["title"] for h in hits}
    assert api.call("DELETE", "/apis/apps/v1/namespaces/istio-system/deployments/prometheus")[0] == 200
    time.sleep(0.05)
    code, health = api.call("GET", f"{proxy}/api/datasources/uid/{sources[0]['uid']}/health")
    assert code == 400 and "connect: connection refused" in health["message"]


def test_metallb_before_0_13_takes_its_pool_from_the_config_map(api: Applier):
    base = f"127.{random.randint(1, 254)}.{random.randint(0, 254)}"
    legacy = [o for o in simstack.metallb() if o["kind"] in ("Namespace", "Deployment", "ServiceAccount")]
    api.apply_all(legacy)
    api.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "config", "namespace": "metallb-system"},
               "data": {"config": f"address-pools:\n- name: default\n  protocol: layer2\n  addresses:\n"
                                  f"  - {base}.5-{base}.9\n"}})
    api.wait("MetalLB's controller", lambda: api.available("metallb-system", "controller"), timeout=5)
    api.apply(namespace("legacy"))
    api.apply(service("lb", "legacy", {"app": "lb"}, [{"name": "http", "port": 18081}], kind="LoadBalancer"))
    _, found = api.get("/api/v1/namespaces/legacy/services/lb")
    assert found["status"]["loadBalancer"]["ingress"] == [{"ip": f"{base}.5", "ipMode": "VIP"}]


def test_istiod_with_native_sidecars_injects_an_init_container_that_keeps_running(api: Applier):
    istio = copy.deepcopy(simstack.istio())
    istiod = next(o for o in istio if o["kind"] == "Deployment" and o["metadata"]["name"] == "istiod")
    istiod["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "ENABLE_NATIVE_SIDECARS", "value": "true"}]
    api.apply_all(istio)
    api.wait("istiod", lambda: api.available("istio-system", "istiod"), timeout=5)
    api.apply(namespace("native", {"istio-injection": "enabled"}))
    api.apply(web("native", replicas=1))
    [pod] = pods(api, "native")
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["istio-init", "istio-proxy"]
    assert pod["spec"]["initContainers"][1]["restartPolicy"] == "Always"
    assert [c["name"] for c in pod["spec"]["containers"]] == ["web"]
    api.wait("web", lambda: api.available("native", "web"), timeout=5)
    [pod] = pods(api, "native")
    assert {s["name"]: s["ready"] for s in pod["status"]["initContainerStatuses"]}["istio-proxy"] is True
