"""The whole suite against every simulated scenario: which tests fail, with which message, what is
blocked, and that everything else still passes. Also: the suite never writes, and never prints the
kubeconfig's token."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from meshcheck import layers
from meshcheck.profile import Profile, load_profile
from meshcheck.sim import scenario as scenarios
from tests.harness import ROOT, SUITE_TESTS, Run, run_suite


@dataclass(frozen=True)
class Expect:
    fail: dict[str, str] = field(default_factory=dict)   # test name -> fragment of its message
    blocked: str | None = None                            # the layer whose failure blocks the ones after it
    skip: dict[str, str] = field(default_factory=dict)   # test name -> fragment of why it cannot run
    args: tuple[str, ...] = ()
    tests: int = SUITE_TESTS                              # tests a run reports (8 with -m load)


# Our own load places orders: without --load its tests say so, unless the load layer is blocked.
OWN_LOAD = ("test_own_load_error_rate_within_budget", "test_own_load_p95_within_budget",
            "test_own_load_counted_by_prometheus")
OWN_LOAD_SKIPPED = "it places orders in the shop, so it runs only with --load"
LOAD_ONLY = ("-m", "load")
PROMETHEUS_LOAD, GRAFANA_LOAD = "test_prometheus_counts_frontend_traffic", "test_grafana_shows_frontend_traffic"


STOREFRONT_STEPS = ("test_storefront_home_page_lists_products", "test_storefront_product_page_renders",
                    "test_storefront_add_to_cart_redirects_to_cart", "test_storefront_cart_shows_added_product",
                    "test_storefront_checkout_completes_with_order_confirmation")


def blocked_steps(failed: int) -> dict[str, str]:
    """The storefront steps after the failed one (by index): blocked by it, which failed in the same run."""
    return {t: f"blocked by {STOREFRONT_STEPS[failed]}: " for t in STOREFRONT_STEPS[failed + 1:]}


def blocked_load(by: str, *tests: str) -> dict[str, str]:
    """The load layer's checks that read what a failed layer checks: blocked by it."""
    return {t: f"blocked by {by}:" for t in tests}


TELEMETRY_BLOCKS_LOAD = blocked_load("telemetry", PROMETHEUS_LOAD, GRAFANA_LOAD)
GRAFANA_BLOCKS_LOAD = blocked_load("grafana", GRAFANA_LOAD)
GENERATOR_UNREADABLE = "Locust's statistics cannot be read: "


ISTIO_BLOCKS = "istio"
HARDENED = ("--profile=hardened",)
RATE_LIMITED = ("--profile=tests/profiles/rate-limited.yaml",)
KIALI_TESTS = ("test_kiali_is_healthy", "test_kiali_graph_has_call_graph_edges",
               "test_kiali_tracing_url_points_at_tracing_service", "test_kiali_validations_show_no_errors",
               "test_kiali_health_shows_no_app_failing")
# The checks of the profile's policies: skipped "not required by profile" where the run's profile asks for none.
POLICY_TESTS = {"test_strict_mtls_covers_boutique_namespace": "mtls",
                "test_boutique_circuit_breakers_in_place": "circuit_breakers",
                "test_boutique_local_rate_limits_in_place": "rate_limits",
                "test_boutique_authorization_allows_only_the_call_graph": "authorization"}
