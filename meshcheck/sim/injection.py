"""Istio's sidecar injector, as istiod's webhook (``/inject``) mutates a pod being created.

The API server calls it only for pods its MutatingWebhookConfiguration selects (a namespace labelled
``istio-injection=enabled``, or ``istio.io/rev`` without that label; pods not labelled
``sidecar.istio.io/inject: "false"``), and only when the pod is created: pods that ran before the
label or the webhook existed keep running without a sidecar until they are replaced (a rollout
restart). The injected pod carries what istiod's sidecar template adds (istio/istio
manifests/charts/istio-control/istio-discovery/files/injection-template.yaml): the ``istio-init``
init container and the ``istio-proxy`` container (a native sidecar, an init container with
``restartPolicy: Always``, when istiod runs with ENABLE_NATIVE_SIDECARS=true) from the proxyv2 image
of istiod's own hub and tag, the labels ``security.istio.io/tlsMode`` and
``service.istio.io/canonical-name``/``-revision``, and the annotations that tell Prometheus where to
scrape the proxy (port 15020, /stats/prometheus) and ``sidecar.istio.io/status``.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from meshcheck.sim import defaults
from meshcheck.sim.endpoints import selects
from meshcheck.sim.world import World

Obj = dict[str, Any]
INJECTOR_SUFFIX = "sidecar-injector.istio.io"


def is_injector(hook: Obj) -> bool:
    return str(hook.get("name", "")).endswith(INJECTOR_SUFFIX)


def istiod_container(world: World, hook: Obj) -> Obj | None:
    """The ``discovery`` container of the istiod Deployment behind the webhook's Service."""
    target = (hook.get("clientConfig") or {}).get("service") or {}
    namespace, name = target.get("namespace", ""), target.get("name", "")
    service = next((s for s in world.of_kind("services", namespace) if s["metadata"]["name"] == name), None)
    selector = ((service or {}).get("spec") or {}).get("selector")
    for deployment in world.of_kind("deployments", namespace):
        template = deployment.get("spec", {}).get("template", {})
        if selects(selector, (template.get("metadata") or {}).get("labels")):
            containers = (template.get("spec") or {}).get("containers") or []
            return next((c for c in containers if c.get("name") == "discovery"), containers[0] if containers else None)
    return None


def proxy_image(discovery_image: str) -> str:
    """istiod's hub and tag with the proxy's image name: docker.io/istio/pilot:1.28.3 → .../proxyv2:1.28.3."""
    reference, _, tag = discovery_image.rpartition(":")
    if "/" in tag or not reference:
        reference, tag = discovery_image, "latest"
    hub = reference.rsplit("/", 1)[0] if "/" in reference else "docker.io/istio"
    return f"{hub}/proxyv2:{tag}"


def inject(world: World, pod: Obj, hook: Obj) -> Obj:
    """The pod as the injector returns it (unchanged when it opted out or is injected already)."""
    metadata = pod.get("metadata") or {}
    labels, notes = metadata.get("labels") or {}, metadata.get("annotations") or {}
    spec = pod.get("spec") or {}
    if ("sidecar.istio.io/status" in notes or "false" in (labels.get("sidecar.istio.io/inject"),
                                                          notes.get("sidecar.istio.io/inject"))
            or spec.get("hostNetwork")):
        return pod
    discovery = istiod_container(world, hook) or {}
    image = proxy_image(str(discovery.get("image", "docker.io/istio/pilot:latest")))
    native = any(e.get("name") == "ENABLE_NATIVE_SIDECARS" and str(e.get("value")).lower() == "true"
                 for e in discovery.get("env") or [])
    pod = copy.deepcopy(pod)
    metadata, spec = pod["metadata"], pod["spec"]
    app = labels.get("service.istio.io/canonical-name") or labels.get("app.kubernetes.io/name") or labels.get(
        "app") or metadata.get("name", "").rsplit("-", 2)[0]
    revision = labels.get("app.kubernetes.io/version") or labels.get("version") or "latest"
    metadata["labels"] = {**labels, "security.istio.io/tlsMode": "istio",
                          "service.istio.io/canonical-name": app, "service.istio.io/canonical-revision": revision}
    first = (spec.get("containers") or [{}])[0].get("name", "")
    status = {"initContainers": ["istio-init"] + (["istio-proxy"] if native else []),
              "containers": [] if native else ["istio-proxy"],
              "volumes": ["workload-socket", "credential-socket", "workload-certs", "istio-envoy", "istio-data",
                          "istio-podinfo", "istio-token", "istiod-ca-cert"],
              "imagePullSecrets": None, "revision": "default"}
    metadata["annotations"] = {**notes, "istio.io/rev": "default", "kubectl.kubernetes.io/default-container": first,
                               "prometheus.io/path": "/stats/prometheus", "prometheus.io/port": "15020",
                               "prometheus.io/scrape": "true",
                               "sidecar.istio.io/status": json.dumps(status, separators=(",", ":"))}
    init = {"name": "istio-init", "image": image,
            "args": ["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*", "-x",
                     "", "-b", "*", "-d", "15090,15021,15020", "--log_output_level=default:info"]}
    proxy = {"name": "istio-proxy", "image": image, "args": ["proxy", "sidecar", "--domain",
                                                              "$(POD_NAMESPACE).svc.cluster.local"],
             "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
             "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021}, "periodSeconds": 15,
                                "failureThreshold": 4}}
    if native:
        spec["initContainers"] = [init, {**proxy, "restartPolicy": "Always"}, *(spec.get("initContainers") or [])]
    else:
        spec["initContainers"] = [init, *(spec.get("initContainers") or [])]
        spec["containers"] = [*(spec.get("containers") or []), proxy]
    defaults.pod_spec(spec)
    return pod
