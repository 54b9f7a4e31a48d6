"""meshcheck.checks.cluster: nodes, kube-system pods and the dashboard, on hand-built objects."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from meshcheck.checks import cluster as checks
from meshcheck.sim import scenario
from meshcheck.sim.build import build_world


def ago(seconds: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def node(name: str, ready: str = "True", since: float = 7200, **extra: Any) -> dict[str, Any]:
    conditions = [
        {"type": "Ready", "status": ready, "lastTransitionTime": ago(since)},
        *({"type": kind, "status": "True"} for kind in extra.pop("pressure", ())),
        {"type": "DiskPressure", "status": "False"},
    ]
    if ready != "True":
        conditions[0]["reason"] = "NodeStatusUnknown"
    return {"metadata": {"name": name}, "spec": dict(extra), "status": {"conditions": conditions}}


@pytest.fixture(scope="module")
def world():
    return build_world(scenario.load("healthy"), "127.0.0.9", 80)


# --- nodes ---------------------------------------------------------------------------------------


def test_nodes_ready_passes_on_ready_nodes():
    result = checks.nodes_ready([node("n1"), node("n2")])
    assert result.passed
    assert "all 2 nodes are Ready" in result.message


def test_nodes_ready_fails_without_nodes():
    result = checks.nodes_ready([])
    assert not result.passed and "no nodes" in result.message


def test_cordoned_node_fails_settled_with_uncordon_fix():
    result = checks.nodes_ready([node("n1"), node("n2", unschedulable=True)])
    assert not result.passed
    assert "n2 (cordoned)" in result.message and "1 of 2 nodes" in result.message
    assert "n1" not in result.message
    assert "kubectl uncordon" in result.remediation
    assert result.settled


def test_memory_pressure_fails():
    result = checks.nodes_ready([node("n1", pressure=("MemoryPressure",))])
    assert not result.passed
    assert "n1 (MemoryPressure)" in result.message
    assert "DiskPressure" not in result.message
    assert "kubectl describe node" in result.remediation


def test_recently_not_ready_node_is_not_settled():
    result = checks.nodes_ready([node("n1", ready="Unknown", since=30)])
    assert not result.passed
    assert "n1 (Ready=Unknown (NodeStatusUnknown))" in result.message
    assert not result.settled


def test_long_not_ready_node_is_settled():
    result = checks.nodes_ready([node("n1", ready="False", since=3600)])
    assert not result.passed and "Ready=False" in result.message
    assert result.settled


def test_node_without_ready_condition_fails_unsettled():
    bare = {"metadata": {"name": "n0"}, "spec": {}, "status": {"conditions": []}}
    result = checks.nodes_ready([bare])
    assert not result.passed and "n0 (Ready=missing)" in result.message
    assert not result.settled


def test_simulated_nodes_pass_and_node_not_ready_scenario_fails():
    healthy = build_world(scenario.load("healthy"), "127.0.0.9", 80)
    assert checks.nodes_ready(healthy.objects["nodes"]).passed
    broken = build_world(scenario.load("node-not-ready"), "127.0.0.9", 80)
    result = checks.nodes_ready(broken.objects["nodes"])
    assert not result.passed and result.settled  # not ready for hours


# --- kube-system pods ----------------------------------------------------------------------------


def system_pod(name: str, phase: str = "Running", ready: bool = True, waiting: str | None = None, start: float = 60,
               restarts: int = 0):
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    return {
        "metadata": {"name": name, "namespace": "kube-system"},
        "spec": {"containers": [{"name": "c"}]},
        "status": {
            "phase": phase,
            "startTime": ago(start),
            "containerStatuses": [{"name": "c", "ready": ready, "restartCount": restarts, "state": state}],
        },
    }


def test_system_pods_pass_in_the_simulated_world(world):
    result = checks.system_pods_running(world.objects["pods"])
    assert result.passed, result.message


def test_system_pods_fail_without_kube_system():
    result = checks.system_pods_running([{**system_pod("x"), "metadata": {"name": "x", "namespace": "default"}}])
    assert not result.passed and "namespace kube-system has no pods" in result.message


def test_crash_looping_system_pod_fails_settled():
    result = checks.system_pods_running(
        [system_pod("ok"), system_pod("coredns-1", ready=False, waiting="CrashLoopBackOff", restarts=12)]
    )
    assert not result.passed
    assert "coredns-1 (Running, 0/1 ready, CrashLoopBackOff)" in result.message
    assert "ok (" not in result.message
    assert "kubectl -n kube-system describe pod" in result.remediation
    assert result.settled


def test_a_young_crash_loop_of_a_system_pod_is_still_worth_a_wait():
    young = system_pod("coredns-1", ready=False, waiting="CrashLoopBackOff", restarts=1)
    result = checks.system_pods_running([young])
    assert not result.passed and not result.settled


def test_recently_pending_system_pod_is_not_settled_and_succeeded_is_ignored():
    pending = system_pod("etcd-1", phase="Pending", ready=False, waiting="ContainerCreating", start=10)
    done = system_pod("job-1", phase="Succeeded", ready=False)
    result = checks.system_pods_running([pending, done])
    assert not result.passed
    assert "etcd-1 (Pending, 0/1 ready, ContainerCreating)" in result.message
    assert "job-1" not in result.message
    assert not result.settled


def test_a_pod_that_was_never_scheduled_counts_its_age_from_creation():
    """Unschedulable pods have no startTime: one pending for hours is settled, one just created is not."""
    def unscheduled(created: float) -> dict[str, Any]:
        return {"metadata": {"name": "metrics-1", "namespace": "kube-system", "creationTimestamp": ago(created)},
                "spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Pending"}}

    old, new = checks.system_pods_running([unscheduled(7200)]), checks.system_pods_running([unscheduled(5)])
    assert not old.passed and "metrics-1 (Pending, 0/1 ready)" in old.message and old.settled
    assert not new.passed and not new.settled


# --- the dashboard --------------------------------------------------------------------------------


NAMES = ("kubernetes-dashboard",)


def test_dashboard_deployed_passes_and_fails(world):
    ok = checks.dashboard_deployed(world.objects["deployments"], world.objects["pods"], "kubernetes-dashboard", NAMES)
    assert ok.passed and "kubernetes-dashboard/kubernetes-dashboard" in ok.message
    missing = checks.dashboard_deployed(world.objects["deployments"], world.objects["pods"], "elsewhere", NAMES)
    assert not missing.passed
    assert "no Deployment kubernetes-dashboard in namespace elsewhere" in missing.message
    assert "recommended.yaml" in missing.remediation


def test_dashboard_unavailable_names_the_deployment_and_state():
    dep = {
        "metadata": {"name": "kubernetes-dashboard", "namespace": "kubernetes-dashboard"},
        "spec": {"replicas": 1},
        "status": {"conditions": [{"type": "Available", "status": "False"}, {"type": "Progressing", "status": "True"}]},
    }
    result = checks.dashboard_deployed([dep], [], "kubernetes-dashboard", NAMES)
    assert not result.passed
    assert "kubernetes-dashboard/kubernetes-dashboard is not available: 0/1 replicas available" in result.message
    assert "describe deployment kubernetes-dashboard" in result.remediation
    assert not result.settled


def test_dashboard_crash_looping_for_an_hour_fails_settled_and_names_its_pod():
    broken = build_world(scenario.merge(scenario.load("healthy"), {"dashboard": {"available": False}}), None, 0)
    result = checks.dashboard_deployed(
        broken.objects["deployments"], broken.objects["pods"], "kubernetes-dashboard", NAMES
    )
    assert not result.passed and result.settled
    assert "0/1 replicas available (pod kubernetes-dashboard-" in result.message
    assert "CrashLoopBackOff, 15 restarts" in result.message


def test_dashboard_service_passes_and_lists_present_services_when_missing(world):
    ok = checks.dashboard_service(world.objects["services"], "kubernetes-dashboard", NAMES)
    assert ok.passed and "[443]" in ok.message
    other = {"metadata": {"name": "other", "namespace": "kubernetes-dashboard"}, "spec": {}}
    missing = checks.dashboard_service([other], "kubernetes-dashboard", NAMES)
    assert not missing.passed
    assert "no Service kubernetes-dashboard" in missing.message and "present: other" in missing.message
    assert "re-apply the dashboard's manifest" in missing.remediation


def sa(name: str, ns: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}}


def crb(name: str, role: str, *subjects: tuple[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": name}, "roleRef": {"kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": n, "namespace": ns} for n, ns in subjects]}


DASHBOARD_NS = "kubernetes-dashboard"


def test_dashboard_admin_passes_with_token_api_and_fails_without_any_token(world):
    args = (world.objects["serviceaccounts"], world.objects["clusterrolebindings"])
    ok = checks.dashboard_admin(*args, [], True, DASHBOARD_NS)
    assert ok.passed and ok.diagnostics["account"] == "kubernetes-dashboard/admin-user"
    assert "bound to cluster-admin by ClusterRoleBinding admin-user" in ok.message and "TokenRequest" in ok.message
    no_token = checks.dashboard_admin(*args, [], False, DASHBOARD_NS)
    assert not no_token.passed
    assert "no token can be obtained for ServiceAccount kubernetes-dashboard/admin-user" in no_token.message
    assert "kubernetes.io/service-account.name=admin-user" in no_token.remediation
    secret = {"metadata": {"name": "admin-user-token-x1", "namespace": DASHBOARD_NS,
                           "annotations": {"kubernetes.io/service-account.name": "admin-user"}}}
    with_secret = checks.dashboard_admin(*args, [secret], False, DASHBOARD_NS)
    assert with_secret.passed and "the token Secret admin-user-token-x1" in with_secret.message
    elsewhere = {**secret, "metadata": {**secret["metadata"], "namespace": "default"}}
    assert not checks.dashboard_admin(*args, [elsewhere], False, DASHBOARD_NS).passed


def test_dashboard_admin_is_found_by_its_binding_not_its_name():
    """The lab's kube-system/dashboard-admin passes as the docs' admin-user does; the one found is named."""
    accounts = [sa("dashboard-admin", "kube-system"), sa("kubernetes-dashboard", DASHBOARD_NS)]
    bindings = [crb("dashboard-admin", "cluster-admin", ("dashboard-admin", "kube-system"))]
    result = checks.dashboard_admin(accounts, bindings, [], True, DASHBOARD_NS)
    assert result.passed and "ServiceAccount kube-system/dashboard-admin is bound to cluster-admin" in result.message


def test_dashboard_admin_prefers_the_dashboards_namespace_and_dashboard_like_names():
    accounts = [sa("ci-bot", "default"), sa("dashboard-admin", "kube-system"), sa("admin-user", DASHBOARD_NS)]
    bindings = [crb("ci", "cluster-admin", ("ci-bot", "default")),
                crb("lab", "cluster-admin", ("dashboard-admin", "kube-system")),
                crb("docs", "cluster-admin", ("admin-user", DASHBOARD_NS))]
    result = checks.dashboard_admin(accounts, bindings, [], True, DASHBOARD_NS)
    assert result.diagnostics["account"] == f"{DASHBOARD_NS}/admin-user"
    assert result.diagnostics["others"] == ["kube-system/dashboard-admin", "default/ci-bot"]
    assert checks.dashboard_admin(accounts, bindings[:2], [], True, DASHBOARD_NS).diagnostics["account"] == (
        "kube-system/dashboard-admin")


def test_dashboard_admin_ignores_system_bindings_and_other_roles():
    accounts = [sa("clusterrole-aggregation-controller", "kube-system"), sa("viewer", DASHBOARD_NS)]
    bindings = [crb("system:controller:clusterrole-aggregation-controller", "cluster-admin",
                    ("clusterrole-aggregation-controller", "kube-system")),
                crb("viewer", "view", ("viewer", DASHBOARD_NS))]
    result = checks.dashboard_admin(accounts, bindings, [], True, DASHBOARD_NS)
    assert not result.passed and "no ServiceAccount is bound to cluster-admin" in result.message
    assert "create serviceaccount admin-user" in result.remediation
    assert checks.dashboard_admin(accounts, bindings, [], True, DASHBOARD_NS, roles=("cluster-admin", "view")).passed


def test_dashboard_admin_fails_for_a_missing_pinned_or_unbound_account(world):
    accounts = world.objects["serviceaccounts"]
    missing = checks.dashboard_admin(accounts, world.objects["clusterrolebindings"], [], True, DASHBOARD_NS, "nobody")
    assert not missing.passed
    assert "ServiceAccount nobody does not exist in any namespace" in missing.message
    assert "create serviceaccount nobody" in missing.remediation
    unbound = checks.dashboard_admin(accounts, [], [], True, DASHBOARD_NS)
    assert not unbound.passed
    assert "ServiceAccount kubernetes-dashboard/admin-user is bound to none of the ClusterRoles" in unbound.message
    assert "clusterrolebinding admin-user --clusterrole=cluster-admin" in unbound.remediation
    assert "--serviceaccount=kubernetes-dashboard:admin-user" in unbound.remediation
    lab = checks.dashboard_admin([sa("dashboard-admin", "kube-system")], [], [], True, DASHBOARD_NS)
    assert "--serviceaccount=kube-system:dashboard-admin" in lab.remediation


def test_dashboard_admin_bound_but_missing_names_the_binding():
    bindings = [crb("dashboard-admin", "cluster-admin", ("dashboard-admin", "kube-system"))]
    result = checks.dashboard_admin([], bindings, [], True, DASHBOARD_NS)
    assert not result.passed
    assert "ClusterRoleBinding dashboard-admin binds ServiceAccount kube-system/dashboard-admin" in result.message
    assert "kubectl -n kube-system create serviceaccount dashboard-admin" in result.remediation
