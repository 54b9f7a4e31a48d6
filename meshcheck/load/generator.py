"""The in-cluster load generator, found among what the suite listed, and its log read through the API.

A thin door between the cluster (``meshcheck.kube``) and the pure checks (``meshcheck.checks.load``): it
finds the Deployment and its newest pod in the lists every layer shares (no request of its own), and
reads the last lines of Locust's container with timestamps (one request), only when Locust runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from meshcheck import kube
from meshcheck.addons.locust import LogReading, parse_log
from meshcheck.checks.load import Generator, generator_runs, locate

# Lines of the log read at once: a table of Online Boutique's generator takes about 20 (its pages, one
# line each, product pages one per product), so this holds several tables even with other lines between.
TAIL_LINES = 120


@dataclass(frozen=True)
class GeneratorReader:
    cluster: kube.Cluster
    namespace: str
    name: str
    container: str
    tail_lines: int = TAIL_LINES

    def locate(self) -> Generator:
        return locate(self.cluster.list(kube.DEPLOYMENTS), self.cluster.list(kube.PODS), self.namespace,
                      self.name, self.container)

    def read(self) -> tuple[Generator, LogReading | None]:
        """The generator as listed, and what its log shows (None when Locust does not run to be read)."""
        generator = self.locate()
        if not generator_runs(generator).passed:
            return generator, None
        text = self.cluster.pod_log(self.namespace, generator.pod_name, self.container, tail_lines=self.tail_lines)
        return generator, parse_log(text)
