"""The simulated API server answers what kubectl asks for: Tables with kube-apiserver's columns and cells,
the representations an Accept header negotiates (406 when none is served), and aggregated discovery."""

from __future__ import annotations

import json
from typing import Any

import pytest

from meshcheck.sim import scenario
from meshcheck.sim.apiserver import ApiServer, resources_for
from meshcheck.sim.build import build_world
from meshcheck.sim.printers import human_duration
from meshcheck.sim.protocol import SimRequest

TABLE = (  # what kubectl get sends
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)
AGGREGATED = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
)


def api_for(name: str = "healthy", **changes: Any) -> ApiServer:
    model = scenario.merge(scenario.load(name), changes)
    world = build_world(model, "127.1.2.3", 80)
    return ApiServer(world.objects, resources_for(model), git_version=model["kubernetes_version"])


@pytest.fixture(scope="module")
def api() -> ApiServer:
    return api_for()


def get(api: ApiServer, path: str, accept: str = TABLE, **query: str) -> tuple[int, dict[str, str], Any]:
    response = api.handle(SimRequest("GET", path, {k: [v] for k, v in query.items()}, {"accept": accept}))
    body = json.loads(response.body) if response.body.startswith(b"{") else response.body
    return response.status, response.headers, body


def columns(table: dict) -> list[str]:
    return [c["name"] for c in table["columnDefinitions"]]


def rows(table: dict) -> dict[str, list]:
    return {row["cells"][0]: row["cells"] for row in table["rows"]}


# --- Tables ---------------------------------------------------------------------------------------------


def test_nodes_print_as_kube_apiserver_prints_them(api: ApiServer):
    code, _, table = get(api, "/api/v1/nodes")
    assert code == 200 and table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert columns(table) == ["Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP",
                              "OS-Image", "Kernel-Version", "Container-Runtime"]
    assert [c["priority"] for c in table["columnDefinitions"]] == [0] * 5 + [1] * 5
    assert set(table["columnDefinitions"][0]) == {"name", "type", "format", "description", "priority"}
    assert table["columnDefinitions"][0]["format"] == "name"
    control = rows(table)["meshcheck-control-plane"]
    assert control[1:3] == ["Ready", "control-plane"] and control[4] == "v1.29.2" and control[3] == "3h"
    assert control[5:7] == ["172.18.0.2", "<none>"] and control[9] == "containerd://1.7.13"
    assert rows(table)["meshcheck-worker"][2] == "<none>"


def test_a_node_not_ready_or_cordoned():
    table = get(api_for("node-not-ready"), "/api/v1/nodes")[2]
    assert "NotReady" in [cells[1] for cells in rows(table).values()]


def test_each_row_carries_partial_object_metadata_by_default(api: ApiServer):
    table = get(api, "/api/v1/namespaces/online-boutique/pods")[2]
    row = table["rows"][0]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["apiVersion"] == "meta.k8s.io/v1"
    assert row["object"]["metadata"]["namespace"] == "online-boutique"
    assert set(row["object"]) == {"kind", "apiVersion", "metadata"}


def test_include_object_object_none_and_a_bad_value(api: ApiServer):
    whole = get(api, "/api/v1/nodes", includeObject="Object")[2]["rows"][0]["object"]
    assert whole["kind"] == "Node" and whole["apiVersion"] == "v1" and "status" in whole
    assert get(api, "/api/v1/nodes", includeObject="None")[2]["rows"][0]["object"] is None
    code, _, body = get(api, "/api/v1/nodes", includeObject="Everything")
    assert code == 400 and body["reason"] == "BadRequest" and "includeObject" in body["message"]


def test_boutique_pods_are_2_of_2_running(api: ApiServer):
    table = get(api, "/api/v1/namespaces/online-boutique/pods")[2]
    assert columns(table)[:5] == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert columns(table)[5:] == ["IP", "Node", "Nominated Node", "Readiness Gates"]
    assert {tuple(cells[1:4]) for cells in rows(table).values()} == {("2/2", "Running", "0")}
    assert all(cells[5].startswith("10.244.") and cells[8] == "<none>" for cells in rows(table).values())


