"""meshcheck.sim.apiserver: selectors, Status errors, metadata-only lists, writes and discovery."""

from __future__ import annotations

import json
from typing import Any

import pytest

from meshcheck.kube import METADATA_ONLY
from meshcheck.sim import scenario
from meshcheck.sim.apiserver import BUILTIN, ApiServer, resources_for
from meshcheck.sim.protocol import SimRequest


def pod(name: str, labels: dict[str, str], phase: str = "Running", ns: str = "shop") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"containers": [{"name": "c"}]},
        "status": {"phase": phase},
    }


PODS = [
    pod("web", {"app": "web", "tier": "front"}),
    pod("api", {"app": "api", "tier": "back"}),
    pod("db", {"app": "db"}, phase="Pending"),
    pod("job", {"batch": "yes"}, phase="Succeeded", ns="jobs"),
]
SECRETS = [
    {
        "metadata": {"name": "tok", "namespace": "shop"},
        "type": "kubernetes.io/service-account-token",
        "data": {"token": "c2VjcmV0"},
    },
    {"metadata": {"name": "opaque", "namespace": "shop"}, "type": "Opaque", "data": {"k": "dg=="}},
]


@pytest.fixture
def api() -> ApiServer:
    return ApiServer({"pods": PODS, "secrets": SECRETS, "nodes": []}, BUILTIN, git_version="v1.29.2")


def get(api: ApiServer, path: str, headers: dict[str, str] | None = None, **query: str):
    response = api.handle(SimRequest("GET", path, {k: [v] for k, v in query.items()}, headers or {}))
    return response.status, json.loads(response.body) if response.body.startswith(b"{") else response.body


def names(api: ApiServer, path: str = "/api/v1/pods", **query: str) -> list[str]:
    code, body = get(api, path, **query)
    assert code == 200, body
    return [item["metadata"]["name"] for item in body["items"]]


# --- label selectors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", ["web", "api", "db", "job"]),
        ("app=web", ["web"]),
        ("app==web", ["web"]),
        ("app != web", ["api", "db", "job"]),
        ("app in (web, api)", ["web", "api"]),
        ("app notin (web,api)", ["db", "job"]),
        ("tier", ["web", "api"]),
        ("!tier", ["db", "job"]),
        ("app in (web,api),tier=back", ["api"]),
        ("tier,app notin (web)", ["api"]),
        ("app=nothing", []),
    ],
)
def test_label_selectors(api: ApiServer, selector: str, expected: list[str]):
    assert names(api, labelSelector=selector) == expected


def test_namespaced_list_with_selector(api: ApiServer):
    assert names(api, "/api/v1/namespaces/shop/pods", labelSelector="!tier") == ["db"]
    assert names(api, "/api/v1/namespaces/jobs/pods") == ["job"]


@pytest.mark.parametrize("selector", ["app in (web", "app web", "a b c"])
def test_malformed_label_selector_answers_400_status(api: ApiServer, selector: str):
    code, body = get(api, "/api/v1/pods", labelSelector=selector)
    assert code == 400
    assert body["kind"] == "Status" and body["reason"] == "BadRequest" and body["code"] == 400
    assert "unable to parse requirement" in body["message"]


# --- field selectors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("metadata.name=api", ["api"]),
        ("metadata.name==api", ["api"]),
        ("metadata.namespace=jobs", ["job"]),
        ("status.phase=Running", ["web", "api"]),
        ("status.phase!=Running", ["db", "job"]),
        ("status.phase=Running,metadata.name!=web", ["api"]),
    ],
)
def test_field_selectors(api: ApiServer, selector: str, expected: list[str]):
    assert names(api, fieldSelector=selector) == expected


def test_field_selector_on_type(api: ApiServer):
    path = "/api/v1/namespaces/shop/secrets"
    assert names(api, path, fieldSelector="type=kubernetes.io/service-account-token") == ["tok"]
    assert names(api, path, fieldSelector="type!=kubernetes.io/service-account-token") == ["opaque"]


def test_malformed_field_selector_answers_400(api: ApiServer):
    code, body = get(api, "/api/v1/pods", fieldSelector="metadata.name")
    assert code == 400 and body["kind"] == "Status"


# --- named objects and errors -------------------------------------------------------------------------


