"""A fresh kind cluster as ``kind create cluster`` leaves it (the ``bare`` scenario), before anything is
deployed on it.

What kind's node image and kubeadm put there (kubernetes-sigs/kind pkg/cluster/internal/create/actions,
images/kindnetd, the local-path-provisioner manifest; kubeadm's control plane): the control plane as
static pods on the control-plane node (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler: owned by their Node, on the host network); the DaemonSets kube-proxy and kindnet,
one pod per node; CoreDNS (two replicas) behind Service ``kube-dns`` 10.96.0.10; the
local-path-provisioner in ``local-path-storage``; Service ``default/kubernetes`` 10.96.0.1; in every
namespace the ``default`` ServiceAccount and the ``kube-root-ca.crt`` ConfigMap; and RBAC's default
roles (cluster-admin, admin, edit, view, the system: roles) with the bindings kubeadm adds, among
them ``kubeadm:cluster-admins`` for the group of the admin kubeconfig's client certificate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meshcheck.sim import kinds as k
from meshcheck.sim.controllers.namespaces import PLACEHOLDER_CA, ROOT_CA

if TYPE_CHECKING:
    from meshcheck.sim.build import Builder

Obj = dict[str, Any]
NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease", "local-path-storage")
COREDNS = "registry.k8s.io/coredns/coredns:v1.12.1"
KINDNET = "docker.io/kindest/kindnetd:v20250512-df8de77b"
LOCAL_PATH = "docker.io/kindest/local-path-provisioner:v20250214-acbabc1a"
CONTROL_PLANE = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
ALL = [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}]
READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]


def build(b: Builder) -> None:
    version = b.model["kubernetes_version"]
    nodes = b.objects.get("nodes", [])
    for name in NAMESPACES:
        b.add("serviceaccounts", k.service_account(b.clock, "default", name))
        b.add("configmaps", k.config_map(b.clock, ROOT_CA, name, {"ca.crt": PLACEHOLDER_CA}))
    control = next((n for n in nodes if "node-role.kubernetes.io/control-plane" in n["metadata"]["labels"]), nodes[0])
    for component in CONTROL_PLANE:
        image = "registry.k8s.io/etcd:3.6.4-0" if component == "etcd" else f"registry.k8s.io/{component}:{version}"
        _static_pod(b, component, image, control)
    for name, image, labels in (("kube-proxy", f"registry.k8s.io/kube-proxy:{version}", {"k8s-app": "kube-proxy"}),
                                ("kindnet", KINDNET, {"app": "kindnet", "k8s-app": "kindnet", "tier": "node"})):
        b.add("serviceaccounts", k.service_account(b.clock, name, "kube-system"))
        _daemon_set(b, name, "kube-system", image, labels, nodes)
    b.add("serviceaccounts", k.service_account(b.clock, "coredns", "kube-system"))
    b.workload("coredns", "kube-system", [k.container("coredns", COREDNS, [53, 9153])], labels={"k8s-app": "kube-dns"},
               replicas=2, service_account="coredns")
    b.add("serviceaccounts", k.service_account(b.clock, "local-path-provisioner-service-account",
                                               "local-path-storage"))
    b.workload("local-path-provisioner", "local-path-storage", [k.container("local-path-provisioner", LOCAL_PATH)],
               labels={"app": "local-path-provisioner"}, service_account="local-path-provisioner-service-account")
    kubernetes = k.service(b.clock, "kubernetes", "default", labels={"component": "apiserver",
                                                                     "provider": "kubernetes"},
                           ports=[{"name": "https", "port": 443, "targetPort": 6443}])
    kubernetes["spec"].update(clusterIP="10.96.0.1", clusterIPs=["10.96.0.1"])
    b.add("services", kubernetes)
    dns = k.service(b.clock, "kube-dns", "kube-system", selector={"k8s-app": "kube-dns"},
                    labels={"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
                            "kubernetes.io/name": "CoreDNS"},
                    ports=[{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53},
                           {"name": "metrics", "port": 9153}])
    dns["spec"].update(clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"])
    b.add("services", dns)
    _rbac(b)


def _static_pod(b: Builder, component: str, image: str, node: Obj) -> None:
    """A control-plane static pod: named after its node, owned by it, on the host network."""
    node_name = node["metadata"]["name"]
    address = node["status"]["addresses"][0]["address"]
    pod = k.pod(b.clock, f"{component}-{node_name}", "kube-system", labels={"component": component,
                                                                            "tier": "control-plane"},
                containers=[k.container(component, image)], node_name=node_name, ip=address)
    pod["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node_name,
                                          "uid": node["metadata"]["uid"], "controller": True}]
    pod["metadata"]["annotations"] = {"kubernetes.io/config.source": "file",
                                      "kubernetes.io/config.hash": k._hash(component, node_name, length=32)}
    pod["spec"].update(hostNetwork=True, priorityClassName="system-node-critical", priority=2000001000,
                       tolerations=[{"operator": "Exists", "effect": "NoExecute"}])
    pod["status"]["hostIPs"] = [{"ip": address}]
    pod["status"]["hostIP"] = address
    b.add("pods", pod)


def _daemon_set(b: Builder, name: str, ns: str, image: str, labels: dict[str, str], nodes: list[Obj]) -> None:
    """A DaemonSet with its rollout done: one running pod on every node (they tolerate every taint)."""
    revision = k._hash(name, "revision", length=10)
    template = {"metadata": {"labels": dict(labels)},
                "spec": {"containers": [k.container(name, image)], "hostNetwork": True, "serviceAccountName": name,
                         "tolerations": [{"operator": "Exists"}], "priorityClassName": "system-node-critical",
                         "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                         "dnsPolicy": "ClusterFirst", "securityContext": {}, "schedulerName": "default-scheduler"}}
    daemon_set = {
        "metadata": k.meta(b.clock, name, ns, labels=labels, generation=1,
                           annotations={"deprecated.daemonset.template.generation": "1"}),
        "spec": {"selector": {"matchLabels": dict(labels)}, "template": template, "revisionHistoryLimit": 10,
                 "updateStrategy": {"type": "RollingUpdate",
                                    "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}},
        "status": {"currentNumberScheduled": len(nodes), "desiredNumberScheduled": len(nodes),
                   "numberAvailable": len(nodes), "numberMisscheduled": 0, "numberReady": len(nodes),
                   "observedGeneration": 1, "updatedNumberScheduled": len(nodes)},
    }
    b.add("daemonsets", daemon_set)
    owner = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": name, "uid": daemon_set["metadata"]["uid"],
             "controller": True, "blockOwnerDeletion": True}
    for node in nodes:
        node_name = node["metadata"]["name"]
        address = node["status"]["addresses"][0]["address"]
        pod = k.pod(b.clock, f"{name}-{k._hash(name, node_name, length=5)}", ns,
                    labels={**labels, "controller-revision-hash": revision, "pod-template-generation": "1"},
                    containers=template["spec"]["containers"], node_name=node_name, ip=address, owner=owner,
                    service_account=name)
        pod["metadata"]["ownerReferences"] = [owner]
        pod["spec"].update(hostNetwork=True, tolerations=[{"operator": "Exists"}])
        pod["status"]["hostIP"] = address
        pod["status"]["hostIPs"] = [{"ip": address}]
        b.add("pods", pod)


def _rbac(b: Builder) -> None:
    """The default ClusterRoles (a selection of the system: ones) and the bindings kubeadm and kind add."""
    roles = {
        "cluster-admin": ALL,
        "admin": [{"apiGroups": ["", "apps", "batch", "networking.k8s.io", "policy", "autoscaling"],
                   "resources": ["*"], "verbs": READ + WRITE},
                  {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"],
                   "verbs": READ + WRITE}],
        "edit": [{"apiGroups": ["", "apps", "batch", "networking.k8s.io", "policy", "autoscaling"],
                  "resources": ["*"], "verbs": READ + WRITE}],
        "view": [{"apiGroups": ["", "apps", "batch", "networking.k8s.io", "policy", "autoscaling"],
                  "resources": ["*"], "verbs": READ}],
        "system:basic-user": [{"apiGroups": ["authorization.k8s.io"],
                               "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                               "verbs": ["create"]}],
        "system:discovery": [{"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez",
                                                  "/openapi", "/openapi/*", "/readyz", "/version", "/version/"],
                              "verbs": ["get"]}],
        "system:public-info-viewer": [{"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version",
                                                           "/version/"], "verbs": ["get"]}],
        "system:node-proxier": [{"apiGroups": [""], "resources": ["endpoints", "services"], "verbs": READ}],
        "system:coredns": [{"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
                            "verbs": ["list", "watch"]}],
        "kindnet": [{"apiGroups": [""], "resources": ["nodes", "pods", "namespaces"], "verbs": READ}],
        "local-path-provisioner-role": [{"apiGroups": [""], "resources": ["nodes", "persistentvolumeclaims",
                                                                          "configmaps", "pods"], "verbs": READ}],
    }
    for name, rules in roles.items():
        role = k.cluster_role(b.clock, name, rules)
        if name.startswith(("kindnet", "local-path")):
            role["metadata"].pop("labels", None)
        b.add("clusterroles", role)
    for name, role, subject in (
        ("cluster-admin", "cluster-admin", {"kind": "Group", "name": "system:masters"}),
        ("kubeadm:cluster-admins", "cluster-admin", {"kind": "Group", "name": "kubeadm:cluster-admins"}),
        ("system:basic-user", "system:basic-user", {"kind": "Group", "name": "system:authenticated"}),
        ("system:discovery", "system:discovery", {"kind": "Group", "name": "system:authenticated"}),
        ("system:public-info-viewer", "system:public-info-viewer", {"kind": "Group", "name": "system:unauthenticated"}),
        ("kubeadm:node-proxier", "system:node-proxier",
         {"kind": "ServiceAccount", "name": "kube-proxy", "namespace": "kube-system"}),
        ("system:coredns", "system:coredns", {"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}),
        ("kindnet", "kindnet", {"kind": "ServiceAccount", "name": "kindnet", "namespace": "kube-system"}),
        ("local-path-provisioner-bind", "local-path-provisioner-role",
         {"kind": "ServiceAccount", "name": "local-path-provisioner-service-account",
          "namespace": "local-path-storage"}),
    ):
        if subject["kind"] == "Group":
            subject = {"apiGroup": "rbac.authorization.k8s.io", **subject}
        b.add("clusterrolebindings", k.cluster_role_binding(b.clock, name, role, [subject]))