def test_pod_cells_follow_the_containers():
    not_ready = get(api_for("proxy-not-ready"), "/api/v1/namespaces/online-boutique/pods")[2]
    assert [c[1] for n, c in rows(not_ready).items() if n.startswith("cartservice")] == ["1/2"]
    restarted = get(api_for("restarts"), "/api/v1/namespaces/online-boutique/pods")[2]
    [cells] = [c for n, c in rows(restarted).items() if n.startswith("cartservice")]
    assert cells[3].startswith("14 (") and cells[3].endswith(" ago)")
    crashing = get(api_for("coredns-crashing"), "/api/v1/namespaces/kube-system/pods")[2]
    assert [c[2] for n, c in rows(crashing).items() if n.startswith("coredns")] == ["CrashLoopBackOff"]


def test_native_sidecars_count_as_containers():
    table = get(api_for(istio={"native_sidecars": True}), "/api/v1/namespaces/online-boutique/pods")[2]
    assert {cells[1] for cells in rows(table).values()} == {"2/2"}


def test_services_show_the_gateway_address_and_ports(api: ApiServer):
    table = get(api, "/api/v1/namespaces/istio-system/services")[2]
    assert columns(table) == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]
    gateway = rows(table)["istio-ingressgateway"]
    assert gateway[1] == "LoadBalancer" and gateway[3] == "127.1.2.3"
    assert "80:" in gateway[4] and gateway[4].endswith("/TCP")
    assert rows(table)["kiali"][3] == "<none>" and rows(table)["kiali"][4] == "20001/TCP"
    pending = get(api_for("external-ip-pending"), "/api/v1/namespaces/istio-system/services")[2]
    assert rows(pending)["istio-ingressgateway"][3] == "<pending>"


def test_deployments_and_namespaces(api: ApiServer):
    deployments = get(api, "/apis/apps/v1/namespaces/online-boutique/deployments")[2]
    assert columns(deployments)[:5] == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    assert rows(deployments)["frontend"][1:4] == ["1/1", 1, 1]
    assert rows(deployments)["frontend"][7] == "app=frontend"
    down = get(api_for("paymentservice-down"), "/apis/apps/v1/namespaces/online-boutique/deployments")[2]
    assert rows(down)["paymentservice"][1] == "0/1"
    namespaces = get(api, "/api/v1/namespaces")[2]
    assert columns(namespaces) == ["Name", "Status", "Age"] and rows(namespaces)["istio-system"][1] == "Active"


def test_one_object_is_a_table_of_one_row(api: ApiServer):
    code, _, table = get(api, "/api/v1/namespaces/istio-system")
    assert code == 200 and table["kind"] == "Table" and len(table["rows"]) == 1
    assert table["metadata"]["resourceVersion"] == table["rows"][0]["object"]["metadata"]["resourceVersion"]


def test_kinds_without_a_printer_get_the_default_table(api: ApiServer):
    roles = get(api, "/apis/rbac.authorization.k8s.io/v1/clusterroles")[2]
    assert columns(roles) == ["Name", "Created At"] and roles["columnDefinitions"][1]["type"] == "date"
    assert roles["rows"][0]["cells"][1].endswith("Z")
    services = get(api, "/apis/networking.istio.io/v1/virtualservices")[2]  # a CRD without printer columns
    assert columns(services) == ["Name", "Age"] and services["columnDefinitions"][1]["type"] == "date"


def test_a_v1beta1_table_when_only_that_is_asked_for(api: ApiServer):
    table = get(api, "/api/v1/nodes", "application/json;as=Table;v=v1beta1;g=meta.k8s.io")[2]
    assert table["apiVersion"] == "meta.k8s.io/v1beta1"
    assert table["rows"][0]["object"]["apiVersion"] == "meta.k8s.io/v1beta1"


