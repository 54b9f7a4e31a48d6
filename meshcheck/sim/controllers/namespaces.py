"""What every namespace gets from kube-controller-manager: the ``default`` ServiceAccount (the
serviceaccount controller, pkg/controller/serviceaccount) and the ``kube-root-ca.crt`` ConfigMap with
the cluster's CA (the root-ca-cert-publisher, pkg/controller/certificates/rootcacertpublisher), which
pods that use the API mount."""

from __future__ import annotations

from typing import Any

from meshcheck.sim.controllers import Context

Obj = dict[str, Any]
ROOT_CA = "kube-root-ca.crt"
# Not the simulated API server's own CA (the kubeconfig carries that one): pods here never verify it.
PLACEHOLDER_CA = (
    "-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2gAwIBAgIBADAKBggqhkjOPQQDAjAjMSEwHwYDVQQDDBhrM3Mtc2lt\n"
    "-----END CERTIFICATE-----\n"
)


def sync(ctx: Context) -> None:
    for namespace in ctx.world.of_kind("namespaces"):
        name = namespace["metadata"]["name"]
        if ctx.store.get("serviceaccounts", name, "default") is None:
            ctx.store.create("serviceaccounts", {"metadata": {"name": "default", "namespace": name}},
                             generation=False)
        if ctx.store.get("configmaps", name, ROOT_CA) is None:
            ctx.store.create("configmaps", {
                "metadata": {"name": ROOT_CA, "namespace": name,
                             "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to "
                                             "verify the kube-apiserver when using internal endpoints such as the "
                                             "internal service IP or kubernetes.default.svc. No other usage is "
                                             "guaranteed across distributions of Kubernetes clusters."}},
                "data": {"ca.crt": PLACEHOLDER_CA},
            }, generation=False)
