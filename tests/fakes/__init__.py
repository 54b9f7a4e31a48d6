"""Fake command-line tools for tests of the code that runs kind, docker and istioctl."""

from __future__ import annotations

import os
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("fake_tool.py")


def install(directory: Path, tools: tuple[str, ...] = ("kind", "docker", "istioctl")) -> dict[str, str]:
    """Put executables named ``tools`` in ``directory``; returns the environment that puts them first on PATH."""
    directory.mkdir(parents=True, exist_ok=True)
    for tool in tools:
        path = directory / tool
        path.write_text(f"#!{sys.executable}\nimport runpy, sys\n"
                        f"sys.exit(runpy.run_path({str(SCRIPT)!r})['main']({tool!r}))\n")
        path.chmod(0o755)
    return {
        "PATH": f"{directory}{os.pathsep}{os.environ.get('PATH', '')}",
        "FAKE_TOOLS_LOG": str(directory / "calls.jsonl"),
        "FAKE_TOOLS_STATE": str(directory / "clusters"),
    }


def calls(directory: Path) -> list[tuple[str, list[str]]]:
    """Every call the fakes recorded, in order: (tool, args)."""
    import json

    log = directory / "calls.jsonl"
    if not log.exists():
        return []
    return [(entry["tool"], entry["args"]) for entry in map(json.loads, log.read_text().splitlines())]
