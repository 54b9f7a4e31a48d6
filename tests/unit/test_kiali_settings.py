"""Kiali's tracing settings (ConfigMap, Kiali CR) and its istio status, parsed in both Kiali majors.

Recorded shapes: istio/istio samples/addons/kiali.yaml at 1.17.2 (Kiali v1.63.1: no tracing section)
and 1.22.0 (v1.82.0: ``tracing: {enabled: false}``), edited as the lab and a v2 user edit them;
kiali/kiali kubernetes/istio.go ``ComponentStatus`` and business/istio_status.go for the status list.
"""

from __future__ import annotations

import pytest
import yaml

from meshcheck.addons import kiali as api
from meshcheck.errors import AddonError
from meshcheck.sim.protocol import SimResponse
from tests.unit.simhttp import sim_endpoint

NS = "istio-system"

# Istio 1.17.2's add-on config.yaml (abridged), with the lab's two lines added under tracing.
CONFIG_1_63_LAB = """\
auth:
  strategy: anonymous
deployment:
  accessible_namespaces:
  - '**'
  namespace: istio-system
external_services:
  custom_dashboards:
    enabled: true
  istio:
    root_namespace: istio-system
  tracing:
    url: http://192.168.88.200:32455/zipkin
    in_cluster_url: http://tracing/zipkin
istio_namespace: istio-system
server:
  port: 20001
  web_root: /kiali
"""

CONFIG_1_82_SHIPPED = """\
external_services:
  custom_dashboards:
    enabled: true
  istio:
    root_namespace: istio-system
  tracing:
    enabled: false
istio_namespace: istio-system
"""

CONFIG_2_NEW_KEYS = """\
external_services:
  tracing:
    enabled: true
    external_url: https://jaeger.example.com/jaeger
    internal_url: http://tracing.istio-system:16685/jaeger
"""

CONFIG_2_OLD_AND_NEW_KEYS = """\
external_services:
  tracing:
    enabled: true
    url: http://old.example.com/jaeger
    external_url: http://new.example.com/jaeger
    in_cluster_url: http://tracing.istio-system/jaeger
    internal_url: http://tracing.istio-system:16685/jaeger
"""


def config_map(text: str | None, name: str = "kiali", namespace: str = NS, labels: dict | None = None) -> dict:
    data = {} if text is None else {"config.yaml": text}
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels or {}}, "data": data}


def kiali_cr(spec: dict, namespace: str = "kiali-operator") -> dict:
    return {"apiVersion": "kiali.io/v1alpha1", "kind": "Kiali", "metadata": {"name": "kiali", "namespace": namespace},
            "spec": spec}


# --- ConfigMap ------------------------------------------------------------------------------------


def test_the_labs_config_map_in_kiali_1():
    settings = api.tracing_settings([config_map(CONFIG_1_63_LAB)], [], NS, "v1.63.1")
    assert settings.read and settings.source == "ConfigMap istio-system/kiali"
    assert settings.external_url == "http://192.168.88.200:32455/zipkin" and settings.external_key == "url"
    assert settings.in_cluster_url == "http://tracing/zipkin" and settings.internal_key == "in_cluster_url"
    assert settings.enabled is None and api.tracing_enabled_by_default("v1.63.1")


def test_the_shipped_config_map_of_kiali_1_82_disables_tracing_and_keeps_the_default_url():
    settings = api.parse_config_map(config_map(CONFIG_1_82_SHIPPED), "v1.82.0")
    assert settings.enabled is False and settings.external_url == ""
    assert settings.internal_url == "" and settings.in_cluster_url == "http://tracing.istio-system:16685/jaeger"


def test_kiali_1_ignores_kiali_2_keys():
    settings = api.parse_config_map(config_map(CONFIG_2_NEW_KEYS), "v1.76.0")
    assert settings.external_url == "" and settings.in_cluster_url == api.DEFAULT_INTERNAL_URL


def test_kiali_2_reads_its_new_keys():
    settings = api.parse_config_map(config_map(CONFIG_2_NEW_KEYS), "v2.5.0")
    assert settings.external_url == "https://jaeger.example.com/jaeger" and settings.external_key == "external_url"
    assert settings.internal_url == "http://tracing.istio-system:16685/jaeger"
    assert settings.internal_key == "internal_url"
    assert settings.enabled is True and not api.tracing_enabled_by_default("v2.5.0")


def test_kiali_2_lets_the_deprecated_keys_win():
    settings = api.parse_config_map(config_map(CONFIG_2_OLD_AND_NEW_KEYS), "v2.0.0")
    assert (settings.external_url, settings.external_key) == ("http://old.example.com/jaeger", "url")
    assert (settings.internal_url, settings.internal_key) == ("http://tracing.istio-system/jaeger", "in_cluster_url")


@pytest.mark.parametrize("version,keys", [("v1.63.1", ("url", "in_cluster_url")),
                                          ("v2.4.0", ("external_url", "internal_url"))])
def test_tracing_keys_follow_the_major(version, keys):
    assert api.tracing_keys(version) == keys
    assert "external_url" in api.tracing_keys("")[0]


@pytest.mark.parametrize("text,fragment", [(None, "has no config.yaml key"), ("a: [1,", "is not valid YAML"),
                                           ("external_services: {tracing: [1]}", "is not a map")])
def test_broken_config_maps_say_why(text, fragment):
    settings = api.parse_config_map(config_map(text))
    assert not settings.read and fragment in settings.problem and "ConfigMap istio-system/kiali" in settings.problem


