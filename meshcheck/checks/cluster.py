"""Cluster layer: nodes, kube-system, and the Kubernetes dashboard with an admin account."""

from __future__ import annotations

from dataclasses import dataclass

from meshcheck import objects as o
from meshcheck.checks.refs import ref, refs
from meshcheck.results import CheckResult, count, fail, listing, ok

Obj = o.Obj
PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")


def nodes_ready(nodes: list[Obj]) -> CheckResult:
    if not nodes:
        return fail("cluster.nodes_ready", "the cluster has no nodes", "check that the cluster was created")
    problems, settled, bad_nodes = [], True, []
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
            bad_nodes.append(node)
    if problems:
        return fail(
            "cluster.nodes_ready",
            f"{len(problems)} of {count(len(nodes), 'node')} not ready for work: {listing(problems)}",
            "inspect them with 'kubectl describe node NAME' (kubelet, container runtime, disk, "
            "memory); uncordon cordoned nodes with 'kubectl uncordon NAME'",
            settled=settled,
            objects=refs("Node", bad_nodes),
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
    bad, settled, bad_pods = [], True, []
    for pod in system:
        phase = pod.get("status", {}).get("phase")
        if phase == "Succeeded":
            continue
        ready, total = o.ready_count(pod)
        if phase != "Running" or ready < total:
            reason = o.waiting_reason(pod) or phase
            bad.append(f"{o.name(pod)} ({phase}, {ready}/{total} ready{', ' + reason if reason != phase else ''})")
            bad_pods.append(pod)
            settled = settled and o.pod_settled(pod)
    if bad:
        return fail(
            "cluster.system_pods_running",
            f"{count(len(bad), 'kube-system pod', verb=('is', 'are'))} not running and ready: {listing(bad)}",
            "look at 'kubectl -n kube-system describe pod NAME' and its logs",
            settled=settled,
            objects=refs("Pod", bad_pods),
            pods=bad,
        )
    return ok("cluster.system_pods_running", f"all {len(system)} kube-system pods are running")


DNS_NAMES = ("coredns", "kube-dns")


def cluster_dns_available(deployments: list[Obj], pods: list[Obj]) -> CheckResult:
    """Cluster DNS (CoreDNS, labelled k8s-app=kube-dns by kubeadm and kind) is available: every Service
    name the mesh and the shop resolve depends on it, which no other kube-system pod can say of itself."""
    found = [d for d in o.in_namespace(deployments, "kube-system")
             if o.labels(d).get("k8s-app") == "kube-dns" or o.name(d) in DNS_NAMES]
    if not found:
        return fail(
            "cluster.dns_available",
            "no cluster DNS Deployment in kube-system (labelled k8s-app=kube-dns, or named coredns)",
            "install CoreDNS (kubeadm and kind deploy it as Deployment kube-system/coredns)",
        )
    return _available("cluster.dns_available", found[0], pods, " (cluster DNS)",
                      "; every Service name in the cluster resolves through it")


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
    return _available("cluster.dashboard_deployed", found[0], pods)


def _available(check: str, dep: Obj, pods: list[Obj], what: str = "", why: str = "") -> CheckResult:
    if not o.deployment_available(dep):
        return fail(
            check,
            f"Deployment {o.ref(dep)}{what} is not available: {o.deployment_state(dep, pods)}",
            f"see 'kubectl -n {o.namespace(dep)} describe deployment {o.name(dep)}' and its pods' logs{why}",
            settled=o.deployment_settled(dep, pods),
            objects=(ref("Deployment", dep),),
        )
    return ok(check, f"Deployment {o.ref(dep)}{what} is available")


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


@dataclass(frozen=True)
class AdminGrant:
    """A ServiceAccount that a ClusterRoleBinding binds to an admin role (the account may not exist)."""

    namespace: str
    name: str
    binding: str
    role: str
    exists: bool

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


def admin_grants(accounts: list[Obj], bindings: list[Obj], roles: tuple[str, ...]) -> list[AdminGrant]:
    """Every ServiceAccount bound cluster-wide to one of ``roles``, but not by Kubernetes' own
    ``system:`` bindings (those are the control plane's, nobody logs in to the dashboard with them)."""
    grants = []
    for binding in bindings:
        role = binding.get("roleRef") or {}
        if o.name(binding).startswith("system:") or role.get("kind") != "ClusterRole" or role.get("name") not in roles:
            continue
        for subject in binding.get("subjects") or []:
            if subject.get("kind") == "ServiceAccount" and subject.get("name"):
                ns, account = str(subject.get("namespace") or ""), str(subject["name"])
                exists = o.named(accounts, account, ns) is not None
                grants.append(AdminGrant(ns, account, o.name(binding), str(role["name"]), exists))
    return grants


def _dashboard_like(name: str) -> bool:
    return "admin" in name or "dashboard" in name


def dashboard_admin(
    accounts: list[Obj],
    bindings: list[Obj],
    token_secrets: list[Obj],
    token_api: bool,
    namespace: str,
    pinned: str | None = None,
    roles: tuple[str, ...] = ("cluster-admin",),
) -> CheckResult:
    """Someone can log in to the dashboard as admin: a ServiceAccount bound to an admin role that can get a token.

    The account is found by what makes it one, its ClusterRoleBinding, not by its name: the dashboard's
    docs use ``kubernetes-dashboard/admin-user``, the lab created ``kube-system/dashboard-admin``, and
    both are healthy. The dashboard's namespace and dashboard-like names are preferred among several;
    a profile may pin the name. Read-only by design: the token is never requested (that would be a
    write); it is obtainable when the API offers TokenRequest ('kubectl create token') or a token
    Secret names the account.
    """
    check = "cluster.dashboard_admin"
    role_names = " or ".join(roles)
    grants = [g for g in admin_grants(accounts, bindings, roles) if pinned in (None, g.name)]
    found = sorted(
        (g for g in grants if g.exists),
        key=lambda g: (g.namespace != namespace, not _dashboard_like(g.name), g.namespace != "kube-system", g.ref),
    )
    if not found and grants:
        ghost = grants[0]
        return fail(
            check,
            f"ClusterRoleBinding {ghost.binding} binds ServiceAccount {ghost.ref} to {ghost.role}, "
            "but that ServiceAccount does not exist",
            f"create it: kubectl -n {ghost.namespace} create serviceaccount {ghost.name}",
            objects=(f"ClusterRoleBinding//{ghost.binding}",),
        )
    if not found:
        return _no_admin(check, accounts, namespace, pinned, role_names)
    admin = found[0]
    secret = next(
        (
            s
            for s in token_secrets
            if o.namespace(s) == admin.namespace
            and (s["metadata"].get("annotations") or {}).get("kubernetes.io/service-account.name") == admin.name
        ),
        None,
    )
    if not token_api and secret is None:
        return fail(
            check,
            f"no token can be obtained for ServiceAccount {admin.ref}: the API has no "
            "TokenRequest and no service-account-token Secret names it",
            "create a Secret of type kubernetes.io/service-account-token annotated with "
            f"kubernetes.io/service-account.name={admin.name} in namespace {admin.namespace}",
            objects=(f"ServiceAccount/{admin.namespace}/{admin.name}",),
        )
    how = f"the token Secret {o.name(secret)}" if secret else "TokenRequest (kubectl create token)"
    return ok(
        check,
        f"ServiceAccount {admin.ref} is bound to {admin.role} by ClusterRoleBinding {admin.binding} "
        f"and can get a token through {how}",
        account=admin.ref,
        binding=admin.binding,
        role=admin.role,
        others=[g.ref for g in found[1:]],
    )


def _no_admin(check: str, accounts: list[Obj], namespace: str, pinned: str | None, roles: str) -> CheckResult:
    """Nobody is bound: name the account that was meant to be (pinned, or admin-like) and the binding to create."""
    where = (namespace, "kube-system")
    meant = sorted(
        (
            a
            for a in accounts
            if (o.name(a) == pinned if pinned else o.namespace(a) in where and _dashboard_like(o.name(a)))
            and o.name(a) != "kubernetes-dashboard"  # the dashboard's own account, deliberately not an admin
        ),
        key=lambda a: (o.namespace(a) != namespace, o.ref(a)),
    )
    if meant:
        account = meant[0]
        return fail(
            check,
            f"ServiceAccount {o.ref(account)} is bound to none of the ClusterRoles {roles}: no ClusterRoleBinding "
            "names it, so it cannot log in to the dashboard as admin",
            f"bind it: kubectl create clusterrolebinding {o.name(account)} --clusterrole=cluster-admin "
            f"--serviceaccount={o.namespace(account)}:{o.name(account)}",
            objects=(ref("ServiceAccount", account),),
        )
    name = pinned or "admin-user"
    return fail(
        check,
        (f"ServiceAccount {pinned} does not exist in any namespace" if pinned else
         f"no ServiceAccount is bound to {roles} by a ClusterRoleBinding, so nobody can log in to the dashboard "
         "as admin"),
        f"create one: kubectl -n {namespace} create serviceaccount {name} && kubectl create clusterrolebinding "
        f"{name} --clusterrole=cluster-admin --serviceaccount={namespace}:{name}",
    )