@pytest.mark.parametrize(("seconds", "text"), [
    (-5, "<invalid>"), (-1, "0s"), (59, "59s"), (119, "119s"), (150, "2m30s"), (600, "10m"),
    (3 * 3600, "3h"), (3 * 3600 + 300, "3h5m"), (30 * 3600, "30h"), (3 * 86400 + 7200, "3d2h"),
    (40 * 86400, "40d"), (3 * 365 * 86400, "3y"), (3 * 365 * 86400 + 86400, "3y1d"), (10 * 365 * 86400, "10y"),
])
def test_ages_read_as_kubectl_shows_them(seconds: int, text: str):
    assert human_duration(seconds) == text


# --- negotiation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("accept", ["application/vnd.kubernetes.protobuf", "application/yaml",
                                    "application/json;as=Widget;v=v1;g=meta.k8s.io"])
def test_nothing_acceptable_is_406(api: ApiServer, accept: str):
    code, _, body = get(api, "/api/v1/pods", accept)
    assert code == 406 and body["kind"] == "Status" and body["reason"] == "NotAcceptable"


def test_an_unserved_clause_falls_back_to_the_next(api: ApiServer):
    code, _, body = get(api, "/api/v1/nodes", "application/vnd.kubernetes.protobuf,application/json")
    assert code == 200 and body["kind"] == "NodeList"
    assert get(api, "/api/v1/nodes", "*/*")[2]["kind"] == "NodeList"


def test_partial_metadata_of_the_wrong_shape_is_406(api: ApiServer):
    single = "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"
    code, _, body = get(api, "/api/v1/nodes", single)
    assert code == 406 and "is a list" in body["message"]
    code, _, body = get(api, "/api/v1/nodes/meshcheck-worker", single)
    assert code == 200 and body["kind"] == "PartialObjectMetadata"


# --- discovery ----------------------------------------------------------------------------------------------


def test_aggregated_discovery_for_kubectl(api: ApiServer):
    code, headers, body = get(api, "/apis", AGGREGATED)  # a 1.29 server: v2beta1 only
    assert code == 200 and body["kind"] == "APIGroupDiscoveryList"
    assert body["apiVersion"] == "apidiscovery.k8s.io/v2beta1"
    assert headers["Content-Type"] == "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
    apps = next(g for g in body["items"] if g["metadata"].get("name") == "apps")
    [deployments] = [r for v in apps["versions"] for r in v["resources"] if r["resource"] == "deployments"]
    assert deployments["scope"] == "Namespaced" and deployments["shortNames"] == ["deploy"]
    assert deployments["responseKind"]["kind"] == "Deployment" and "all" in deployments["categories"]
    istio = next(g for g in body["items"] if g["metadata"].get("name") == "networking.istio.io")
    assert [v["version"] for v in istio["versions"]] == ["v1", "v1beta1", "v1alpha3"]
    _, _, core = get(api, "/api", AGGREGATED)
    [group] = core["items"]
    assert "name" not in group["metadata"]
    pods = next(r for r in group["versions"][0]["resources"] if r["resource"] == "pods")
    assert pods["singularResource"] == "pod" and pods["responseKind"] == {"group": "", "version": "", "kind": "Pod"}


def test_aggregated_discovery_versions_follow_the_kubernetes_version():
    newer = api_for(kubernetes_version="v1.30.1")
    assert get(newer, "/apis", AGGREGATED)[2]["apiVersion"] == "apidiscovery.k8s.io/v2"
    older = api_for(kubernetes_version="v1.26.3")
    assert get(older, "/apis", AGGREGATED)[2]["kind"] == "APIGroupList"
    only_v2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    assert get(api_for(), "/apis", only_v2)[0] == 406


def test_plain_json_still_gets_the_legacy_documents(api: ApiServer):
    assert get(api, "/apis", "application/json")[2]["kind"] == "APIGroupList"
    assert get(api, "/api", "application/json, */*")[2]["kind"] == "APIVersions"
    resources = get(api, "/api/v1", "application/json")[2]["resources"]
    assert next(r for r in resources if r["name"] == "pods")["categories"] == ["all"]
