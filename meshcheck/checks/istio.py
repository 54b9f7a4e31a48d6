"""Istio layer: control plane, gateways, the sidecar injector, injection labels, versions."""

from __future__ import annotations

from collections import Counter

from meshcheck import objects as o
from meshcheck.checks.refs import ref, refs
from meshcheck.results import CheckResult, count, fail, listing, ok

Obj = o.Obj

INGRESS_LABELS = ({"istio": "ingressgateway"}, {"gateway.istio.io/managed": "istio.io-gateway-controller"})


def _available(check: str, what: str, found: list[Obj], pods: list[Obj], missing_fix: str) -> CheckResult:
    if not found:
        return fail(check, f"no {what} Deployment in any namespace", missing_fix)
    good = [d for d in found if o.deployment_available(d)]
    if not good:
        dep = found[0]
        return fail(
            check,
            f"{what} Deployment {o.ref(dep)} is not available: {o.deployment_state(dep, pods)}",
            f"see 'kubectl -n {o.namespace(dep)} describe deployment {o.name(dep)}' and "
            f"'kubectl -n {o.namespace(dep)} logs deploy/{o.name(dep)}'",
            settled=all(o.deployment_settled(d, pods) for d in found),
            objects=refs("Deployment", found),
        )
    return ok(check, f"{what} Deployment {listing(o.ref(d) for d in good)} is available")


def istiod_available(deployments: list[Obj], pods: list[Obj]) -> CheckResult:
    """istiod's Deployment is available; ``pods`` (every pod read) tell whether waiting can still help."""
    found = [d for d in deployments if o.labels(d).get("app") == "istiod" or o.name(d) == "istiod"]
    return _available(
        "istio.istiod_available", "istiod", found, pods, "install Istio: istioctl install --set profile=demo -y"
    )


def ingress_gateway_available(deployments: list[Obj], pods: list[Obj]) -> CheckResult:
    """An ingress gateway Deployment (classic or Gateway API) is available; ``pods`` as for istiod."""
    found = [
        d for d in deployments if any(all(o.labels(d).get(k) == v for k, v in want.items()) for want in INGRESS_LABELS)
    ]
    return _available(
        "istio.ingress_gateway_available",
        "ingress gateway",
        found,
        pods,
        "install Istio with an ingress gateway (istioctl install --set profile=demo -y), or "
        "apply Online Boutique's Istio component, which creates a Gateway API gateway",
    )


def injector_registered(webhooks: list[Obj]) -> CheckResult:
    for config in webhooks:
        names = [w.get("name", "") for w in config.get("webhooks") or []]
        hooks = [n for n in names if n.endswith("sidecar-injector.istio.io")]
        if hooks:
            return ok(
                "istio.injector_registered", f"MutatingWebhookConfiguration {o.name(config)} registers {listing(hooks)}"
            )
    return fail(
        "istio.injector_registered",
        "no MutatingWebhookConfiguration registers a *.sidecar-injector.istio.io webhook",
        "reinstall Istio (istioctl install) so that istiod's sidecar injector is registered",
    )


def namespace_injection(namespaces: list[Obj], namespace: str) -> CheckResult:
    check = "istio.namespace_injection"
    ns = o.named(namespaces, namespace)
    if ns is None:
        return fail(check, f"namespace {namespace} does not exist", f"create it: kubectl create namespace {namespace}")
    labels = o.labels(ns)
    if labels.get("istio-injection") == "enabled":
        return ok(check, f"namespace {namespace} is labelled istio-injection=enabled")
    if labels.get("istio.io/rev") and labels.get("istio-injection") != "disabled":
        return ok(check, f"namespace {namespace} is labelled istio.io/rev={labels['istio.io/rev']}")
    seen = labels.get("istio-injection", "absent")
    return fail(
        check,
        f"namespace {namespace} is not labelled for sidecar injection (istio-injection={seen})",
        f"kubectl label namespace {namespace} istio-injection=enabled --overwrite, then restart its "
        f"workloads: kubectl -n {namespace} rollout restart deployment",
        objects=(ref("Namespace", ns),),
    )


def versions_agree(deployments: list[Obj], pods: list[Obj]) -> CheckResult:
    check = "istio.versions_agree"
    istiod = [d for d in deployments if o.labels(d).get("app") == "istiod"]
    control = {
        o.image_tag(c.get("image", ""))
        for d in istiod
        for c in d["spec"]["template"]["spec"].get("containers") or []
        if c.get("name") == "discovery"
    }
    control.discard("")
    if not control:
        return fail(
            check,
            "cannot read the control plane's version: no istiod Deployment with a tagged 'discovery' image",
            "install Istio with istioctl so its images carry version tags",
        )
    proxies: Counter[str] = Counter()
    odd: list[str] = []
    skewed_pods: list[Obj] = []
    for pod in pods:
        for container in o.pod_containers(pod):
            if container.get("name") == o.SIDECAR:
                tag = o.image_tag(container.get("image", ""))
                proxies[tag] += 1
                if tag not in control:
                    odd.append(f"{o.ref(pod)} ({tag or 'untagged'})")
                    skewed_pods.append(pod)
    if odd:
        skewed = count(len(odd), "proxy", "proxies", ("runs", "run"))
        return fail(
            check,
            f"control plane is {listing(sorted(control))} but {skewed} another version: {listing(odd)}",
            "restart those workloads so they get the current proxy (kubectl rollout restart "
            "deployment -n NAMESPACE), or finish the Istio upgrade",
            objects=refs("Pod", skewed_pods),
            proxies=dict(proxies),
        )
    return ok(
        check,
        f"control plane and {sum(proxies.values())} proxies all run {listing(sorted(control))}",
        proxies=dict(proxies),
    )
