"""Istio's configuration semantics as meshcheck.istioconfig reads them: PeerAuthentication composition,
hosts of DestinationRules, and AuthorizationPolicy verdicts, each against the rule of Istio it follows."""

from __future__ import annotations

from meshcheck.istioconfig import authz, hosts, peerauth
from tests.unit.istioobjects import NS, obj, pa, service

PAYMENT = {"app": "paymentservice"}


# --- PeerAuthentication -------------------------------------------------------------------------------


def test_nothing_applied_is_permissive():
    decision = peerauth.effective([], NS, PAYMENT).workload
    assert decision.mode == "PERMISSIVE" and decision.source is None


def test_the_narrowest_scope_wins_and_unset_inherits():
    mesh = pa("default", "istio-system", "STRICT")
    space = pa("ns", NS, "PERMISSIVE")
    workload = pa("pay", NS, "UNSET", PAYMENT)
    found = peerauth.effective([mesh, space, workload], NS, PAYMENT).workload
    assert (found.mode, found.source) == ("PERMISSIVE", space)
    assert peerauth.effective([mesh, workload], NS, PAYMENT).workload.source is mesh


def test_a_selector_in_the_root_namespace_is_ignored_and_the_oldest_policy_wins():
    root_selector = pa("odd", "istio-system", "DISABLE", PAYMENT)
    older = pa("a", NS, "STRICT", created="2024-01-01T00:00:00Z")
    newer = pa("b", NS, "DISABLE", created="2024-02-01T00:00:00Z")
    assert peerauth.effective([root_selector, newer, older], NS, PAYMENT).workload.source is older


def test_port_level_modes_inherit_unset_from_the_workload():
    policy = pa("pay", NS, "STRICT", PAYMENT, ports={50051: "PERMISSIVE", 9090: "UNSET"})
    found = peerauth.effective([policy], NS, PAYMENT)
    assert found.for_port(50051).mode == "PERMISSIVE" and found.for_port(9090).mode == "STRICT"
    assert found.weakest().mode == "PERMISSIVE"


def test_the_namespace_alone_ignores_workload_policies():
    found = peerauth.effective([pa("pay", NS, "DISABLE", PAYMENT), pa("default", "istio-system", "STRICT")], NS, None)
    assert found.workload.mode == "STRICT"


# --- hosts --------------------------------------------------------------------------------------------


def test_a_short_host_is_read_in_the_rules_namespace_and_a_dotted_one_as_written():
    catalog = service("productcatalogservice")
    assert hosts.matches("productcatalogservice", NS, catalog)
    assert not hosts.matches("productcatalogservice", "default", catalog)
    assert hosts.matches("productcatalogservice.online-boutique.svc.cluster.local", "default", catalog)
    assert not hosts.matches("productcatalogservice.online-boutique", NS, catalog)    # istiod does not expand it
    assert hosts.matches("*.online-boutique.svc.cluster.local", "x", catalog) and hosts.matches("*", "x", catalog)


def test_rules_for_a_service_are_those_a_caller_sees():
    catalog = service("productcatalogservice")
    mine = obj("DestinationRule", "a", NS, {"host": "productcatalogservice"})
    full = {"host": "productcatalogservice.online-boutique.svc.cluster.local"}
    root = obj("DestinationRule", "b", "istio-system", full)
    elsewhere = obj("DestinationRule", "c", "other", full)
    assert hosts.rules_for(catalog, [mine, root, elsewhere], NS) == [mine, root]


# --- AuthorizationPolicy ------------------------------------------------------------------------------

CHECKOUT = authz.Caller(authz.principal(NS, "checkoutservice"), NS)
FRONTEND = authz.Caller(authz.principal(NS, "frontend"), NS)
ALLOW_NOTHING = obj("AuthorizationPolicy", "allow-nothing", NS, {})


def allow(name: str, selector: dict | None, source: dict, **rule: object) -> dict:
    spec: dict = {"action": "ALLOW", "rules": [{"from": [{"source": source}], **rule}]}
    if selector:
        spec["selector"] = {"matchLabels": selector}
    return obj("AuthorizationPolicy", name, NS, spec)


