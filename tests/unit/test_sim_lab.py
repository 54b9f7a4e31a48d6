"""The simulated lab cluster: kubeadm nodes with their own addresses, add-ons patched to NodePort, the
boutique from a mirror registry, and Kiali's ConfigMap as the lab's report edited it."""

from __future__ import annotations

import json

import yaml

from meshcheck.sim import scenario
from meshcheck.sim.apiserver import ApiServer, resources_for
from meshcheck.sim.build import build_world
from meshcheck.sim.protocol import SimRequest

LAB = scenario.load("lab")
WORLD = build_world(LAB, "127.0.0.9", 80)


def named(plural: str, name: str, namespace: str | None = None) -> dict:
    return next(o for o in WORLD.of_kind(plural, namespace) if o["metadata"]["name"] == name)


def test_nodes_carry_the_labs_addresses():
    addresses = {n["metadata"]["name"]: n["status"]["addresses"] for n in WORLD.of_kind("nodes")}
    assert addresses["k8s-master"] == [{"type": "InternalIP", "address": "192.168.88.200"},
                                       {"type": "Hostname", "address": "k8s-master"}]
    assert addresses["k8s-node2"][0]["address"] == "192.168.88.202"
    assert named("nodes", "k8s-node1")["status"]["nodeInfo"]["kubeletVersion"] == "v1.23.5"


def test_add_ons_are_patched_to_the_labs_node_ports():
    expected = {"kiali": (20001, 30016), "tracing": (80, 32455), "prometheus": (9090, 30403), "grafana": (3000, 32644)}
    for name, (port, node_port) in expected.items():
        service = named("services", name, "istio-system")
        assert service["spec"]["type"] == "NodePort"
        assert [(p["port"], p["nodePort"]) for p in service["spec"]["ports"]] == [(port, node_port)]
    assert named("services", "zipkin", "istio-system")["spec"]["type"] == "ClusterIP"
    assert named("services", "tracing", "istio-system")["spec"]["ports"][0]["targetPort"] == 9411


def test_the_jaeger_backend_serves_grpc_query_on_16685_where_kiali_looks_by_default():
    healthy = build_world(scenario.load("healthy"), "127.0.0.9", 80)
    tracing = next(s for s in healthy.of_kind("services", "istio-system") if s["metadata"]["name"] == "tracing")
    assert [(p["name"], p["port"], p["targetPort"]) for p in tracing["spec"]["ports"]] == [
        ("http-query", 80, 16686), ("grpc-query", 16685, 16685)]


def test_the_boutique_comes_from_the_mirror_with_v0_4_0_names():
    frontend = named("deployments", "frontend", "online-boutique")
    image = frontend["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "gcr.lank8s.cn/google-samples/microservices-demo/frontend:v0.4.0"
    assert named("services", "redis-cart", "online-boutique")["spec"]["ports"][0]["name"] == "tls-redis"


def test_kialis_config_map_is_the_labs_edit_of_istio_1_17_2s():
    config_map = named("configmaps", "kiali", "istio-system")
    config = yaml.safe_load(config_map["data"]["config.yaml"])
    assert config["external_services"]["tracing"] == {"url": "http://192.168.88.200:32455/zipkin",
                                                      "in_cluster_url": "http://tracing/zipkin"}
    assert config["server"]["metrics_port"] == 9090 and config["deployment"]["accessible_namespaces"] == ["**"]
    kiali = named("deployments", "kiali", "istio-system")
    assert kiali["spec"]["template"]["spec"]["containers"][0]["image"] == "quay.io/kiali/kiali:v1.63.1"


def test_ingresses_are_served_as_a_built_in_kind():
    ingress = {"metadata": {"name": "tracing", "namespace": "istio-system"}, "spec": {"rules": []}}
    api = ApiServer({"ingresses": [ingress]}, resources_for(LAB), git_version="v1.23.5")
    answer = api.handle(SimRequest("GET", "/apis/networking.k8s.io/v1/ingresses"))
    document = json.loads(answer.body)
    assert answer.status == 200 and document["kind"] == "IngressList"
    assert document["items"] == [ingress]      # built-in kinds' list items carry no kind/apiVersion
    groups = json.loads(api.handle(SimRequest("GET", "/apis")).body)["groups"]
    assert {"name": "networking.k8s.io", "versions": [{"groupVersion": "networking.k8s.io/v1", "version": "v1"}],
            "preferredVersion": {"groupVersion": "networking.k8s.io/v1", "version": "v1"}} in groups
    assert "kiali.io" not in {g["name"] for g in groups}    # Istio's add-on installs no Kiali operator
