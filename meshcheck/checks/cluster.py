"""Cluster layer: nodes, kube-system, and the Kubernetes dashboard with an admin account."""

from __future__ import annotations

from meshcheck import objects as o
from meshcheck.results import CheckResult, count, fail, listing, ok

Obj = o.Obj
PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")


def nodes_ready(nodes: list[Obj]) -> CheckResult:
    if not nodes:
        return fail("cluster.nodes_ready", "the cluster has no nodes", "check that the cluster was created")
    problems, settled = [], True
    for node in nodes:
        ready = o.condition(node, "Ready")
        issues = []
        if not ready or ready.get("status") != "True":
            issues.append(
                f"Ready={ready.get('status') if ready else 'missing'}"
                f"{' (' + ready['reason'] + ')' if ready and ready.get('reason') else ''}"
            )
            settled = settled and o.stale((ready or {}).get("lastTransitionTime"))
        issues += [p for p in PRESSURES if (o.condition(node, p) or {}).get("status") == "True"]
        if node.get("spec", {}).get("unschedulable"):
            issues.append("cordoned")
        if issues:
            problems.append(f"{o.name(node)} ({', '.join(issues)})")
    if problems:
        return fail(
            "cluster.nodes_ready",
            f"{len(problems)} of {count(len(nodes), 'node')} not ready for work: {listing(problems)}",
            "inspect them with 'kubectl describe node NAME' (kubelet, container runtime, disk, "
            "memory); uncordon cordoned nodes with 'kubectl uncordon NAME'",
            settled=settled,
            nodes=problems,
        )
    return ok("cluster.nodes_ready", f"all {len(nodes)} nodes are Ready", nodes=[o.name(n) for n in nodes])


def system_pods_running(pods: list[Obj]) -> CheckResult:
    system = o.in_namespace(pods, "kube-system")
    if not system:
        return fail(
            "cluster.system_pods_running",
            "namespace kube-system has no pods",
            "the control plane is not running as pods here; check the cluster's installation",
        )
    bad, settled = [], True
    for pod in system:
        phase = pod.get("status", {}).get("phase")
        if phase == "Succeeded":
            continue
        ready, total = o.ready_count(pod)
        if phase != "Running" or ready < total:
            reason = o.waiting_reason(pod) or phase
            bad.append(f"{o.name(pod)} ({phase}, {ready}/{total} ready{', ' + reason if reason != phase else ''})")
            settled = settled and o.pod_settled(pod)
    if bad:
        return fail(
            "cluster.system_pods_running",
            f"{count(len(bad), 'kube-system pod', verb=('is', 'are'))} not running and ready: {listing(bad)}",
            "look at 'kubectl -n kube-system describe pod NAME' and its logs",
            settled=settled,
            pods=bad,
        )
    return ok("cluster.system_pods_running", f"all {len(system)} kube-system pods are running")


def dashboard_deployed(
    deployments: list[Obj], pods: list[Obj], namespace: str, names: tuple[str, ...]
) -> CheckResult:
    """The dashboard's Deployment is available; its pods say whether waiting can still help."""
    found = [d for d in o.in_namespace(deployments, namespace) if o.name(d) in names]
    if not found:
        return fail(
            "cluster.dashboard_deployed",
            f"no Deployment {' or '.join(names)} in namespace {namespace}",
            "deploy the Kubernetes dashboard (kubectl apply -f the dashboard's recommended.yaml or its Helm chart)",
        )
    dep = found[0]
    if not o.deployment_available(dep):
        return fail(
            "cluster.dashboard_deployed",
            f"Deployment {o.ref(dep)} is not available: {o.deployment_state(dep, pods)}",
            f"see 'kubectl -n {namespace} describe deployment {o.name(dep)}' and its pods' logs",
            settled=o.deployment_settled(dep, pods),
        )
    return ok("cluster.dashboard_deployed", f"Deployment {o.ref(dep)} is available")


def dashboard_service(services: list[Obj], namespace: str, names: tuple[str, ...]) -> CheckResult:
    found = [s for s in o.in_namespace(services, namespace) if o.name(s) in names]
    if not found:
        present = [o.name(s) for s in o.in_namespace(services, namespace)]
        return fail(
            "cluster.dashboard_service",
            f"no Service {' or '.join(names)} in namespace {namespace} (present: {listing(present) or 'none'})",
            "re-apply the dashboard's manifest; the dashboard is reached through that Service "
            "(kubectl proxy or port-forward)",
        )
    ports = [p.get("port") for p in found[0]["spec"].get("ports") or []]
    return ok("cluster.dashboard_service", f"Service {o.ref(found[0])} exposes ports {ports}")


def dashboard_admin(
    accounts: list[Obj],
    bindings: list[Obj],
    token_secrets: list[Obj],
    token_api: bool,
    namespace: str,
    account: str,
    roles: tuple[str, ...] = ("cluster-admin", "admin", "view"),
) -> CheckResult:
    """The admin ServiceAccount exists, is bound to a role that can see the cluster, and can get a token.

    Read-only by design: the token is never requested (that would be a write); it is obtainable
    when the API offers TokenRequest ('kubectl create token') or a token Secret names the account.
    """
    check = "cluster.dashboard_admin"
    if o.named(accounts, account, namespace) is None:
        return fail(
            check,
            f"ServiceAccount {namespace}/{account} does not exist",
            f"create it: kubectl -n {namespace} create serviceaccount {account}",
        )
    bound = [
        b
        for b in bindings
        if b.get("roleRef", {}).get("name") in roles
        and any(
            s.get("kind") == "ServiceAccount" and s.get("name") == account and s.get("namespace") == namespace
            for s in b.get("subjects") or []
        )
    ]
    if not bound:
        return fail(
            check,
            f"ServiceAccount {namespace}/{account} is bound to none of the ClusterRoles {', '.join(roles)}",
            f"bind it: kubectl create clusterrolebinding {account} --clusterrole=cluster-admin "
            f"--serviceaccount={namespace}:{account}",
        )
    secret = next(
        (
            s
            for s in token_secrets
            if (s["metadata"].get("annotations") or {}).get("kubernetes.io/service-account.name") == account
        ),
        None,
    )
    if not token_api and secret is None:
        return fail(
            check,
            f"no token can be obtained for ServiceAccount {namespace}/{account}: the API has no "
            "TokenRequest and no service-account-token Secret names it",
            "create a Secret of type kubernetes.io/service-account-token annotated with "
            f"kubernetes.io/service-account.name={account}",
        )
    how = "a token Secret" if secret else "TokenRequest (kubectl create token)"
    role = bound[0]["roleRef"]["name"]
    return ok(check, f"ServiceAccount {namespace}/{account} is bound to {role} and can get a token through {how}")
