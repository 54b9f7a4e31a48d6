"""The grader's least-privilege role (manifests/grader/) against the code, and under enforcement.

- It grants exactly what the suite reads, derived here from the tables the suite lists from
  (``meshcheck.suite`` LAYER_KINDS, POLICY_KINDS, LAYER_NAMESPACED_KINDS; the group and plural of each
  ``meshcheck.kube`` Kind) and the few reads outside them, get and list only: a kind added to a layer, or a
  rule added to the role, fails here until the other follows.
- The simulated API server authorizes requests by it as Kubernetes RBAC does (``meshcheck.sim.rbac``).
- The whole suite passes under it exactly as under ``healthy``'s reader (who may read anything), with nothing
  refused, in the classic, Gateway API and hardened flavours.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, unquote

import pytest
import yaml

from meshcheck import kube
from meshcheck.sim import rbac
from meshcheck.sim import scenario as scenarios
from meshcheck.suite import LAYER_KINDS, LAYER_NAMESPACED_KINDS, LAYER_RESOURCES, POLICY_KINDS
from tests.harness import ROOT, Run, run_suite

GRADER = ROOT / "manifests" / "grader"
USER = "system:serviceaccount:meshcheck:meshcheck-grader"
READ = frozenset({"get", "list"})

# What the suite reads outside the kind tables, each with the code that reads it and the verbs RBAC names it by.
OUTSIDE_TABLES: dict[tuple[str, str], frozenset[str]] = {
    ("", "pods/log"): frozenset({"get"}),  # kube.Cluster.pod_log: the load generator's Locust table
    # kube.Cluster.service_proxy: GET is get; POST (Grafana's /api/ds/query, the storefront's forms) is create
    ("", "services/proxy"): frozenset({"get", "create"}),
    ("", "events"): READ,  # the reports' diagnostics: what happened to an object a check names
    ("events.k8s.io", "events"): READ,
}
# Read by the suite, deliberately not granted: kube.Cluster.list_metadata(kube.SECRETS, ...) runs only where the
# API has no TokenRequest and reads a refusal as "none"; RBAC cannot grant names without data.
NOT_GRANTED = {("", kube.SECRETS.plural)}


def documents() -> list[dict[str, Any]]:
    return [d for path in sorted(GRADER.glob("*.yaml")) for d in yaml.safe_load_all(path.read_text()) if d]


def cluster_role() -> dict[str, Any]:
    (role,) = [d for d in documents() if d["kind"] == "ClusterRole"]
    return role


def suite_kinds() -> set[kube.Kind]:
    """Every kind the suite lists, from the tables it prefetches and lists by."""
    kinds = {kind for layer in LAYER_KINDS.values() for kind in layer}
    kinds |= set(POLICY_KINDS)
    kinds |= {kind for scoped in LAYER_NAMESPACED_KINDS.values() for kind, _ in scoped}
    return kinds


def required() -> dict[tuple[str, str], frozenset[str]]:
    wanted = {(kind.group, kind.plural): READ for kind in suite_kinds()}
    assert not set(wanted) & set(OUTSIDE_TABLES), "a kind both in the tables and outside them"
    return {**wanted, **OUTSIDE_TABLES}


def granted() -> dict[tuple[str, str], frozenset[str]]:
    grants: dict[tuple[str, str], frozenset[str]] = {}
    for rule in cluster_role()["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                grants[(group, resource)] = grants.get((group, resource), frozenset()) | set(rule["verbs"])
    return grants


# --- the role against the code ----------------------------------------------------------------------


def test_role_grants_exactly_what_the_suite_reads() -> None:
    grants, wanted = granted(), required()
    missing = sorted(set(wanted) - set(grants))
    extra = sorted(set(grants) - set(wanted))
    assert not missing, f"the suite reads these, the grader role does not grant them: {missing}"
    assert not extra, f"the grader role grants what the suite does not read: {extra}"
    assert {key: grants[key] for key in wanted} == wanted


def test_role_has_no_wildcard_no_names_no_urls_and_writes_nothing() -> None:
    for rule in cluster_role()["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, rule  # no resourceNames, no nonResourceURLs
        assert "*" not in [*rule["apiGroups"], *rule["resources"], *rule["verbs"]], rule
        assert not any(r.startswith("*/") for r in rule["resources"]), rule
    writes = {key: verbs - READ for key, verbs in granted().items() if verbs - READ}
    assert writes == {("", "services/proxy"): {"create"}}  # a POST through the proxy changes no object
    assert not NOT_GRANTED & set(granted())
    assert cluster_role().get("aggregationRule") is None


def test_the_binding_gives_the_role_to_the_service_account_of_the_file() -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in documents()}
    assert set(docs) == {("Namespace", "meshcheck"), ("ServiceAccount", "meshcheck-grader"),
                         ("ClusterRole", "meshcheck-grader"), ("ClusterRoleBinding", "meshcheck-grader")}
    account = docs[("ServiceAccount", "meshcheck-grader")]
    assert account["metadata"]["namespace"] == "meshcheck" and account["automountServiceAccountToken"] is False
    binding = docs[("ClusterRoleBinding", "meshcheck-grader")]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": "meshcheck-grader"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "meshcheck-grader", "namespace": "meshcheck"}]


def test_discovery_the_suite_reads_is_every_authenticated_users_already() -> None:
    """/version, /apis and the group versions of LAYER_RESOURCES: allowed by the bootstrap role system:discovery,
    not by the grader role (which need not repeat it)."""
    paths = ["/version", "/apis", *(f"/api/{v}" if "/" not in v else f"/apis/{v}"
                                     for layer in LAYER_RESOURCES.values() for v in layer)]
    bootstrap = rbac.Policy.from_documents(rbac.BOOTSTRAP)
    grader_only = rbac.Policy.from_folder(GRADER, bootstrap=False)
    for path in paths:
        asked = rbac.request_attributes("GET", path, {}, USER, rbac.groups_of(USER))
        assert not asked.resource_request, path
        assert bootstrap.allows(asked) and not grader_only.allows(asked), path


def test_the_simulated_grader_is_bound_by_this_folder() -> None:
    model = scenarios.load("healthy-grader")
    assert (ROOT / model["api"]["role_from"]).resolve() == GRADER.resolve()
    assert model["api"]["user"] == USER
    assert scenarios.load("grader-role-too-narrow")["api"]["role_without"] == ["services/proxy"]


# --- RBAC as the simulated API server evaluates it ---------------------------------------------------


def attributes(method: str, path: str, query: str = "", user: str = USER) -> rbac.Attributes:
    return rbac.request_attributes(method, path, parse_qs(query), user, rbac.groups_of(user))


@pytest.mark.parametrize(("method", "path", "query", "expected"), [
    ("GET", "/api/v1/pods", "", ("", "", "pods", "", "", "list")),
    ("GET", "/api/v1/pods", "watch=true", ("", "", "pods", "", "", "watch")),
    ("GET", "/api/v1/pods", "watch=false", ("", "", "pods", "", "", "list")),
    ("GET", "/apis/apps/v1/namespaces/ob/deployments/frontend", "",
     ("apps", "ob", "deployments", "", "frontend", "get")),
    ("GET", "/api/v1/namespaces/ob/pods/lg-1/log", "", ("", "ob", "pods", "log", "lg-1", "get")),
    ("POST", "/api/v1/namespaces/istio-system/services/grafana:3000/proxy/api/ds/query", "",
     ("", "istio-system", "services", "proxy", "grafana:3000", "create")),
    ("GET", "/api/v1/namespaces/ob", "", ("", "ob", "namespaces", "", "ob", "get")),
    ("GET", "/api/v1/namespaces/ob/status", "", ("", "ob", "namespaces", "status", "ob", "get")),
    ("DELETE", "/api/v1/namespaces/ob/pods", "", ("", "ob", "pods", "", "", "deletecollection")),
    ("GET", "/api/v1/watch/namespaces/ob/pods", "", ("", "ob", "pods", "", "", "watch")),
    ("GET", "/api/v1/proxy/namespaces/ob/services/x/a/b", "", ("", "ob", "services", "", "x", "proxy")),
])
def test_requests_read_as_kube_apiserver_reads_them(method: str, path: str, query: str, expected: tuple) -> None:
    asked = attributes(method, path, query)
    assert asked.resource_request
    assert (asked.api_group, asked.namespace, asked.resource, asked.subresource, asked.name, asked.verb) == expected


@pytest.mark.parametrize("path", ["/", "/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/version",
                                  "/healthz", "/openapi/v3"])
def test_short_paths_are_non_resource_requests(path: str) -> None:
    assert not attributes("GET", path).resource_request


def test_rules_match_verbs_groups_resources_subresources_names_and_urls() -> None:
    pods = attributes("GET", "/api/v1/namespaces/ob/pods/p")
    log = attributes("GET", "/api/v1/namespaces/ob/pods/p/log")
    allows = rbac.rule_allows
    assert allows(pods, rbac.PolicyRule(("get",), ("",), ("pods",)))
    assert not allows(pods, rbac.PolicyRule(("list",), ("",), ("pods",)))
    assert not allows(pods, rbac.PolicyRule(("get",), ("apps",), ("pods",)))
    assert not allows(log, rbac.PolicyRule(("get",), ("",), ("pods",)))  # a subresource is its own resource
    assert allows(log, rbac.PolicyRule(("get",), ("",), ("pods/log",)))
    assert allows(log, rbac.PolicyRule(("get",), ("",), ("*/log",)))
    assert allows(log, rbac.PolicyRule(("*",), ("*",), ("*",)))
    assert allows(pods, rbac.PolicyRule(("get",), ("",), ("pods",), ("p",)))
    assert not allows(pods, rbac.PolicyRule(("get",), ("",), ("pods",), ("q",)))
    assert not allows(attributes("GET", "/api/v1/pods"), rbac.PolicyRule(("list",), ("",), ("pods",), ("p",)))
    url = attributes("GET", "/apis/metallb.io/v1beta1")
    assert allows(url, rbac.PolicyRule(("get",), non_resource_urls=("/apis/*",)))
    assert allows(url, rbac.PolicyRule(("get",), non_resource_urls=("/apis/metallb.io/v1beta1",)))
    assert not allows(url, rbac.PolicyRule(("get",), non_resource_urls=("/api/*",)))
    assert not allows(url, rbac.PolicyRule(("get",), ("*",), ("*",)))  # resource rules never match a URL


def test_role_bindings_count_in_their_own_namespace_only() -> None:
    policy = rbac.Policy.from_documents([
        {"kind": "Role", "metadata": {"name": "cm", "namespace": "istio-system"},
         "rules": [{"verbs": ["list"], "apiGroups": [""], "resources": ["configmaps"]}]},
        {"kind": "RoleBinding", "metadata": {"name": "cm", "namespace": "istio-system"},
         "roleRef": {"kind": "Role", "name": "cm"}, "subjects": [{"kind": "ServiceAccount", "name": "meshcheck-grader",
                                                                  "namespace": "meshcheck"}]},
        {"kind": "ClusterRole", "metadata": {"name": "nodes"},
         "rules": [{"verbs": ["list"], "apiGroups": [""], "resources": ["nodes"]}]},
        {"kind": "ClusterRoleBinding", "metadata": {"name": "nodes"},
         "roleRef": {"kind": "ClusterRole", "name": "nodes"},
         "subjects": [{"kind": "Group", "name": "system:serviceaccounts:meshcheck"}]},
    ])
    assert policy.allows(attributes("GET", "/api/v1/namespaces/istio-system/configmaps"))
    assert not policy.allows(attributes("GET", "/api/v1/namespaces/default/configmaps"))
    assert not policy.allows(attributes("GET", "/api/v1/configmaps"))
    assert policy.allows(attributes("GET", "/api/v1/nodes"))  # by the group a ServiceAccount's user is in
    assert not policy.allows(attributes("GET", "/api/v1/nodes", user="system:serviceaccount:other:x"))


def test_grader_policy_allows_reads_and_refuses_the_rest() -> None:
    policy = rbac.Policy.from_folder(GRADER)
    for method, path in [("GET", "/api/v1/pods"), ("GET", "/apis/networking.istio.io/v1/virtualservices"),
                         ("GET", "/api/v1/namespaces/ob/pods/lg/log"), ("GET", "/version"),
                         ("POST", "/api/v1/namespaces/istio-system/services/grafana:3000/proxy/api/ds/query")]:
        assert policy.allows(attributes(method, path)), (method, path)
    for method, path, query in [
        ("GET", "/api/v1/secrets", ""), ("GET", "/api/v1/namespaces/kube-system/secrets/x", ""),
        ("DELETE", "/api/v1/namespaces/ob/pods/p", ""), ("POST", "/api/v1/namespaces/ob/configmaps", ""),
        ("GET", "/api/v1/pods", "watch=1"), ("GET", "/api/v1/namespaces/ob/pods/p/exec", ""),
        ("POST", "/api/v1/namespaces/ob/serviceaccounts/x/token", ""), ("GET", "/logs/", ""),
    ]:
        assert not policy.allows(attributes(method, path, query)), (method, path, query)
    assert not policy.without(["services/proxy"]).allows(
        attributes("GET", "/api/v1/namespaces/istio-system/services/kiali:20001/proxy/kiali/api/status"))


def test_a_refusal_is_the_status_kube_apiserver_writes() -> None:
    listed = rbac.forbidden(attributes("GET", "/api/v1/pods"))
    assert listed.status == 403
    assert yaml.safe_load(listed.body) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Forbidden", "code": 403,
        "message": 'pods is forbidden: User "system:serviceaccount:meshcheck:meshcheck-grader" cannot list resource '
                   '"pods" in API group "" at the cluster scope',
        "details": {"kind": "pods"}}
    proxied = yaml.safe_load(rbac.forbidden(attributes(
        "GET", "/api/v1/namespaces/istio-system/services/kiali:20001/proxy/kiali/api/status")).body)
    assert proxied["message"] == (
        'services "kiali:20001" is forbidden: User "system:serviceaccount:meshcheck:meshcheck-grader" cannot get '
        'resource "services/proxy" in API group "" in the namespace "istio-system"')
    assert proxied["details"] == {"name": "kiali:20001", "kind": "services"}
    grouped = yaml.safe_load(rbac.forbidden(attributes("GET", "/apis/apps/v1/namespaces/ob/deployments/x")).body)
    assert grouped["message"].startswith('deployments.apps "x" is forbidden: User ')
    assert grouped["details"] == {"name": "x", "group": "apps", "kind": "deployments"}
    url = yaml.safe_load(rbac.forbidden(attributes("GET", "/logs/")).body)
    assert url["message"] == f'forbidden: User "{USER}" cannot get path "/logs/"'
    assert "details" not in url


# --- the whole suite under the role ------------------------------------------------------------------

FLAVOURS = {  # a healthy scenario -> the suite's arguments for it; each is also run as the grader
    "healthy": (),
    "healthy-gateway-api": (),  # the Gateway API's kinds are listed only where served
    "healthy-hardened": ("--profile=hardened",),  # the policy kinds are listed only when the profile asks
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """healthy, and each flavour as the grader (the flavour with healthy-grader's api settings; healthy-grader
    itself is the bundled scenario), and grader-role-too-narrow: two at a time."""
    folder = tmp_path_factory.mktemp("grader-scenarios")
    api = {k: v for k, v in scenarios.load("healthy-grader")["api"].items() if k in ("role_from", "user")}
    planned: dict[str, tuple[str, tuple[str, ...]]] = {
        "healthy": ("healthy", ()), "healthy-grader": ("healthy-grader", ()),
        "grader-role-too-narrow": ("grader-role-too-narrow", ())}
    for name, args in FLAVOURS.items():
        if name != "healthy":
            path = folder / f"{name}-grader.yaml"
            path.write_text(yaml.safe_dump({"description": f"{name} as the grader", "extends": name, "api": api}))
            planned[f"{name}-grader"] = (str(path), args)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {key: pool.submit(run_suite, *args, scenario=scenario) for key, (scenario, args) in planned.items()}
        yield {key: future.result() for key, future in futures.items()}


def test_the_suite_passes_under_the_grader_role_exactly_as_without(runs: dict[str, Run]) -> None:
    plain, graded = runs["healthy"], runs["healthy-grader"]
    assert plain.code == 0, plain.output[-2000:]
    assert graded.code == 0, graded.output[-3000:]
    assert {k: v.outcome for k, v in graded.tests.items()} == {k: v.outcome for k, v in plain.tests.items()}


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_nothing_the_suite_asks_of_the_grader_is_refused(runs: dict[str, Run], flavour: str) -> None:
    graded = runs[f"{flavour}-grader"]
    assert graded.code == 0 and not graded.failed(), graded.output[-3000:]
    api = [s for s in graded.served if s["server"] == "api"]
    assert api and all(s["status"] for s in api), "the simulated cluster recorded no status"
    assert [(s["method"], s["path"]) for s in api if s["status"] in (401, 403)] == []


def test_every_request_the_suite_made_is_one_the_role_names(runs: dict[str, Run]) -> None:
    """What the runs actually asked, read as RBAC reads it, is within what the role grants (the discovery
    paths excepted: system:discovery's), and uses the one write verb granted: create through the proxy."""
    grants = granted()
    used: set[tuple[str, str, str]] = set()
    for flavour in FLAVOURS:
        for s in runs[f"{flavour}-grader"].served:
            if s["server"] != "api":
                continue
            asked = rbac.request_attributes(s["method"], unquote(s["path"]), parse_qs(s["query"]), USER, ())
            if asked.resource_request:
                used.add((asked.api_group, asked.combined_resource, asked.verb))
    beyond = sorted(u for u in used if u[2] not in grants.get((u[0], u[1]), frozenset()))
    assert not beyond, f"requests the grader role does not name: {beyond}"
    assert ("", "services/proxy", "create") in used, "no POST through the proxy any more: drop create from the role"


def test_without_the_service_proxy_the_add_on_checks_say_so(runs: dict[str, Run]) -> None:
    """The enforcement is real: strike services/proxy and the checks that use it fail with the fix."""
    narrow = runs["grader-role-too-narrow"]
    assert narrow.code == 1
    refused = [s for s in narrow.served if s["server"] == "api" and s["status"] == 403]
    assert refused and all("/proxy/" in s["path"] for s in refused)
    message = narrow.tests["test_70_tracing::test_tracing_lists_boutique_services"].message
    assert 'cannot get resource "services/proxy" in API group "" in the namespace "istio-system"' in message
    assert "the kubeconfig's user may not use the service proxy" in message
    checkout = narrow.tests["test_40_storefront::test_storefront_checkout_completes_with_order_confirmation"]
    assert checkout.outcome == "passed"  # at the gateway's EXTERNAL-IP, not through the proxy
