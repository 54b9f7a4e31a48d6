"""Boutique layer: the app's namespace found, its Deployments available, every pod 2/2 with a sidecar."""

from __future__ import annotations

from meshcheck import objects as o
from meshcheck.checks.refs import refs
from meshcheck.profile import Profile
from meshcheck.results import CheckResult, count, fail, listing, ok

Obj = o.Obj


def find_namespace(deployments: list[Obj], profile: Profile) -> str | None:
    """The namespace holding the anchor Deployment (frontend); profile order breaks ties."""
    holders = sorted(
        {o.namespace(d) for d in deployments if o.name(d) == profile.anchor},
        key=lambda ns: (profile.namespaces.index(ns) if ns in profile.namespaces else 99, ns),
    )
    return holders[0] if holders else None


def namespace_found(deployments: list[Obj], profile: Profile) -> CheckResult:
    namespace = find_namespace(deployments, profile)
    if namespace is None:
        return fail(
            "boutique.namespace_found",
            f"no namespace holds a Deployment named {profile.anchor}",
            f"deploy {profile.name} (kubectl apply -n NAMESPACE -f its release manifest)",
        )
    return ok("boutique.namespace_found", f"{profile.name} runs in namespace {namespace}", namespace=namespace)


def deployments_available(deployments: list[Obj], pods: list[Obj], namespace: str, profile: Profile) -> CheckResult:
    """Every workload of the profile has an available Deployment; the pods say whether waiting can help."""
    check = "boutique.deployments_available"
    present = {o.name(d): d for d in o.in_namespace(deployments, namespace)}
    missing = [w for w in profile.workloads if w not in present]
    down = [present[w] for w in profile.workloads if w in present and not o.deployment_available(present[w])]
    if missing or down:
        parts = []
        if missing:
            parts.append(f"missing: {listing(missing)}")
        if down:
            parts.append("not available: " + listing(f"{o.name(d)} ({o.deployment_state(d, pods)})" for d in down))
        fix = (
            f"apply {profile.name}'s manifests to namespace {namespace}"
            if missing
            else f"see 'kubectl -n {namespace} describe deployment NAME' and the pods' events and logs"
        )
        return fail(
            check,
            f"{len(missing) + len(down)} of {len(profile.workloads)} Deployments in {namespace} "
            f"{'is' if len(missing) + len(down) == 1 else 'are'} not available ({'; '.join(parts)})",
            fix,
            settled=all(o.deployment_settled(d, pods) for d in down),
            objects=refs("Deployment", down),
            missing=missing,
            unavailable=[o.name(d) for d in down],
        )
    return ok(check, f"all {len(profile.workloads)} Deployments in {namespace} are available")


def pods_have_sidecars(pods: list[Obj], namespace: str, profile: Profile) -> CheckResult:
    """Every app pod Running, all containers ready, with istio-proxy (a native sidecar counts)."""
    check = "boutique.pods_have_sidecars"
    app_pods = [
        p
        for p in o.in_namespace(pods, namespace)
        if o.app_of(p) in profile.workloads and p.get("status", {}).get("phase") != "Succeeded"
    ]
    if not app_pods:
        return fail(
            check,
            f"namespace {namespace} has no pods of {profile.name}",
            f"check the Deployments' events: kubectl -n {namespace} get events",
        )
    no_sidecar, not_ready, settled = [], [], True
    bare, unready = [], []
    for pod in app_pods:
        ready, total = o.ready_count(pod)
        if not o.has_sidecar(pod):
            no_sidecar.append(f"{o.name(pod)} ({ready}/{total})")
            bare.append(pod)
        elif pod.get("status", {}).get("phase") != "Running" or ready < total:
            unready.append(pod)
            reason = o.waiting_reason(pod)
            not_ready.append(
                f"{o.name(pod)} ({ready}/{total}, not ready: "
                f"{', '.join(o.not_ready_containers(pod))}{', ' + reason if reason else ''})"
            )
            settled = settled and o.pod_settled(pod)
    if no_sidecar:
        return fail(
            check,
            f"{count(len(no_sidecar), 'pod')} in {namespace} without an {o.SIDECAR} container: {listing(no_sidecar)}",
            f"label namespace {namespace} with istio-injection=enabled and restart the deployments "
            f"(kubectl -n {namespace} rollout restart deployment)",
            objects=refs("Pod", bare),
            pods=no_sidecar,
        )
    if not_ready:
        return fail(
            check,
            f"{count(len(not_ready), 'pod', verb=('is', 'are'))} not fully ready in {namespace}: {listing(not_ready)}",
            f"look at 'kubectl -n {namespace} describe pod NAME' and 'kubectl -n {namespace} logs NAME "
            f"-c {o.SIDECAR}' (a proxy that cannot reach istiod stays unready)",
            settled=settled,
            objects=refs("Pod", unready),
            pods=not_ready,
        )
    counts = sorted({f"{r}/{t}" for r, t in map(o.ready_count, app_pods)})
    return ok(
        check, f"all {len(app_pods)} pods in {namespace} run with {o.SIDECAR} and are ready ({', '.join(counts)})"
    )


def restarts_within_budget(pods: list[Obj], namespace: str, profile: Profile) -> CheckResult:
    check = "boutique.restarts_within_budget"
    mine = [p for p in o.in_namespace(pods, namespace) if o.app_of(p) in profile.workloads]
    counts = {o.name(p): o.restarts(p) for p in mine}
    over = [f"{name} ({n} restarts)" for name, n in sorted(counts.items()) if n > profile.max_restarts]
    restarting = sorted((p for p in mine if o.restarts(p) > profile.max_restarts), key=o.name)
    restarted = {name: n for name, n in counts.items() if n}
    if over:
        return fail(
            check,
            f"{count(len(over), 'pod')} restarted more than {profile.max_restarts} times: {listing(over)}",
            f"read the previous run's logs: kubectl -n {namespace} logs NAME --previous",
            objects=refs("Pod", restarting),
            restarts=restarted,
        )
    note = f"; restarts: {listing(f'{k} ({v})' for k, v in restarted.items())}" if restarted else ""
    return ok(
        check, f"no pod in {namespace} restarted more than {profile.max_restarts} times{note}", restarts=restarted
    )
