"""The one list of layers, shared by the suite's gating, markers, reports, the deploy step and (later) the rubric.

Order matters: a layer may only require layers listed before it, and the suite module of a
layer is named from its position (``test_10_istio.py``), so people and tools can rely on it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layer:
    name: str
    title: str
    requires: tuple[str, ...]
    order: int

    @property
    def module(self) -> str:
        return f"test_{self.order:02d}_{self.name}"


LAYERS: tuple[Layer, ...] = (
    Layer("cluster", "Nodes, system pods and the Kubernetes dashboard", (), 0),
    Layer("istio", "Istio control plane, gateways and sidecar injection", ("cluster",), 10),
    Layer("boutique", "Online Boutique workloads with sidecars", ("istio",), 20),
    Layer("gateway", "Ingress gateway with an external address routing to frontend", ("boutique",), 30),
    Layer("storefront", "Shopping through the gateway", ("gateway",), 40),
    Layer("telemetry", "Prometheus scraping the mesh", ("boutique",), 50),
    Layer("kiali", "Kiali's graph of the boutique's calls", ("telemetry",), 60),
    Layer("tracing", "Jaeger or Zipkin traces of the boutique", ("boutique",), 70),
    Layer("grafana", "Grafana with Prometheus and Istio's dashboards", ("telemetry",), 80),
    Layer("load", "Locust's traffic: its error rate and latency, seen by Prometheus and Grafana", ("boutique",), 90),
)

BY_NAME: dict[str, Layer] = {layer.name: layer for layer in LAYERS}


def layer_of_module(module_name: str) -> Layer | None:
    """Find the layer whose suite module this is (``test_10_istio`` → istio)."""
    stem = module_name.rsplit(".", 1)[-1]
    return next((layer for layer in LAYERS if layer.module == stem), None)


def prerequisites(name: str) -> list[str]:
    """Every layer that ``name`` rests on, nearest first."""
    seen: list[str] = []
    pending = list(BY_NAME[name].requires)
    while pending:
        current = pending.pop(0)
        if current not in seen:
            seen.append(current)
            pending.extend(BY_NAME[current].requires)
    return seen


@dataclass(frozen=True)
class Deployable:
    """What the deploy step builds, in order: a folder of ``manifests/`` and the layers that verify it.

    ``default`` False: deployed only when named (``--deploy-layers=…,policy``), because it changes what a
    default profile expects of the cluster (a hardened mesh refuses what the lab's allowed).
    """

    name: str
    title: str
    verified_by: tuple[str, ...]  # names of LAYERS
    default: bool = True


DEPLOYABLES: tuple[Deployable, ...] = (
    Deployable("metallb", "MetalLB with an address pool, for the gateway's EXTERNAL-IP", ("gateway",)),
    Deployable("istio", "Istio's demo profile (istiod, ingress and egress gateways)", ("istio",)),
    Deployable("boutique", "Online Boutique in its injected namespace, with its Istio ingress",
               ("boutique", "gateway", "storefront", "load")),
    Deployable("addons", "Istio's Prometheus, Grafana, Jaeger and Kiali", ("telemetry", "kiali", "tracing", "grafana")),
    Deployable("dashboard", "The Kubernetes dashboard and an admin account", ("cluster",)),
    Deployable("policy", "Strict mTLS, a circuit breaker and authorization policies (the hardened profile)",
               ("boutique", "telemetry"), default=False),
)

DEPLOYABLE: dict[str, Deployable] = {d.name: d for d in DEPLOYABLES}