def test_the_config_map_is_found_by_name_then_by_label_and_only_in_kialis_namespace():
    other = config_map(CONFIG_1_63_LAB, namespace="default")
    assert api.tracing_settings([other], [], NS).source == ""
    labelled = config_map(CONFIG_1_63_LAB, name="my-kiali", labels={"app.kubernetes.io/name": "kiali"})
    assert api.tracing_settings([other, labelled], [], NS).source == "ConfigMap istio-system/my-kiali"


def test_unreadable_settings_keep_the_reason():
    settings = api.unreadable_settings(NS, "403")
    assert not settings.read and settings.problem == "403" and settings.namespace == NS


# --- Kiali CR -------------------------------------------------------------------------------------


def test_a_kiali_cr_deploying_into_the_namespace_is_read_when_there_is_no_config_map():
    spec = yaml.safe_load(CONFIG_2_NEW_KEYS) | {"deployment": {"namespace": NS}}
    settings = api.tracing_settings([], [kiali_cr(spec)], NS, "v2.5.0")
    assert settings.source == "Kiali CR kiali-operator/kiali" and settings.namespace == NS
    assert settings.external_url == "https://jaeger.example.com/jaeger"


def test_a_kiali_1_cr_in_kialis_namespace_uses_the_old_keys():
    cr = kiali_cr({"external_services": {"tracing": {"enabled": True, "url": "http://tracing.istio-system/jaeger",
                                                     "in_cluster_url": "http://tracing.istio-system/jaeger"}}}, NS)
    settings = api.tracing_settings([], [cr], NS, "v1.73.0")
    assert settings.external_key == "url" and settings.in_cluster_url == "http://tracing.istio-system/jaeger"


def test_the_config_map_wins_over_the_cr():
    cr = kiali_cr({"external_services": {"tracing": {"url": "http://cr"}}}, NS)
    assert api.tracing_settings([config_map(CONFIG_1_63_LAB)], [cr], NS, "v1.63.1").source.startswith("ConfigMap")
    assert api.tracing_settings([], [kiali_cr({}, "elsewhere")], NS).source == ""


# --- istio status ---------------------------------------------------------------------------------


ISTIO_STATUS_1_63_HEALTHY: list = []     # before v1.84 only problems are listed
ISTIO_STATUS_1_63_UNREACHABLE = [{"name": "jaeger", "status": "Unreachable", "is_core": False}]
ISTIO_STATUS_1_84 = [{"name": "istiod", "status": "Healthy", "is_core": True},
                     {"name": "prometheus", "status": "Healthy", "is_core": False},
                     {"name": "tracing", "status": "Healthy", "is_core": False}]
ISTIO_STATUS_2_8 = [{"cluster": "Kubernetes", "name": "istiod", "status": "Healthy", "is_core": True},
                    {"cluster": "", "name": "tracing", "status": "Unreachable", "is_core": False}]
ISTIO_STATUS_2_13 = [{"cluster": "Kubernetes", "name": "istiod", "status": "Healthy", "isCore": True},
                     {"cluster": "Kubernetes", "name": "tracing", "status": "Healthy", "isCore": False}]


def test_istio_status_of_kiali_1_63():
    assert api.parse_istio_status(ISTIO_STATUS_1_63_HEALTHY).tracing is None
    assert api.parse_istio_status(None).components == ()
    entry = api.parse_istio_status(ISTIO_STATUS_1_63_UNREACHABLE).tracing
    assert entry is not None and entry.name == "jaeger" and entry.status == "Unreachable"
    assert not api.lists_healthy_components("v1.63.1") and api.lists_healthy_components("v1.84.0")


def test_istio_status_of_kiali_1_84_and_2():
    assert api.parse_istio_status(ISTIO_STATUS_1_84).tracing.status == "Healthy"
    status = api.parse_istio_status(ISTIO_STATUS_2_8)
    assert status.tracing.status == "Unreachable" and status.components[0].cluster == "Kubernetes"
    status = api.parse_istio_status(ISTIO_STATUS_2_13)
    assert status.components[0].is_core and not status.tracing.is_core


@pytest.mark.parametrize("doc", [{"status": []}, [{"status": "Healthy"}], ["tracing"]])
def test_istio_status_refuses_other_shapes(doc):
    with pytest.raises(AddonError, match="unexpected shape"):
        api.parse_istio_status(doc)


@pytest.mark.parametrize("answer,asked,problem", [
    (SimResponse.json(ISTIO_STATUS_1_63_UNREACHABLE), True, ""),
    (SimResponse.text("404 page not found\n", 404), False, ""),
    (SimResponse.json({"error": "Kiali is unable to find any Istio deployment in namespace istio-system."}, 500),
     True, "unable to find any Istio deployment"),
])
def test_fetch_istio_status(answer, asked, problem):
    endpoint, adapter = sim_endpoint("kiali", lambda request: answer)
    status = api.fetch_istio_status(endpoint, "/kiali")
    assert adapter.paths == ["/kiali/api/istio/status"]
    assert status.asked is asked and problem in status.problem and bool(problem) == bool(status.problem)


def test_fetch_istio_status_refuses_a_body_that_is_not_json():
    endpoint, _ = sim_endpoint("kiali", lambda request: SimResponse.text("[{", 200, "application/json"))
    with pytest.raises(AddonError, match="not JSON"):
        api.fetch_istio_status(endpoint)