def test_no_policy_allows_everything_and_allow_nothing_denies_it():
    assert authz.decide([], NS, PAYMENT, FRONTEND).allowed
    verdict = authz.decide([ALLOW_NOTHING], NS, PAYMENT, FRONTEND)
    assert not verdict.allowed and "online-boutique/allow-nothing" in verdict.reason
    assert authz.denies_by_default(ALLOW_NOTHING)


def test_an_allow_policy_lets_in_the_principals_it_lists_only():
    policy = allow("pay", PAYMENT, {"principals": [CHECKOUT.principal]})
    assert authz.decide([ALLOW_NOTHING, policy], NS, PAYMENT, CHECKOUT).by is policy
    assert not authz.decide([ALLOW_NOTHING, policy], NS, PAYMENT, FRONTEND).allowed


def test_wildcards_namespaces_and_service_accounts_match_as_istio_matches_them():
    assert authz.decide([allow("p", None, {"principals": ["cluster.local/ns/online-boutique/*"]})], NS, PAYMENT,
                        CHECKOUT).allowed
    assert authz.decide([allow("p", None, {"principals": ["*/sa/checkoutservice"]})], NS, PAYMENT, CHECKOUT).allowed
    assert authz.decide([allow("p", None, {"namespaces": [NS]})], NS, PAYMENT, CHECKOUT).allowed
    assert not authz.decide([allow("p", None, {"notNamespaces": [NS]})], NS, PAYMENT, CHECKOUT).allowed
    assert authz.decide([allow("p", None, {"serviceAccounts": ["checkoutservice"]})], NS, PAYMENT, CHECKOUT).allowed
    assert not authz.decide([allow("p", None, {"serviceAccounts": ["other/checkoutservice"]})], NS, PAYMENT,
                            CHECKOUT).allowed


def test_deny_comes_first_and_a_deny_on_paths_does_not_deny_the_whole_call():
    everyone = allow("all", None, {"namespaces": ["*"]})
    deny_checkout = obj("AuthorizationPolicy", "no", NS, {"action": "DENY", "rules": [
        {"from": [{"source": {"principals": [CHECKOUT.principal]}}]}]})
    assert authz.decide([everyone, deny_checkout], NS, PAYMENT, CHECKOUT).by is deny_checkout
    deny_path = obj("AuthorizationPolicy", "no", NS, {"action": "DENY", "rules": [
        {"to": [{"operation": {"paths": ["/admin"]}}]}]})
    assert authz.decide([deny_path], NS, PAYMENT, CHECKOUT).allowed
    deny_all = obj("AuthorizationPolicy", "deny-all", NS, {"action": "DENY", "rules": [{}]})
    assert authz.denies_by_default(deny_all) and not authz.decide([deny_all], NS, PAYMENT, CHECKOUT).allowed


def test_ports_narrow_a_rule_and_other_selectors_or_namespaces_do_not_apply():
    on_port = allow("p", PAYMENT, {"principals": [CHECKOUT.principal]}, to=[{"operation": {"ports": ["50051"]}}])
    assert authz.decide([on_port], NS, PAYMENT, CHECKOUT, ports=[50051]).allowed
    assert not authz.decide([on_port], NS, PAYMENT, CHECKOUT, ports=[9090]).allowed
    other = allow("p", {"app": "cartservice"}, {"principals": ["nobody"]})
    assert authz.decide([other], NS, PAYMENT, CHECKOUT).allowed
    elsewhere = obj("AuthorizationPolicy", "allow-nothing", "default", {})
    assert authz.decide([elsewhere], NS, PAYMENT, CHECKOUT).allowed
    mesh_wide = obj("AuthorizationPolicy", "allow-nothing", "istio-system", {})
    assert not authz.decide([mesh_wide], NS, PAYMENT, CHECKOUT).allowed


def test_waypoint_and_audit_policies_are_not_sidecar_verdicts():
    waypoint = obj("AuthorizationPolicy", "w", NS, {"targetRefs": [{"kind": "Service", "name": "x"}]})
    audit = obj("AuthorizationPolicy", "a", NS, {"action": "AUDIT", "rules": [{}]})
    assert authz.decide([waypoint, audit], NS, PAYMENT, CHECKOUT).allowed
