"""Writes to a started ``bare`` cluster through the official client's ApiClient.call_api, answered as
kube-apiserver answers them: server-side apply (idempotent, merging, bumping resourceVersion and
generation only on change), create and 409, delete and 404, the Status errors of a bad request, a
namespace taking its objects along, CRDs making their kinds served; and the read-only scenarios still
refusing every write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from meshcheck.sim.server import SimCluster
from tests.simstack import Applier, crd, namespace
from tests.unit.simhttp import start_sim

Obj = dict[str, Any]
MERGE = "application/merge-patch+json"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> SimCluster:
    return start_sim("bare", tmp_path_factory.mktemp("bare"), request)


@pytest.fixture(scope="module")
def api(sim: SimCluster) -> Applier:
    assert sim.kubeconfig is not None
    return Applier(sim.kubeconfig)


def config_map(name: str, ns: str, data: dict[str, str]) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": data}


def test_the_bare_cluster_is_a_fresh_kind_cluster(api: Applier):
    _, nodes = api.get("/api/v1/nodes")
    assert [n["metadata"]["name"] for n in nodes["items"]] == ["meshcheck-control-plane", "meshcheck-worker"]
    _, namespaces = api.get("/api/v1/namespaces")
    assert {n["metadata"]["name"] for n in namespaces["items"]} == {
        "default", "kube-system", "kube-public", "kube-node-lease", "local-path-storage"}
    _, pods = api.get("/api/v1/namespaces/kube-system/pods")
    names = {p["metadata"]["name"].rsplit("-", 1)[0] for p in pods["items"]}
    assert {"etcd-meshcheck-control", "kube-apiserver-meshcheck-control", "kube-proxy", "kindnet"} <= names
    _, roles = api.get("/apis/rbac.authorization.k8s.io/v1/clusterroles")
    assert {"cluster-admin", "admin", "edit", "view"} <= {r["metadata"]["name"] for r in roles["items"]}
    assert api.get("/apis/apps/v1/namespaces/kubernetes-dashboard/deployments")[1]["items"] == []
    _, deployments = api.get("/apis/apps/v1/deployments")
    assert {d["metadata"]["name"] for d in deployments["items"]} == {"coredns", "local-path-provisioner"}
    _, groups = api.get("/apis")
    assert not {"networking.istio.io", "metallb.io", "gateway.networking.k8s.io"} & {g["name"] for g in
                                                                                     groups["groups"]}


def test_apply_creates_then_changes_nothing(api: Applier):
    assert api.apply(namespace("apply-idem"))[0] == 201
    cm = config_map("settings", "apply-idem", {"a": "1"})
    code, created = api.apply(cm)
    assert code == 201
    entry = created["metadata"]["managedFields"][0]
    assert (entry["manager"], entry["operation"], entry["fieldsV1"]) == (
        "meshcheck-deploy", "Apply", {"f:data": {"f:a": {}}})
    code, again = api.apply(cm)
    assert code == 200 and again == created  # same resourceVersion, same managedFields time: nothing written
    assert api.get("/api/v1/namespaces/apply-idem/configmaps/settings")[1] == created


def test_apply_merges_maps_replaces_lists_and_bumps_versions_on_change(api: Applier):
    api.apply(namespace("apply-merge"))
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "web", "namespace": "apply-merge", "labels": {"app": "web"}},
                  "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}},
                                        "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}}
    _, first = api.apply(deployment)
    assert first["metadata"]["generation"] == 1
    assert first["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": "25%"}  # defaulted
    _, settled = api.get("/apis/apps/v1/namespaces/apply-merge/deployments/web")
    change = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": "web", "namespace": "apply-merge", "labels": {"tier": "front"}},
              "spec": {"template": {"metadata": {"labels": {"app": "web"}},
                                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}
    code, changed = api.apply(change, manager="other")
    assert code == 200
    assert changed["metadata"]["labels"] == {"app": "web", "tier": "front"}  # maps merge
    assert [c["image"] for c in changed["spec"]["template"]["spec"]["containers"]] == ["nginx:1.27"]
    assert changed["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert changed["metadata"]["generation"] == 2
    assert int(changed["metadata"]["resourceVersion"]) > int(settled["metadata"]["resourceVersion"])
    managers = {(m["manager"], m["operation"]) for m in changed["metadata"]["managedFields"]}
    assert {("meshcheck-deploy", "Apply"), ("other", "Apply")} <= managers
    _, labelled = api.apply({**change, "metadata": {**change["metadata"], "labels": {"tier": "back"}}},
                            manager="other")
    assert labelled["metadata"]["generation"] == 2  # metadata alone is no new generation
    assert int(labelled["metadata"]["resourceVersion"]) > int(changed["metadata"]["resourceVersion"])


def test_apply_refusals_say_what_the_api_says(api: Applier):
    api.apply(namespace("apply-bad"))
    cm = yaml.safe_dump(config_map("x", "apply-bad", {}))
    path = "/api/v1/namespaces/apply-bad/configmaps/x"
    code, body = api.call("PATCH", path, cm, "application/apply-patch+yaml")
    assert (code, body["reason"]) == (422, "Invalid")
    assert body["message"] == ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required '
                               "for apply patch")
    code, body = api.call("PATCH", "/api/v1/namespaces/apply-bad/configmaps/y", cm, "application/apply-patch+yaml",
                          [("fieldManager", "m")])
    assert (code, body["message"]) == (400, "the name of the object (x) does not match the name on the URL (y)")
    code, body = api.call("PATCH", "/api/v1/namespaces/other/configmaps/x", cm, "application/apply-patch+yaml",
                          [("fieldManager", "m")])
    assert (code, body["reason"]) == (400, "BadRequest")
    assert body["message"] == "the namespace of the provided object does not match the namespace sent on the request"
    code, body = api.apply(config_map("x", "nowhere", {}))
    assert (code, body["reason"], body["message"]) == (404, "NotFound", 'namespaces "nowhere" not found')
    code, body = api.call("PATCH", path, yaml.safe_dump({**config_map("x", "apply-bad", {}), "apiVersion": "v2"}),
                          "application/apply-patch+yaml", [("fieldManager", "m")])
    assert code == 400 and body["message"].startswith("Incorrect version specified in apply patch")


def test_create_conflicts_and_delete(api: Applier):
    api.apply(namespace("crud"))
    path = "/api/v1/namespaces/crud/configmaps"
    code, created = api.call("POST", path, config_map("c", "crud", {"k": "v"}))
    assert code == 201 and created["metadata"]["managedFields"][0]["operation"] == "Update"
    code, body = api.call("POST", path, config_map("c", "crud", {"k": "v"}))
    assert (code, body["reason"], body["message"]) == (409, "AlreadyExists", 'configmaps "c" already exists')
    code, body = api.call("DELETE", f"{path}/c")
    assert code == 200 and body["status"] == "Success" and body["details"]["name"] == "c"
    code, body = api.call("DELETE", f"{path}/c")
    assert (code, body["reason"], body["message"]) == (404, "NotFound", 'configmaps "c" not found')
    assert api.get(f"{path}/c")[0] == 404
    code, body = api.call("PATCH", f"{path}/c", {"data": {"k": "w"}}, MERGE)
    assert code == 404


def test_merge_patch_and_a_stale_update(api: Applier):
    api.apply(namespace("patching"))
    path = "/api/v1/namespaces/patching/configmaps/p"
    _, created = api.call("POST", "/api/v1/namespaces/patching/configmaps", config_map("p", "patching", {"a": "1"}))
    code, patched = api.call("PATCH", path, {"data": {"a": None, "b": "2"}}, MERGE)
    assert code == 200 and patched["data"] == {"b": "2"}
    code, body = api.call("PUT", path, created)  # created's resourceVersion is stale now
    assert (code, body["reason"]) == (409, "Conflict")
    assert "the object has been modified" in body["message"]


def test_deleting_a_namespace_removes_its_objects(api: Applier):
    api.apply(namespace("doomed"))
    api.apply(config_map("one", "doomed", {}))
    code, body = api.call("DELETE", "/api/v1/namespaces/doomed")
    assert code == 200 and body["kind"] == "Namespace" and body["status"]["phase"] == "Terminating"
    assert api.get("/api/v1/namespaces/doomed")[0] == 404
    _, config_maps = api.get("/api/v1/configmaps")
    assert not [c for c in config_maps["items"] if c["metadata"]["namespace"] == "doomed"]


def test_new_namespaces_get_their_default_account_and_root_ca(api: Applier):
    api.apply(namespace("fresh"))
    assert api.get("/api/v1/namespaces/fresh/serviceaccounts/default")[0] == 200
    assert api.get("/api/v1/namespaces/fresh/configmaps/kube-root-ca.crt")[0] == 200


def test_a_crd_makes_its_kind_served_until_it_is_deleted(api: Applier):
    widget = {"apiVersion": "example.com/v1", "kind": "Widget",
              "metadata": {"name": "w", "namespace": "default"}, "spec": {"size": 3}}
    assert api.apply(widget)[0] == 404  # no CRD serves the group: as kube-apiserver, no such path
    assert api.apply(crd("example.com", "widgets", "Widget", ("v1", "v1alpha1"), ("wd",)))[0] == 201
    _, established = api.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
    conditions = {c["type"]: (c["status"], c["reason"]) for c in established["status"]["conditions"]}
    assert conditions == {"NamesAccepted": ("True", "NoConflicts"), "Established": ("True", "InitialNamesAccepted")}
    assert established["status"]["acceptedNames"]["kind"] == "Widget"
    _, group = api.get("/apis/example.com")
    assert group["preferredVersion"]["version"] == "v1"
    _, resources = api.get("/apis/example.com/v1")
    assert [(r["name"], r["kind"], r["namespaced"]) for r in resources["resources"]] == [("widgets", "Widget", True)]
    code, made = api.apply(widget)
    assert code == 201 and made["metadata"]["generation"] == 1 and made["spec"] == {"size": 3}
    _, listed = api.get("/apis/example.com/v1/widgets")
    assert [(w["kind"], w["metadata"]["name"]) for w in listed["items"]] == [("Widget", "w")]
    assert api.apply({**widget, "spec": {"size": 4}})[1]["metadata"]["generation"] == 2
    code, _ = api.call("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
    assert code == 200
    assert api.get("/apis/example.com/v1/widgets")[0] == 404
    assert "example.com" not in {g["name"] for g in api.get("/apis")[1]["groups"]}


def test_aggregated_discovery_lists_an_established_crd(api: Applier, sim: SimCluster):
    api.apply(crd("stats.example.org", "gadgets", "Gadget", ("v1beta1",)))
    request = api.api.param_serialize("GET", "/apis", header_params={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"},
        auth_settings=["BearerToken"])
    document = json.loads(api.api.call_api(*request).read())
    found = next(i for i in document["items"] if i["metadata"]["name"] == "stats.example.org")
    assert found["versions"][0]["version"] == "v1beta1"
    assert found["versions"][0]["resources"][0]["resource"] == "gadgets"


def test_every_write_is_recorded(sim: SimCluster, api: Applier):
    api.apply(namespace("recorded"))
    assert any(s.method == "PATCH" and s.path == "/api/v1/namespaces/recorded" for s in sim.writes())


@pytest.mark.parametrize("name", ["healthy", "healthy-client-cert", "lab"])
def test_read_only_scenarios_refuse_every_write(name: str, tmp_path: Path, request: pytest.FixtureRequest):
    sim = start_sim(name, tmp_path, request)
    assert sim.kubeconfig is not None
    api = Applier(sim.kubeconfig)
    before = api.get("/api/v1/namespaces/istio-system")[1]["metadata"]["resourceVersion"]
    writes = [
        ("PATCH", "/api/v1/namespaces/istio-system", yaml.safe_dump(namespace("istio-system")),
         "application/apply-patch+yaml", "patch"),
        ("POST", "/api/v1/namespaces/default/configmaps", config_map("x", "default", {}), "application/json",
         "create"),
        ("PUT", "/api/v1/namespaces/istio-system", namespace("istio-system"), "application/json", "update"),
        ("DELETE", "/api/v1/namespaces/istio-system", None, "application/json", "delete"),
    ]
    for method, path, body, content_type, verb in writes:
        code, answer = api.call(method, path, body, content_type, [("fieldManager", "m")])
        assert (code, answer["reason"]) == (403, "Forbidden"), (method, path)
        assert f"cannot {verb} resource" in answer["message"]
    assert api.get("/api/v1/namespaces/istio-system")[1]["metadata"]["resourceVersion"] == before


def test_a_dry_run_stores_nothing(api: Applier):
    api.apply(namespace("dry"))
    code, shown = api.call("POST", "/api/v1/namespaces/dry/configmaps", config_map("d", "dry", {"k": "v"}),
                           query=[("dryRun", "All")])
    assert code == 201 and shown["data"] == {"k": "v"}
    assert api.get("/api/v1/namespaces/dry/configmaps/d")[0] == 404


def test_a_service_account_token_can_be_requested(api: Applier):
    api.apply(namespace("tokens"))
    api.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "admin-user", "namespace": "tokens"}})
    code, answer = api.call("POST", "/api/v1/namespaces/tokens/serviceaccounts/admin-user/token",
                            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}})
    assert code == 201 and answer["kind"] == "TokenRequest" and answer["status"]["token"].count(".") == 2
    assert api.call("POST", "/api/v1/namespaces/tokens/serviceaccounts/nobody/token", {})[0] == 404


def test_a_null_field_is_no_field(api: Applier):
    """Kiali's Service in samples/addons leaves ``annotations:`` empty; the API stores no such field."""
    api.apply(namespace("nulls"))
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kiali", "namespace": "nulls",
                                                               "annotations": None},
           "spec": {"selector": {"app": "kiali"}, "ports": [{"name": "http", "port": 20001}]}}
    _, created = api.apply(svc)
    assert "annotations" not in created["metadata"]
    assert created["spec"]["ports"] == [{"name": "http", "port": 20001, "protocol": "TCP", "targetPort": 20001}]
    assert created["spec"]["type"] == "ClusterIP" and created["spec"]["clusterIP"].startswith("10.96.")
    api.api._ApiClient__deserialize(created, "V1Service")
