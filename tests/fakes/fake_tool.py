"""Stand-ins for kind, docker and istioctl on PATH: each records its arguments and answers as the real tool.

Installed by ``tests.fakes.install(directory, log)`` as executables named after the tool; every
call appends ``{"tool": ..., "args": [...]}`` to the JSON-lines log named by FAKE_TOOLS_LOG, and
keeps the clusters it "created" in FAKE_TOOLS_STATE. FAKE_KIND_KUBECONFIG names the kubeconfig that
``kind create cluster`` writes (e.g. a simulated cluster's); FAKE_FAIL names a "tool:verb" that fails.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

KIND_VERSION = os.environ.get("FAKE_KIND_VERSION", "v0.30.0")


def main(tool: str | None = None) -> int:
    tool, args = tool or Path(sys.argv[0]).name, sys.argv[1:]
    with open(os.environ["FAKE_TOOLS_LOG"], "a") as log:
        log.write(json.dumps({"tool": tool, "args": args}) + "\n")
    verb = f"{tool}:{' '.join(a for a in args[:2] if not a.startswith('-'))}"
    if os.environ.get("FAKE_FAIL") and verb.startswith(os.environ["FAKE_FAIL"]):
        print(f"ERROR: {verb} failed (simulated)", file=sys.stderr)
        return 1
    return {"kind": kind, "docker": docker, "istioctl": istioctl}[tool](args)


def _clusters() -> list[str]:
    state = Path(os.environ["FAKE_TOOLS_STATE"])
    return state.read_text().split() if state.exists() else []


def _save(clusters: list[str]) -> None:
    Path(os.environ["FAKE_TOOLS_STATE"]).write_text("\n".join(clusters))


def _flag(args: list[str], name: str) -> str:
    for index, arg in enumerate(args):
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
        if arg == name and index + 1 < len(args):
            return args[index + 1]
    return ""


def kind(args: list[str]) -> int:
    if args[:1] == ["version"]:
        print(f"kind {KIND_VERSION} go1.24.6 linux/amd64")
    elif args[:2] == ["get", "clusters"]:
        print("\n".join(_clusters()) or "No kind clusters found.", file=sys.stdout if _clusters() else sys.stderr)
    elif args[:2] == ["create", "cluster"]:
        name = _flag(args, "--name")
        shutil.copy(os.environ["FAKE_KIND_KUBECONFIG"], _flag(args, "--kubeconfig"))
        _save([*_clusters(), name])
    elif args[:2] == ["export", "kubeconfig"]:
        if _flag(args, "--name") not in _clusters():
            print(f'ERROR: unknown cluster "{_flag(args, "--name")}"', file=sys.stderr)
            return 1
        shutil.copy(os.environ["FAKE_KIND_KUBECONFIG"], _flag(args, "--kubeconfig"))
    elif args[:2] == ["delete", "cluster"]:
        _save([c for c in _clusters() if c != _flag(args, "--name")])
    return 0


def docker(args: list[str]) -> int:
    if args[:3] == ["network", "inspect", "kind"]:
        subnet = os.environ.get("FAKE_DOCKER_SUBNET", "172.18.0.0/16")
        gateway = subnet.rsplit(".", 2)[0] + ".0.1"
        print(json.dumps([{"Name": "kind", "IPAM": {"Driver": "default", "Config": [
            {"Subnet": "fc00:f853:ccd:e793::/64"}, {"Subnet": subnet, "Gateway": gateway}]}}]))
        return 0
    return 1


def istioctl(args: list[str]) -> int:
    if args[:1] == ["version"]:
        print("client version: 1.28.3")
    elif args[:1] == ["install"]:
        if os.environ.get("FAKE_SLEEP"):  # a long install, for tests that interrupt it
            import time

            time.sleep(float(os.environ["FAKE_SLEEP"]))
        manifest = os.environ.get("FAKE_ISTIO_MANIFEST")
        if manifest:  # what istioctl would leave in the cluster, applied through the project's writing door
            import yaml

            from meshcheck.deploy.apply import Writer

            writer = Writer.connect(_flag(args, "--kubeconfig") or None, _flag(args, "--context") or None)
            for doc in yaml.safe_load_all(Path(manifest).read_text()):
                writer.apply(doc)
        print("✔ Istio core installed ⛵️\n✔ Istiod installed 🧠\n✔ Installation complete")
    return 0


if __name__ == "__main__":
    sys.exit(main())
