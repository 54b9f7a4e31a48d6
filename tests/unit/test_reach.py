"""meshcheck.checks.reach: every way a URL reaches a Service, and every way it misses, on hand-built objects
shaped like the lab's cluster (kubeadm nodes at 192.168.88.200-202, add-ons patched to NodePort)."""

from __future__ import annotations

import pytest

from meshcheck.checks.reach import Network, example_urls, reach

TRACING = ("tracing", "jaeger-query", "zipkin")
NS = "istio-system"


def service(name, ns=NS, ports=((80, None),), kind="ClusterIP", lb=None, cluster_ip="10.10.8.235"):
    spec = {"type": kind, "clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
            "ports": [{"port": p, **({"nodePort": n} if n else {})} for p, n in ports]}
    status = {"loadBalancer": {"ingress": [lb]} if lb else {}}
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec, "status": status}


def node(name, ip):
    return {"metadata": {"name": name},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}]}}


NODES = [node("k8s-master", "192.168.88.200"), node("k8s-node1", "192.168.88.201"), node("k8s-node2", "192.168.88.202")]
LAB = Network(
    services=[
        service("tracing", ports=((80, 32455),), kind="NodePort"),
        service("zipkin", ports=((9411, None),), cluster_ip="10.10.116.195"),
        service("kiali", ports=((20001, 30016), (9090, 31578)), kind="NodePort", cluster_ip="10.7.102.44"),
        service("istio-ingressgateway", ports=((80, 32319), (443, 31776)), kind="LoadBalancer",
                lb={"ip": "192.168.88.210"}, cluster_ip="10.6.96.131"),
    ],
    nodes=NODES,
)


def vs(name, hosts, dest, gateways=("istio-system/tracing-gateway",), ns=NS):
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"hosts": list(hosts), "gateways": list(gateways),
                     "http": [{"route": [{"destination": {"host": dest, "port": {"number": 80}}}]}]}}


def http_route(name, hostnames, backend, ns=NS):
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"parentRefs": [{"name": "gw"}], "hostnames": list(hostnames),
                     "rules": [{"backendRefs": [{"name": backend, "port": 80}]}]}}


def ingress(name, host, backend, ns=NS, lb=None):
    rule = {"http": {"paths": [{"path": "/", "pathType": "Prefix",
                                "backend": {"service": {"name": backend, "port": {"number": 80}}}}]}}
    if host:
        rule["host"] = host
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"rules": [rule]},
            "status": {"loadBalancer": {"ingress": [lb]} if lb else {}}}


def with_(**kinds) -> Network:
    return Network(**{"services": LAB.services, "nodes": LAB.nodes, **kinds})


# --- the ways in ----------------------------------------------------------------------------------


@pytest.mark.parametrize("url,way", [
    ("http://tracing/zipkin", "by its cluster DNS name tracing, port 80"),
    ("http://tracing.istio-system/zipkin", "by its cluster DNS name tracing.istio-system, port 80"),
    ("tracing.istio-system.svc:80", "by its cluster DNS name tracing.istio-system.svc, port 80"),
    ("http://tracing.istio-system.svc.cluster.local/zipkin", "cluster DNS name tracing.istio-system.svc.cluster.local"),
    ("http://zipkin.istio-system:9411", "by its cluster DNS name zipkin.istio-system, port 9411"),
    ("http://10.10.8.235/zipkin", "by its ClusterIP 10.10.8.235, port 80"),
    ("http://192.168.88.200:32455/zipkin", "through NodePort 32455 of node k8s-master"),
    ("http://192.168.88.202:32455", "through NodePort 32455 of node k8s-node2"),
    ("http://k8s-node1:32455/zipkin", "through NodePort 32455 of node k8s-node1"),
])
def test_a_url_reaches_the_tracing_service(url, way):
    found = reach(url, TRACING, LAB, NS)
    assert found.reached, found.miss
    assert way in found.way


def test_https_without_a_port_means_443():
    network = Network(services=[service("tracing", ports=((443, None),))])
    assert reach("https://tracing.istio-system/jaeger", TRACING, network, NS).reached
    assert not reach("http://tracing.istio-system/jaeger", TRACING, network, NS).reached


def test_its_own_load_balancer_address():
    network = Network(services=[service("tracing", ports=((16686, None),), kind="LoadBalancer",
                                        lb={"hostname": "tracing.elb.example.com"})])
    found = reach("http://tracing.elb.example.com:16686/jaeger", TRACING, network, NS)
    assert found.service == "istio-system/tracing" and "LoadBalancer address" in found.way


@pytest.mark.parametrize("routes,url", [
    ({"virtual_services": [vs("tracing", ["tracing.example.com"], "tracing")]}, "http://tracing.example.com/zipkin"),
    ({"virtual_services": [vs("tracing", ["*.example.com"], "tracing.istio-system.svc.cluster.local")]},
     "https://tracing.example.com/zipkin"),
    ({"virtual_services": [vs("tracing", ["*"], "tracing")]}, "http://192.168.88.210/zipkin"),
    ({"http_routes": [http_route("tracing", ["tracing.example.com"], "tracing")]}, "http://tracing.example.com/"),
    ({"http_routes": [http_route("tracing", [], "tracing")]}, "http://192.168.88.210/"),
    ({"ingresses": [ingress("tracing", "tracing.example.com", "tracing")]}, "http://tracing.example.com/zipkin"),
    ({"ingresses": [ingress("tracing", None, "tracing", lb={"ip": "192.168.88.220"})]}, "http://192.168.88.220/"),
])
def test_a_host_routed_to_it(routes, url):
    found = reach(url, TRACING, with_(**routes), NS)
    assert found.service == "istio-system/tracing", found.miss
    assert found.evidence["route"].split()[0] in found.way


