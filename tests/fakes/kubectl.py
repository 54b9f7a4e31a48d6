"""A stand-in for kubectl on PATH, for ci/mint-kubeconfig.sh: the few commands it runs, answered as kubectl does.

``install(directory, ...)`` puts an executable ``kubectl`` there; every call appends ``{"tool": "kubectl",
"args": [...]}`` to the JSON-lines log of ``tests.fakes.calls``. It reads the admin's kubeconfig from
KUBECONFIG (or ``--kubeconfig=``), as kubectl does:
- ``config view --minify --raw [--flatten] --output=jsonpath={.clusters[0].PATH}``: the current (or ``--context=``)
  context's cluster, minified as kubectl minifies (name and cluster);
- ``create token NAME --namespace=NS --duration=D``: prints FAKE_KUBECTL_TOKEN and a newline (fails, as the
  API server would, with FAKE_KUBECTL_NO_ACCOUNT set);
- ``get configmap kube-root-ca.crt --namespace=NS --output=jsonpath={.data.ca\\.crt}``: FAKE_KUBECTL_ROOT_CA;
- ``config set-cluster|set-credentials|set-context|use-context`` on ``--kubeconfig=FILE``: the file written
  as kubectl writes it (an embedded CA as base64 ``certificate-authority-data``), and kubectl's one-line
  answer. With FAKE_KUBECTL_REAL naming a real kubectl, ``config`` commands go to it instead.
Flags are taken only in their ``--name=value`` form, the one the script uses: anything else fails loudly.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

LOG = "FAKE_TOOLS_LOG"
SWITCHES = ("--minify", "--raw", "--flatten")  # kubectl config view's flags without a value


def install(directory: Path) -> dict[str, str]:
    """An executable ``kubectl`` in ``directory``; returns the environment that puts it first on PATH."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "kubectl"
    path.write_text(f"#!{sys.executable}\nimport runpy, sys\n"
                    f"sys.exit(runpy.run_path({str(Path(__file__))!r})['main']())\n")
    path.chmod(0o755)
    return {"PATH": f"{directory}{os.pathsep}{os.environ.get('PATH', '')}", LOG: str(directory / "calls.jsonl")}


def main() -> int:
    args = sys.argv[1:]
    with open(os.environ[LOG], "a") as log:
        log.write(json.dumps({"tool": "kubectl", "args": args}) + "\n")
    flags = {a.split("=", 1)[0]: a.split("=", 1)[1] if "=" in a else "" for a in args if a.startswith("-")}
    words = [a for a in args if not a.startswith("-")]
    unclear = [a for a in args if a.startswith("-") and "=" not in a and a not in SWITCHES]
    if unclear:
        print(f"fake kubectl: only --name=value flags are understood, not {unclear}", file=sys.stderr)
        return 2
    if words[:1] == ["config"] and os.environ.get("FAKE_KUBECTL_REAL"):
        return subprocess.run([os.environ["FAKE_KUBECTL_REAL"], *args]).returncode
    if words[:2] == ["config", "view"]:
        return _view(flags)
    if words[:2] == ["create", "token"]:
        if os.environ.get("FAKE_KUBECTL_NO_ACCOUNT"):
            print(f'error: failed to create token: serviceaccounts "{words[2]}" not found', file=sys.stderr)
            return 1
        print(os.environ["FAKE_KUBECTL_TOKEN"])
        return 0
    if words[:3] == ["get", "configmap", "kube-root-ca.crt"]:
        if not os.environ.get("FAKE_KUBECTL_ROOT_CA"):
            print('Error from server (NotFound): configmaps "kube-root-ca.crt" not found', file=sys.stderr)
            return 1
        sys.stdout.write(os.environ["FAKE_KUBECTL_ROOT_CA"])
        return 0
    if words[:1] == ["config"]:
        return _edit(words[1:], flags)
    print(f"fake kubectl: unexpected command {args}", file=sys.stderr)
    return 2


def _view(flags: dict[str, str]) -> int:
    config = yaml.safe_load(Path(flags.get("--kubeconfig") or os.environ["KUBECONFIG"]).read_text())
    context_name = flags.get("--context") or config.get("current-context")
    context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
    cluster = next(c for c in config["clusters"] if c["name"] == context["cluster"])
    value: Any = {"clusters": [cluster]}
    path = flags["--output"].removeprefix("jsonpath={").removesuffix("}").lstrip(".")
    for part in path.split("."):
        key, _, index = part.partition("[")
        value = value.get(key, "") if isinstance(value, dict) else ""
        if index:
            value = value[int(index.rstrip("]"))]
    sys.stdout.write(str(value))
    return 0


def _edit(words: list[str], flags: dict[str, str]) -> int:
    path = Path(flags["--kubeconfig"])
    config = yaml.safe_load(path.read_text()) if path.exists() else {
        "apiVersion": "v1", "kind": "Config", "preferences": {}, "clusters": [], "users": [], "contexts": [],
        "current-context": ""}
    verb, name = words[0], words[1]
    if verb == "set-cluster":
        cluster: dict[str, Any] = {"server": flags["--server"]}
        if flags.get("--embed-certs") == "true":
            cluster["certificate-authority-data"] = base64.b64encode(
                Path(flags["--certificate-authority"]).read_bytes()).decode()
        _put(config["clusters"], name, "cluster", cluster)
        said = f'Cluster "{name}" set.'
    elif verb == "set-credentials":
        _put(config["users"], name, "user", {"token": flags["--token"]})
        said = f'User "{name}" set.'
    elif verb == "set-context":
        _put(config["contexts"], name, "context", {
            "cluster": flags["--cluster"], "user": flags["--user"], "namespace": flags["--namespace"]})
        said = f'Context "{name}" created.'
    elif verb == "use-context":
        config["current-context"] = name
        said = f'Switched to context "{name}".'
    else:
        print(f"fake kubectl: unexpected config command {words}", file=sys.stderr)
        return 2
    path.write_text(yaml.safe_dump(config))
    print(said)
    return 0


def _put(entries: list[dict[str, Any]], name: str, key: str, value: dict[str, Any]) -> None:
    entries[:] = [e for e in entries if e["name"] != name] + [{"name": name, key: value}]
