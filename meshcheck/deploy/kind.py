"""A kind cluster for a CI run: created with a pinned kind and node image, and always cleaned up.

pytest-kind-ng's ``KindCluster`` runs kind; what it lacks for a CI gate is supplied here: its
default kind (v0.17, amd64 only, downloaded unchecked) is replaced by the kind pinned in
``manifests/lock.yaml`` (or one on PATH of exactly that version), the node image is pinned by
digest, the cluster has the workers asked for, and MetalLB's address pool is carved from the
Docker network kind runs on. A cluster this run created is deleted when the run ends, after a
failure, a Ctrl-C or a SIGTERM from a cancelled CI job too, unless it is to be kept; a cluster that
existed before the run is never deleted by it.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pytest_kind import KindCluster

from meshcheck.deploy import pins
from meshcheck.errors import DeployError

Runner = Callable[..., subprocess.CompletedProcess]
POOL_SIZE = 50  # LoadBalancer addresses MetalLB may hand out, from the top of kind's network


@dataclass
class KindOptions:
    name: str = "meshcheck"
    workers: int = 1
    keep: bool = False
    workdir: Path = field(default_factory=lambda: Path(".pytest-kind").resolve())


class Kind:
    """Creates (or reuses) and deletes one kind cluster; usable from a plain script as from pytest."""

    def __init__(self, lock: pins.Lock, options: KindOptions, *, run: Runner = subprocess.run,
                 progress: Callable[[str], None] = print) -> None:
        self.lock = lock
        self.options = options
        self._run = run
        self.progress = progress
        self.created = False
        self._cluster: KindCluster | None = None

    # --- the pinned kind ------------------------------------------------------------------

    def binary(self) -> Path:
        """kind on PATH when it is the pinned version, else the pinned download (verified)."""
        version = self.lock.version("kind")
        found, said = pins.on_path("kind", version, ["version"], self._run)
        if found:
            return found
        if said:
            self.progress(f"kind on PATH is {' '.join(said.split()[:2])}, not {version}: using the pinned download")
        return pins.executable(self.lock.tool("kind"))

    @property
    def node_image(self) -> str:
        return str(self.lock.tools["kind"]["node_image"])

    def config(self) -> str:
        """kind's cluster config: one control plane and the asked-for workers, on the pinned node image."""
        lines = ["kind: Cluster", "apiVersion: kind.x-k8s.io/v1alpha4", "nodes:",
                 f"  - role: control-plane\n    image: {self.node_image}"]
        lines += [f"  - role: worker\n    image: {self.node_image}"] * self.options.workers
        return "\n".join(lines) + "\n"

    # --- lifecycle ------------------------------------------------------------------------

    def exists(self, binary: Path) -> bool:
        return self.options.name in self._output([str(binary), "get", "clusters"]).split()

    def create(self) -> Path:
        """The kubeconfig of the cluster, created now unless one of that name exists (then reused)."""
        binary = self.binary()
        directory = self.options.workdir / self.options.name
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "kind-config.yaml"
        config.write_text(self.config())
        kubeconfig = directory / "kubeconfig"
        self.created = not self.exists(binary)
        verb = "creating" if self.created else "reusing"
        self.progress(f"kind: {verb} cluster {self.options.name} ({self.node_image.split('@')[0]}, "
                      f"{self.options.workers} worker{'s' if self.options.workers != 1 else ''})")
        if not self.created:  # a kubeconfig of the existing cluster: pytest-kind-ng expects one left by an earlier run
            self._output([str(binary), "export", "kubeconfig", f"--name={self.options.name}",
                          f"--kubeconfig={kubeconfig}"])
        cluster = KindCluster(self.options.name, kubeconfig=kubeconfig, image=self.node_image, kind_path=binary)
        cluster.path = directory
        self._cluster = cluster
        try:
            cluster.create(config_file=config)
        except (subprocess.CalledProcessError, OSError) as exc:
            raise DeployError(f"kind could not create cluster {self.options.name} ({exc}): check that Docker "
                              "runs and has room (docker info), then run again") from None
        return kubeconfig

    def delete(self) -> None:
        """Delete the cluster if this run created it and it is not to be kept."""
        if self._cluster is None or not self.created or self.options.keep:
            if self._cluster is not None:
                self.progress(f"kind: keeping cluster {self.options.name} (delete it with: kind delete cluster "
                              f"--name {self.options.name})")
            return
        self.progress(f"kind: deleting cluster {self.options.name}")
        try:
            self._cluster.delete()
        except (subprocess.CalledProcessError, OSError) as exc:
            self.progress(f"kind: could not delete cluster {self.options.name} ({exc}): "
                          f"kind delete cluster --name {self.options.name}")
        self._cluster = None

    # --- the Docker network, for MetalLB ----------------------------------------------------

    def address_pool(self, size: int = POOL_SIZE) -> str:
        """A range at the top of kind's Docker network (IPv4), where Docker hands out no container address."""
        said = self._output(["docker", "network", "inspect", "kind"])
        try:
            configs = json.loads(said)[0]["IPAM"]["Config"]
        except (ValueError, LookupError, TypeError):
            raise DeployError("docker network inspect kind did not describe the kind network: is Docker "
                              "running, and was the cluster created?") from None
        for entry in configs or []:
            try:
                network = ipaddress.ip_network(entry.get("Subnet", ""), strict=False)
            except ValueError:
                continue
            if network.version == 4 and network.num_addresses > size + 2:
                top = network.broadcast_address - 1
                return f"{top - (size - 1)}-{top}"
        raise DeployError("the kind Docker network has no IPv4 subnet with room for LoadBalancer addresses")

    def _output(self, command: list[str]) -> str:
        try:
            done = self._run(command, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DeployError(f"{command[0]} could not be run ({exc.__class__.__name__}: {exc}): is it installed?") \
                from None
        if done.returncode != 0:
            raise DeployError(f"'{' '.join(command)}' failed: {' '.join((done.stderr or '').split())[:300]}")
        return done.stdout or ""