def test_get_named_object_and_404_status_for_a_missing_one(api: ApiServer):
    code, body = get(api, "/api/v1/namespaces/shop/pods/web")
    assert code == 200 and body["kind"] == "Pod" and body["apiVersion"] == "v1"
    code, body = get(api, "/api/v1/namespaces/shop/pods/nope")
    assert code == 404
    assert body["kind"] == "Status" and body["reason"] == "NotFound" and body["code"] == 404
    assert body["message"] == 'pods "nope" not found'
    assert body["details"]["name"] == "nope"
    code, _ = get(api, "/api/v1/namespaces/jobs/pods/web")  # the right name in the wrong namespace
    assert code == 404


def test_unknown_resource_and_group_are_404(api: ApiServer):
    code, body = get(api, "/api/v1/widgets")
    assert code == 404 and body["reason"] == "NotFound"
    code, _ = get(api, "/apis/metallb.io/v1beta1/ipaddresspools")
    assert code == 404


# --- metadata-only lists ---------------------------------------------------------------------------------


def test_metadata_only_list_has_no_spec_status_or_data(api: ApiServer):
    code, body = get(api, "/api/v1/namespaces/shop/secrets", {"accept": METADATA_ONLY})
    assert code == 200 and body["kind"] == "PartialObjectMetadataList"
    assert [i["metadata"]["name"] for i in body["items"]] == ["tok", "opaque"]
    for item in body["items"]:
        assert set(item) == {"kind", "apiVersion", "metadata"}
    assert "c2VjcmV0" not in json.dumps(body)
    _, pods = get(api, "/api/v1/pods", {"accept": METADATA_ONLY})
    assert all("spec" not in i and "status" not in i for i in pods["items"])


def test_a_plain_list_carries_data_and_spec(api: ApiServer):
    _, body = get(api, "/api/v1/namespaces/shop/secrets", {"accept": "application/json"})
    assert body["kind"] == "SecretList" and body["items"][0]["data"] == {"token": "c2VjcmV0"}
    _, pods = get(api, "/api/v1/pods")
    assert all("spec" in i for i in pods["items"])


# --- writes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "verb"),
    [
        ("POST", "/api/v1/namespaces/shop/pods", "create"),
        ("DELETE", "/api/v1/namespaces/shop/pods/web", "delete"),
        ("PATCH", "/api/v1/namespaces/shop/pods/web", "patch"),
        ("PUT", "/api/v1/namespaces/shop/pods/web", "update"),
    ],
)
def test_writes_answer_403_forbidden_status(api: ApiServer, method: str, path: str, verb: str):
    response = api.handle(SimRequest(method, path, {}, {}, b"{}"))
    body = json.loads(response.body)
    assert response.status == 403
    assert body["kind"] == "Status" and body["reason"] == "Forbidden" and body["code"] == 403
    assert f'cannot {verb} resource "pods"' in body["message"]
    assert len(PODS) == 4  # nothing changed


# --- discovery -----------------------------------------------------------------------------------------


def groups(model: dict[str, Any]) -> set[str]:
    api = ApiServer({}, resources_for(model), git_version=model["kubernetes_version"])
    _, body = get(api, "/apis")
    return {g["name"] for g in body["groups"]}


def test_apis_lists_metallb_only_from_0_13():
    healthy = scenario.load("healthy")
    assert "metallb.io" in groups(healthy)
    legacy = scenario.load("healthy-legacy")  # MetalLB v0.12.1: a ConfigMap, no CRDs
    assert "metallb.io" not in groups(legacy)
    assert "networking.istio.io" in groups(legacy)
    not_installed = scenario.merge(healthy, {"metallb": {"installed": False}})
    assert "metallb.io" not in groups(not_installed)
    exact = scenario.merge(healthy, {"metallb": {"version": "v0.13.0"}})
    assert "metallb.io" in groups(exact)


def test_istio_versions_and_gateway_api_follow_the_scenario():
    legacy = ApiServer({}, resources_for(scenario.load("healthy-legacy")), git_version="v1.29.2")
    _, body = get(legacy, "/apis/networking.istio.io")
    assert body["preferredVersion"]["version"] == "v1beta1"
    modern = resources_for(scenario.load("healthy-gateway-api"))
    assert any(r.group == "gateway.networking.k8s.io" for r in modern)
    assert not any(r.group == "gateway.networking.k8s.io" for r in resources_for(scenario.load("healthy")))


def test_version_document(api: ApiServer):
    code, body = get(api, "/version")
    assert code == 200 and body["gitVersion"] == "v1.29.2" and body["minor"] == "29"