def test_a_gateway_api_gateway_address_counts_as_a_load_balancer_address():
    gateway = {"metadata": {"name": "gw", "namespace": NS}, "status": {"addresses": [{"value": "172.18.255.9"}]}}
    network = with_(http_routes=[http_route("tracing", [], "tracing")], gateways=[gateway])
    assert reach("http://172.18.255.9/", TRACING, network, NS).reached


# --- the ways to miss -----------------------------------------------------------------------------


@pytest.mark.parametrize("url,fragment", [
    ("http://192.168.88.200:32000/zipkin",
     "192.168.88.200 is node k8s-master's InternalIP, but no Service looked for has NodePort 32000 "
     "(Service istio-system/tracing has NodePort 32455; Service istio-system/zipkin is ClusterIP, without NodePorts)"),
    ("http://192.168.88.201:30016/", "NodePort 30016 belongs to Service istio-system/kiali"),
    ("http://tracing.istio-system:16686/jaeger",
     "is Service istio-system/tracing, which has no port 16686 (its ports: 80)"),
    ("http://kiali.istio-system:20001", "is Service istio-system/kiali, which is not the Service looked for"),
    ("http://10.7.102.44:20001", "is Service istio-system/kiali, which is not the Service looked for"),
    ("http://tracing.observability/jaeger", "names Service tracing in namespace observability, which does not exist "
                                            "(there is istio-system/tracing)"),
    ("http://jaeger.example.invalid:16686/jaeger",
     "jaeger.example.invalid is none of the ways into the cluster looked for: a cluster DNS name or ClusterIP of "
     "tracing, jaeger-query, zipkin; a node's address (192.168.88.200, k8s-master, 192.168.88.201, k8s-node1 and "
     "2 more)"),
    ("http://localhost:16686/jaeger", "localhost is none of the ways into the cluster"),
    ("http://192.168.88.210/zipkin", "is the LoadBalancer address of Service istio-system/istio-ingressgateway"),
    ("http://:80/jaeger", "names no host"),
    ("http://tracing:http/jaeger", "has no valid port"),
])
def test_a_url_that_misses_says_why(url, fragment):
    found = reach(url, TRACING, LAB, NS)
    assert not found.reached and not found.service
    assert fragment in found.miss


def test_a_short_name_resolves_only_in_the_clients_namespace():
    found = reach("http://tracing/jaeger", TRACING, LAB, "kiali")
    assert not found.reached
    assert "names Service tracing in namespace kiali, where a name without namespace resolves from" in found.miss


def test_a_node_port_on_a_cluster_without_node_ports():
    network = Network(services=[service("tracing")], nodes=NODES)
    found = reach("http://192.168.88.200:32455/", TRACING, network, NS)
    assert "Service istio-system/tracing is ClusterIP, without NodePorts" in found.miss


@pytest.mark.parametrize("routes,url,fragment", [
    ({"virtual_services": [vs("frontend-ingress", ["*"], "frontend", ns="online-boutique")]}, "http://192.168.88.210/",
     "VirtualService online-boutique/frontend-ingress routes it to online-boutique/frontend"),
    ({"virtual_services": [vs("tracing", ["tracing.example.com"], "tracing", gateways=["mesh"])]},
     "http://tracing.example.com/", "is none of the ways"),
    ({"virtual_services": [vs("tracing", ["*"], "tracing")]}, "http://tracing.example.com/", "is none of the ways"),
    ({"http_routes": [http_route("grafana", ["grafana.example.com"], "grafana")]}, "http://grafana.example.com/",
     "HTTPRoute istio-system/grafana routes it to istio-system/grafana"),
    ({"ingresses": [ingress("t", "tracing.example.com", "tracing-gone")]}, "http://tracing.example.com/",
     "Ingress istio-system/t routes it to istio-system/tracing-gone"),
])
def test_a_routed_host_that_leads_elsewhere(routes, url, fragment):
    found = reach(url, TRACING, with_(**routes), NS)
    assert not found.reached and fragment in found.miss


def test_example_urls_offer_the_ways_the_cluster_has():
    assert example_urls(TRACING, LAB, "/zipkin") == {"dns": "http://tracing.istio-system/zipkin",
                                                    "node_port": "http://192.168.88.200:32455/zipkin"}
    lb = Network(services=[service("zipkin", ports=((9411, None),), kind="LoadBalancer", lb={"ip": "1.2.3.4"})])
    assert example_urls(TRACING, lb) == {"dns": "http://zipkin.istio-system:9411", "load_balancer": "http://1.2.3.4:9411"}
    assert example_urls(TRACING, Network()) == {}