EXPECT: dict[str, Expect] = {
    "healthy": Expect(),
    "healthy-gateway-api": Expect(),
    "healthy-legacy": Expect(),
    "healthy-client-cert": Expect(),
    # A fresh kind cluster, nothing deployed: the suite reads it (its user may write; the suite does not).
    "bare": Expect({"test_dashboard_deployed": "no Deployment kubernetes-dashboard",
                    "test_dashboard_service": "no Service kubernetes-dashboard",
                    "test_dashboard_admin_account": "no ServiceAccount is bound to cluster-admin",
                    "test_istiod_available": "no istiod Deployment in any namespace",
                    "test_istio_ingress_gateway_available": "no ingress gateway Deployment",
                    "test_istio_sidecar_injector_registered": "sidecar-injector.istio.io",
                    "test_istio_control_and_data_plane_versions_agree": "cannot read the control plane's version"},
                   ISTIO_BLOCKS, skip={"test_istio_injection_label_on_boutique_namespace":
                                       "no namespace holds Deployment frontend"}),
    "lab": Expect(),
    "lab-kiali-tracing-wrong-port": Expect({"test_kiali_tracing_url_points_at_tracing_service":
                                            "192.168.88.200 is node k8s-master's InternalIP, but no Service looked "
                                            "for has NodePort 32000 (Service istio-system/tracing has NodePort 32455"}),
    "lab-kiali-in-cluster-url-wrong": Expect({"test_kiali_tracing_url_points_at_tracing_service":
                                              "Kiali's istio status says its tracing backend is Unreachable at its "
                                              "in-cluster URL http://tracing:9411/zipkin"}),
    "api-flaky": Expect(),
    "storefront-unreachable": Expect(),
    "reader-without-secrets": Expect(),
    # The grader's ServiceAccount, authorized by manifests/grader/ (tests/test_grader_role.py: same outcomes as
    # healthy, nothing refused); without services/proxy every add-on check says the proxy is refused.
    "healthy-grader": Expect(),
    "grader-role-too-narrow": Expect({"test_prometheus_is_ready": "GET /-/ready answered 403",
                                      **dict.fromkeys(("test_prometheus_scrapes_boutique_sidecar_targets",
                                                       "test_prometheus_has_mesh_request_series_for_workloads",
                                                       "test_mesh_calls_arrive_over_mutual_tls",
                                                       "test_tracing_lists_boutique_services",
                                                       "test_tracing_has_recent_frontend_traces",
                                                       "test_tracing_covers_traced_call_graph_hops"),
                                                      "the kubeconfig's user may not use the service proxy")},
                                     "telemetry", skip=TELEMETRY_BLOCKS_LOAD),
    "reader-without-pods": Expect({"test_kube_system_pods_running": "refused GET /api/v1/pods with 403"}, "cluster"),
    "node-not-ready": Expect({"test_nodes_ready": "meshcheck-worker (Ready=Unknown"}, "cluster"),
    "coredns-crashing": Expect({"test_kube_system_pods_running": "coredns",
                                "test_cluster_dns_available": "Deployment kube-system/coredns (cluster DNS) is not "
                                                              "available"}, "cluster"),
    "secrets-everywhere": Expect({"test_boutique_deployments_available": "paymentservice (0/1 replicas",
                                  "test_boutique_pods_have_ready_sidecars": "paymentservice",
                                  "test_boutique_restarts_within_budget": "paymentservice-"}, "boutique"),
    "kube-system-addon-failing": Expect({"test_kube_system_pods_running": "metrics-server"}, "cluster"),
    "dashboard-missing": Expect({"test_dashboard_deployed": "no Deployment kubernetes-dashboard",
                                 "test_dashboard_service": "no Service kubernetes-dashboard",
                                 "test_dashboard_admin_account": "no ServiceAccount is bound to cluster-admin"}),
    "dashboard-no-service": Expect({"test_dashboard_service": "no Service kubernetes-dashboard"}),
    "dashboard-admin-unbound": Expect({"test_dashboard_admin_account": "ServiceAccount kubernetes-dashboard/admin-user "
                                                                       "is bound to none of the ClusterRoles"}),
    "dashboard-admin-lab-style": Expect(),
    "lab-dashboard-admin-unbound": Expect({"test_dashboard_admin_account": "ServiceAccount kube-system/dashboard-admin "
                                                                           "is bound to none of the ClusterRoles"}),
    "lab-istiod-crashlooping-for-days": Expect({"test_istiod_available": "istio-system/istiod is not available: 0/1 "
                                                "replicas available (pod istiod-"}, ISTIO_BLOCKS),
    "kiali-tracing-unreachable": Expect({"test_kiali_tracing_url_points_at_tracing_service":
                                         "Kiali's istio status says its tracing backend is Unreachable at its "
                                         "in-cluster URL http://tracing.istio-system/jaeger"}),
    "istiod-down": Expect({"test_istiod_available": "istio-system/istiod is not available"}, ISTIO_BLOCKS),
    "istiod-crashlooping-for-days": Expect({"test_istiod_available": "istio-system/istiod is not available: 0/1 "
                                            "replicas available (pod istiod-"}, ISTIO_BLOCKS),
    "ingress-gateway-down": Expect({"test_istio_ingress_gateway_available": "istio-ingressgateway is not available"},
                                   ISTIO_BLOCKS),
    "injector-missing": Expect({"test_istio_sidecar_injector_registered": "sidecar-injector.istio.io"},
                               ISTIO_BLOCKS),
    "no-injection-label": Expect({"test_istio_injection_label_on_boutique_namespace":
                                  "namespace online-boutique is not labelled for sidecar injection"}, ISTIO_BLOCKS),
    "proxy-version-skew": Expect({"test_istio_control_and_data_plane_versions_agree": "1.21.2"}),
    "boutique-missing": Expect({"test_boutique_namespace_found": "no namespace holds a Deployment named frontend"},
                               "boutique", skip={t: "no namespace holds Deployment frontend" for t in (
                                   "test_istio_injection_label_on_boutique_namespace",
                                   "test_boutique_deployments_available", "test_boutique_pods_have_ready_sidecars",
                                   "test_boutique_restarts_within_budget", *list(POLICY_TESTS)[1:])}),
    "paymentservice-down": Expect({"test_boutique_deployments_available": "paymentservice (0/1 replicas",
                                   "test_boutique_pods_have_ready_sidecars": "paymentservice",
                                   "test_boutique_restarts_within_budget": "paymentservice-"}, "boutique"),
    "boutique-crashlooping-for-days": Expect({"test_boutique_deployments_available": "currencyservice (0/1 replicas "
                                              "available (pod currencyservice-",
                                              "test_boutique_pods_have_ready_sidecars": "CrashLoopBackOff",
                                              "test_boutique_restarts_within_budget": "(572 restarts)"}, "boutique"),
    "rollout-in-progress": Expect(),
    "proxy-not-ready": Expect({"test_boutique_pods_have_ready_sidecars": "not ready: istio-proxy"}, "boutique"),
    "restarts": Expect({"test_boutique_restarts_within_budget": "(14 restarts)"}),
    "external-ip-pending": Expect({"test_gateway_has_external_address": "has no EXTERNAL-IP (pending)"}, "gateway"),
    "gateway-selector-wrong": Expect({"test_gateway_selects_ingress_pods": "no pod has those labels"}, "gateway"),
    "httproute-bad-backend": Expect({"test_gateway_routes_to_frontend_service": "HTTPRoute default/frontend-route "
                                     "routes to host frontend-missing",
                                     "test_kiali_validations_show_no_errors": "HTTPRoute default/frontend-route "
                                     "KIA1402 BackendRef on rule doesn't have a valid service"}, "gateway"),
    "virtualservice-bad-host": Expect({"test_gateway_routes_to_frontend_service": "no Service online-boutique/"
                                       "frontend-missing exists",
                                       "test_kiali_validations_show_no_errors": "VirtualService online-boutique/"
                                       "frontend-ingress KIA1101"}, "gateway"),
    "metallb-pool-mismatch": Expect({"test_gateway_address_in_metallb_pool": "is outside MetalLB's IPAddressPool"}),
    "metallb-not-advertised": Expect({"test_gateway_address_in_metallb_pool": "no L2Advertisement"}),
    "frontend-external-left": Expect({"test_gateway_frontend_external_removed": "frontend-external still exists"}),
    "catalog-empty": Expect({"test_storefront_home_page_lists_products": "lists no products"},
                            skip=blocked_steps(0)),
    "product-page-fails": Expect({"test_storefront_product_page_renders": "GET /product/OLJCESPC7Z through gateway "
                                  "EXTERNAL-IP"},
                                 skip=blocked_steps(1)),
    "add-to-cart-fails": Expect({"test_storefront_add_to_cart_redirects_to_cart": "'Uh, oh! failed to add to cart"},
                                skip=blocked_steps(2)),
    "cart-forgets": Expect({"test_storefront_cart_shows_added_product": "shows an empty cart after adding OLJCESPC7Z"},
                           skip=blocked_steps(3)),
    "checkout-fails": Expect({"test_storefront_checkout_completes_with_order_confirmation":
                              "POST /cart/checkout through gateway EXTERNAL-IP"}),
    "prometheus-down": Expect({"test_prometheus_is_ready": "answered 503",
                               "test_prometheus_scrapes_boutique_sidecar_targets": "503",
                               "test_prometheus_has_mesh_request_series_for_workloads": "503",
                               "test_mesh_calls_arrive_over_mutual_tls": "503"}, "telemetry",
                              skip=TELEMETRY_BLOCKS_LOAD),
    "prometheus-no-istio-metrics": Expect({"test_prometheus_has_mesh_request_series_for_workloads":
                                           "no istio_requests_total series",
                                           "test_mesh_calls_arrive_over_mutual_tls":
                                           "no call into namespace online-boutique is reported by its destination"},
                                          "telemetry", skip=TELEMETRY_BLOCKS_LOAD),
    "prometheus-targets-down": Expect({"test_prometheus_scrapes_boutique_sidecar_targets": "down: frontend-"},
                                      "telemetry", skip=TELEMETRY_BLOCKS_LOAD),
    "kiali-missing-edge": Expect({"test_kiali_graph_has_call_graph_edges": "checkoutservice→paymentservice"}),
    "kiali-unanswered-edge": Expect({"test_kiali_graph_has_call_graph_edges": "service",
                                     "test_kiali_health_shows_no_app_failing": "checkoutservice Failure (outbound grpc "
                                     "error rate"}),
    "kiali-tracing-url-wrong": Expect({"test_kiali_tracing_url_points_at_tracing_service":
                                       "jaeger.example.invalid"}),
    "kiali-malformed": Expect(dict.fromkeys(KIALI_TESTS, "not JSON")),
    "kiali-down": Expect(dict.fromkeys(KIALI_TESTS, "no ready pod backs Service istio-system/kiali")),
    "kiali-not-installed": Expect(dict.fromkeys(KIALI_TESTS, "no Service named kiali (or labelled app=kiali)")),
    # Kiali takes 5 s; 2 s is short for it and ample for the rest even on a machine running many scenarios at once.
    "kiali-slow": Expect(dict.fromkeys(KIALI_TESTS, "did not answer"), args=("--request-timeout=2",)),
    "kiali-validation-error": Expect({"test_kiali_validations_show_no_errors":
                                      "VirtualService online-boutique/productcatalog-canary KIA1101 DestinationWeight "
                                      "on route doesn't have a valid service (host not found) at "
                                      "spec/http[0]/route[0]/destination/host"}),
    "kiali-app-failing": Expect({"test_kiali_health_shows_no_app_failing":
                                 "paymentservice Failure (error rate 30.00%)"}),
    "mtls-plaintext": Expect({"test_mesh_calls_arrive_over_mutual_tls":
                              "checkoutservice→paymentservice (100% of its requests): PeerAuthentication "
                              "online-boutique/paymentservice-plaintext sets mTLS mode DISABLE for paymentservice"}),
    "healthy-hardened": Expect(args=HARDENED),
    "hardened-no-peerauthentication": Expect({"test_strict_mtls_covers_boutique_namespace":
                                              "no PeerAuthentication makes mTLS STRICT for namespace online-boutique"},
                                             args=HARDENED),
    "hardened-circuit-breaker-missing": Expect({"test_boutique_circuit_breakers_in_place":
                                                "no DestinationRule names host productcatalogservice"}, args=HARDENED),
    "hardened-circuit-breaker-wrong-host": Expect({"test_boutique_circuit_breakers_in_place":
                                                   "DestinationRule online-boutique/productcatalog-breaker sets "
                                                   "connectionPool and outlierDetection for host productcatalog, "
                                                   "which names no Service",
                                                   "test_kiali_validations_show_no_errors":
                                                   "DestinationRule online-boutique/productcatalog-breaker KIA0202"},
                                                  args=HARDENED),
    "hardened-authorization-typo": Expect({"test_boutique_authorization_allows_only_the_call_graph":
                                           "checkoutservice→paymentservice (cluster.local/ns/online-boutique/sa/"
                                           "checkoutservice: no rule of the ALLOW policies that apply "
                                           "(online-boutique/allow-nothing) matches it); AuthorizationPolicy "
                                           "online-boutique/paymentservice (selector {'app': 'paymentsvc'}) selects "
                                           "no pod"}, args=HARDENED),
    "hardened-rate-limit-missing": Expect({"test_boutique_local_rate_limits_in_place":
                                           "no EnvoyFilter inserts envoy.filters.http.local_ratelimit into "
                                           "frontend's sidecar"}, args=RATE_LIMITED),
    "hardened-rate-limited": Expect(args=RATE_LIMITED),
    "tracing-empty": Expect({"test_tracing_lists_boutique_services": "lists none of the boutique services",
                             "test_tracing_has_recent_frontend_traces": "frontend",
                             "test_tracing_covers_traced_call_graph_hops": "hops"}),
    "tracing-stale": Expect({"test_tracing_has_recent_frontend_traces":
                             "no traces of frontend.online-boutique from the last 1h",
                             "test_tracing_covers_traced_call_graph_hops": "hops"}),
    "tracing-missing-hop": Expect({"test_tracing_covers_traced_call_graph_hops":
                                   "recommendationservice→productcatalogservice"}),
    "grafana-down": Expect({"test_grafana_is_healthy": "500",
                            "test_grafana_has_prometheus_datasource": "500",
                            "test_grafana_prometheus_datasource_works": "500",
                            "test_grafana_has_mesh_dashboards": "500"}, skip=GRAFANA_BLOCKS_LOAD),
    "grafana-datasource-broken": Expect({"test_grafana_prometheus_datasource_works": "fails its test"},
                                        skip=GRAFANA_BLOCKS_LOAD),
    "grafana-no-datasource": Expect({"test_grafana_has_prometheus_datasource": "no data source of type prometheus",
                                     "test_grafana_prometheus_datasource_works":
                                     "no data source of type prometheus"}, skip=GRAFANA_BLOCKS_LOAD),
    "grafana-missing-dashboard": Expect({"test_grafana_has_mesh_dashboards": "Istio Mesh Dashboard"},
                                        skip=GRAFANA_BLOCKS_LOAD),
    "grafana-query-fails": Expect({GRAFANA_LOAD: "Grafana's data source 'Prometheus' failed the query "
                                   "sum(rate(istio_requests_total{reporter=\"destination\",destination_workload="
                                   "\"frontend\",destination_workload_namespace=\"online-boutique\"}[5m])) with 500: "
                                   "Post \"http://prometheus:9090/api/v1/query\": context deadline exceeded"}),
    "healthy-locust-1x": Expect(),
    "storefront-slow": Expect(),
    "frontend-metrics-disabled": Expect({t: "holds no istio_requests_total series for requests into "
                                         "online-boutique/frontend" for t in (PROMETHEUS_LOAD, GRAFANA_LOAD)}),
    "loadgenerator-scaled-to-zero": Expect(
        {"test_prometheus_scrapes_boutique_sidecar_targets": "no target at all for loadgenerator",
         "test_loadgenerator_runs": "Deployment online-boutique/loadgenerator is scaled to 0 replicas: no load "
                                    "generator runs: kubectl -n online-boutique scale deployment loadgenerator "
                                    "--replicas=1",
         **{t: GENERATOR_UNREADABLE + "Deployment online-boutique/loadgenerator is scaled to 0 replicas"
            for t in ("test_loadgenerator_sends_traffic", "test_loadgenerator_error_rate_within_budget")}},
        "telemetry", skip=TELEMETRY_BLOCKS_LOAD),
    "loadgenerator-crashlooping": Expect(
        {"test_loadgenerator_runs": "load generator pod online-boutique/loadgenerator-",
         **{t: GENERATOR_UNREADABLE + "load generator pod online-boutique/loadgenerator-"
            for t in ("test_loadgenerator_sends_traffic", "test_loadgenerator_error_rate_within_budget")},
         **{t: "no istio_requests_total series for requests into online-boutique/frontend"
            for t in (PROMETHEUS_LOAD, GRAFANA_LOAD)}},
        args=LOAD_ONLY, tests=8),
    "loadgenerator-oomkilled": Expect(
        {"test_loadgenerator_runs": "keeps crashing: container main runs now, but has restarted 4 times, last exit "
                                    "OOMKilled (exit code 137)",
         **{t: GENERATOR_UNREADABLE + "load generator pod online-boutique/loadgenerator-"
            for t in ("test_loadgenerator_sends_traffic", "test_loadgenerator_error_rate_within_budget")}}),
    "loadgenerator-web-ui": Expect(
        {"test_loadgenerator_sends_traffic": "started its web UI instead of running headless",
         "test_loadgenerator_error_rate_within_budget": "Locust's error rate cannot be judged: Locust in "
                                                        "online-boutique/loadgenerator-",
         # none, or only the storefront layer's few requests: the reads are sent ahead, before or after those
         PROMETHEUS_LOAD: "into online-boutique/frontend over the last 5m",
         GRAFANA_LOAD: "Grafana's data source 'Prometheus' counts "}),
    "loadgenerator-over-budget": Expect(
        {"test_loadgenerator_error_rate_within_budget": "requests failed (2.04%), over the 1.00% budget; worst: "
                                                        "POST /cart/checkout "}),
}

