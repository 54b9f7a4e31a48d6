"""Endpoint errors say who failed: the add-on itself, or the API server in front of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshcheck import kube
from meshcheck.addons import kiali
from meshcheck.errors import AddonError
from meshcheck.sim.apiserver import status
from meshcheck.sim.protocol import SimResponse
from tests.unit.simhttp import sim_endpoint, start_sim


def _refusal(answer: SimResponse) -> str:
    endpoint, _ = sim_endpoint("kiali", lambda request: answer)
    endpoint.service = "istio-system/kiali"
    with pytest.raises(AddonError) as caught:
        endpoint.get_json("/kiali/api/status")
    return str(caught.value)


def test_an_add_ons_own_error_is_quoted_with_its_logs_to_read():
    message = _refusal(SimResponse.text("upstream connect error or disconnect/reset before headers", 503))
    assert message.startswith("kiali answered 503 to GET /kiali/api/status (a test adapter): 'upstream connect")
    assert message.endswith("check the kiali pod's logs")


def test_no_endpoints_from_the_api_server_says_no_pod_is_ready():
    message = _refusal(status(503, "ServiceUnavailable", 'no endpoints available for service "kiali"'))
    assert "the API server said 'no endpoints available for service \"kiali\"'" in message
    assert "no ready pod backs Service istio-system/kiali: see 'kubectl -n istio-system get pods'" in message


def test_a_forbidden_proxy_says_which_permission_to_grant():
    message = _refusal(status(403, "Forbidden", 'services "kiali" is forbidden: User "u" cannot get resource '
                                                '"services/proxy"'))
    assert "grant it get on services/proxy" in message


def test_a_status_like_json_that_is_not_a_status_is_the_add_ons_own():
    message = _refusal(SimResponse.json({"error": "Kiali is starting"}, 500))
    assert "the API server said" not in message and "Kiali is starting" in message


def test_an_add_on_without_ready_pods_through_the_real_proxy(tmp_path: Path, request: pytest.FixtureRequest):
    sim = start_sim("kiali-down", tmp_path, request)
    cluster = kube.Cluster.connect(str(sim.kubeconfig))
    endpoint = cluster.service_proxy("kiali", "istio-system", "kiali", 20001)
    with pytest.raises(AddonError, match="no ready pod backs Service istio-system/kiali"):
        kiali.fetch_status(endpoint)