TOKEN = re.compile(r"sim-[0-9a-f]{32}")


@pytest.fixture(scope="session")
def runs() -> dict[str, Run]:
    """Every scenario, run once, two at a time (the machine has two cores)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(run_suite, *EXPECT[name].args, scenario=name) for name in EXPECT}
        return {name: future.result() for name, future in futures.items()}


def test_every_bundled_scenario_has_expectations() -> None:
    assert sorted(EXPECT) == scenarios.available()


def _profile(expect: Expect) -> Profile:
    """The profile the run used: its --profile=, else the default."""
    given = [a.split("=", 1)[1] for a in expect.args if a.startswith("--profile=")]
    return load_profile(str(ROOT / given[0]) if given and given[0].endswith(".yaml") else (given or [None])[0])


def _layer_of(test_key: str) -> str:
    layer = layers.layer_of_module(test_key.split("::")[0])
    assert layer is not None, test_key
    return layer.name


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_scenario_outcomes(runs: dict[str, Run], name: str) -> None:
    run, expect = runs[name], EXPECT[name]
    assert run.tests, f"{name}: no test ran\n{run.output[-2000:]}"
    assert len(run.tests) == expect.tests, f"{name}: {len(run.tests)} tests reported"
    blocked = {lay.name for lay in layers.LAYERS if expect.blocked in layers.prerequisites(lay.name)}
    for key, outcome in run.tests.items():
        test = key.split("::")[1]
        if test in OWN_LOAD and _layer_of(key) not in blocked and "--load" not in expect.args:
            assert outcome.outcome == "skipped" and OWN_LOAD_SKIPPED in outcome.message, (name, key, outcome)
        elif test in expect.fail:
            assert outcome.outcome == "failed", f"{name}: {key} should fail (not error), was {outcome.outcome}"
            assert expect.fail[test] in outcome.message, f"{name}: {key} message: {outcome.message!r}"
            assert "Traceback" not in outcome.message
        elif test in expect.skip:
            assert outcome.outcome == "skipped", f"{name}: {key} should be skipped, was {outcome.outcome}"
            assert expect.skip[test] in outcome.message, outcome.message
        elif _layer_of(key) in blocked:
            assert outcome.outcome == "skipped", f"{name}: {key} should be blocked, was {outcome.outcome}"
            assert f"blocked by {expect.blocked}:" in outcome.message, outcome.message
        elif test in POLICY_TESTS and not _profile(expect).policies.required(POLICY_TESTS[test]):
            assert outcome.outcome == "skipped", f"{name}: {key} should be skipped, was {outcome.outcome}"
            assert "not required by profile" in outcome.message, outcome.message
        else:
            assert outcome.outcome == "passed", f"{name}: {key} should pass: {outcome.message[:500]}"
    assert (run.code == 0) == (not expect.fail), f"{name}: exit code {run.code}"


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_suite_never_writes_nor_reads_secret_data(runs: dict[str, Run], name: str) -> None:
    api = [s for s in runs[name].served if s["server"] == "api"]
    assert api, "the simulated cluster recorded no request"
    writes = [s for s in api if s["method"] not in ("GET", "HEAD") and "/proxy" not in s["path"]]
    assert writes == []
    secrets = [s for s in api if "/secrets" in s["path"]]
    assert all("as=PartialObjectMetadataList" in s["accept"] for s in secrets), secrets


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_output_never_shows_the_token(runs: dict[str, Run], name: str) -> None:
    assert not TOKEN.search(runs[name].output)
    assert "Bearer" not in runs[name].output
    assert "PRIVATE KEY" not in runs[name].output and "client-key-data" not in runs[name].output


def test_a_client_certificate_alone_authenticates_every_request(runs: dict[str, Run]) -> None:
    """kind's and kubeadm's kubeconfig: no token, a client certificate; the API server (service proxy
    included) saw its CN on every request, while the token scenarios came with no certificate."""
    api = [s for s in runs["healthy-client-cert"].served if s["server"] == "api"]
    assert any("/proxy" in s["path"] for s in api)
    assert {s["user"] for s in api} == {"kubernetes-admin"}
    assert {s["user"] for s in runs["healthy"].served} == {""}


DEPLOYMENTS = "/apis/apps/v1/deployments"


@pytest.mark.parametrize("name", ["istiod-crashlooping-for-days", "boutique-crashlooping-for-days", "istiod-down",
                                  "paymentservice-down"])
def test_a_long_crash_loop_fails_without_waiting(runs: dict[str, Run], name: str) -> None:
    """Still Progressing=True, but unavailable for long with a pod that has restarted again and again:
    nothing will change by waiting, so the Deployments are read once (a wait would read them again)."""
    listed = [s for s in runs[name].served if s["server"] == "api" and s["path"] == DEPLOYMENTS]
    assert len(listed) == 1, listed
    assert "CrashLoopBackOff" in next(iter(runs[name].failed().values())).message


def test_a_rollout_in_progress_is_waited_for_and_then_passes(runs: dict[str, Run]) -> None:
    """The Deployment is unavailable at first, mid-rollout; the suite waits (reads the Deployments and pods
    again) and, the rollout done, every check passes."""
    run = runs["rollout-in-progress"]
    api = [s for s in run.served if s["server"] == "api"]
    assert len([s for s in api if s["path"] == DEPLOYMENTS]) > 1
    assert len([s for s in api if s["path"] == "/api/v1/pods"]) > 1
    outcomes = {t.outcome for key, t in run.tests.items() if key.split("::")[1] not in (*OWN_LOAD, *POLICY_TESTS)}
    assert run.code == 0 and outcomes == {"passed"}


def test_healthy_run_stays_within_the_request_budget(runs: dict[str, Run]) -> None:
    api = [s for s in runs["healthy"].served if s["server"] == "api"]
    assert len(api) <= 40, [s["path"] for s in api]


def test_a_healthy_run_asks_each_addon_question_once(runs: dict[str, Run]) -> None:
    """The add-on layers' first reads are sent ahead (meshcheck.first_reads) and taken by the checks that ask
    the same: a read ahead that the checks ask differently would be sent twice."""
    asked = [(s["method"], s["path"], s["query"]) for s in runs["healthy"].served
             if s["server"] == "api" and "/proxy/" in s["path"]]
    assert asked and len(asked) == len(set(asked)), sorted(asked)


def test_unreachable_gateway_address_falls_back_to_the_api_server_proxy(runs: dict[str, Run]) -> None:
    proxied = [s for s in runs["storefront-unreachable"].served
               if "/services/istio-ingressgateway:" in s["path"] and "/proxy" in s["path"]]
    assert any(s["method"] == "POST" for s in proxied), "checkout went through the API server proxy"
    direct = [s for s in runs["healthy"].served if s["server"] == "storefront"]
    assert direct, "a reachable EXTERNAL-IP is used directly"


@pytest.mark.parametrize("layer", [lay.name for lay in layers.LAYERS])
def test_marker_selects_exactly_one_layer(layer: str) -> None:
    """`pytest -m kiali` selects that layer's module and nothing else; so does `pytest -k istio`
    (-k matches names, and other layers' tests may name their layer's neighbours)."""
    import subprocess
    import sys

    from tests.harness import ROOT

    module = layers.BY_NAME[layer].module
    for selector in (["-m", layer], *([["-k", layer]] if layer == "istio" else [])):
        done = subprocess.run([sys.executable, "-m", "pytest", "suites", "--co", "-q", "-p", "no:cacheprovider",
                               *selector], cwd=ROOT, capture_output=True, text=True)
        ids = [line for line in done.stdout.splitlines() if "::" in line]
        assert ids and all(line.startswith(f"suites/{module}.py::") for line in ids), (selector, ids)


def test_own_load_never_starts_without_asking(runs: dict[str, Run]) -> None:
    """Without --load the shop sees only the storefront layer's one shopper: two POSTs (add to cart, checkout),
    none from Locust, and the own-load tests say why they did not run."""
    shop = [s for s in runs["healthy"].served if s["server"] == "storefront"]
    assert [(s["method"], s["path"]) for s in shop if s["method"] == "POST"] == [("POST", "/cart"),
                                                                                  ("POST", "/cart/checkout")]
    assert len(shop) == 5, shop
    skipped = [o for k, o in runs["healthy"].tests.items() if k.split("::")[1] in OWN_LOAD]
    assert len(skipped) == 3 and all(OWN_LOAD_SKIPPED in o.message for o in skipped)


@pytest.mark.parametrize("name", ["loadgenerator-over-budget", "loadgenerator-oomkilled", "grafana-query-fails"])
def test_a_failing_load_layer_blocks_no_other_layer(runs: dict[str, Run], name: str) -> None:
    """The load layer comes last and nothing rests on it: when it fails, every other layer's checks still pass."""
    assert not any("load" in layers.prerequisites(lay.name) for lay in layers.LAYERS)
    run = runs[name]
    assert run.failed() and all(_layer_of(k) == "load" for k in run.failed())
    others = {k: o.outcome for k, o in run.tests.items()
              if _layer_of(k) != "load" and k.split("::")[1] not in POLICY_TESTS}  # those are not required here
    assert set(others.values()) == {"passed"}, others
    table = run.output.split("meshcheck layers", 1)[1]
    assert re.search(r"^load +[\d.]+/[\d.]+ +\d+ +[1-9]\d* +0  ", table, re.MULTILINE), table


def test_the_load_layer_reads_the_generator_log_once(runs: dict[str, Run]) -> None:
    """One read of Locust's log (its last lines, with timestamps) serves both of its checks on a healthy cluster,
    and the layer's reads cost four requests in all."""
    api = [s for s in runs["healthy"].served if s["server"] == "api"]
    logs = [s for s in api if s["path"].endswith("/log")]
    assert len(logs) == 1 and "container=main" in logs[0]["query"] and "timestamps=true" in logs[0]["query"]
    assert "/pods/loadgenerator-" in logs[0]["path"]
    load = [s for s in api if s["path"].endswith(("/log", "/api/ds/query")) or "rate%28" in s["query"]]
    assert len(load) == 3, [(s["path"], s["query"][:60]) for s in load]
