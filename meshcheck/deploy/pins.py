"""Upstream files and tools pinned by URL and sha256: downloaded once into a cache, verified, never unpinned.

Deploying builds a cluster from other projects' releases (MetalLB's manifest, Online Boutique's,
kind and istioctl binaries). What a run applies must be exactly what was reviewed, so every
upstream source is named in ``manifests/lock.yaml`` with its sha256; a download that does not
match is an error, never a warning, and nothing is fetched that the lock does not name.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from meshcheck.errors import DeployError

CHUNK = 1 << 16


@dataclass(frozen=True)
class Pin:
    """One upstream file: where it is, what it must hash to, and (for archives) the member to use."""

    name: str
    url: str
    sha256: str
    member: str = ""  # inside a .tar.gz: the path of the file to extract (e.g. istioctl)

    @property
    def filename(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Lock:
    """``manifests/lock.yaml``: upstream sources by name, and tools by name and platform."""

    sources: dict[str, Pin]
    tools: dict[str, dict[str, Any]]

    def source(self, name: str) -> Pin:
        if name not in self.sources:
            raise DeployError(f"manifests/lock.yaml pins no source named {name!r}: add its URL and sha256")
        return self.sources[name]

    def tool(self, name: str, target: str | None = None) -> Pin:
        """The pin of a tool for this machine's platform (``linux-amd64``, ``darwin-arm64``...)."""
        target = target or platform_target()
        entry = self.tools.get(name)
        if not entry:
            raise DeployError(f"manifests/lock.yaml pins no tool named {name!r}")
        pinned = entry.get("platforms", {}).get(target)
        if not pinned:
            known = ", ".join(sorted(entry.get("platforms", {})))
            raise DeployError(f"{name} {entry.get('version')} is pinned for {known}, not for this machine ({target}): "
                              f"install {name} {entry.get('version')} yourself and put it on PATH")
        return Pin(f"{name}-{target}", pinned["url"], pinned["sha256"], pinned.get("member", ""))

    def version(self, tool: str) -> str:
        return str(self.tools.get(tool, {}).get("version", ""))


def load_lock(path: Path) -> Lock:
    """Read and check the lock file: every pin has an https URL and a 64-hex-digit sha256."""
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DeployError(f"{path} cannot be read ({exc.__class__.__name__})") from None
    sources = {name: _pin(path, name, entry) for name, entry in (raw.get("sources") or {}).items()}
    tools = raw.get("tools") or {}
    for name, entry in tools.items():
        for target, pinned in (entry.get("platforms") or {}).items():
            _pin(path, f"{name}/{target}", pinned)
    return Lock(sources, tools)


def _pin(path: Path, name: str, entry: Any) -> Pin:
    if not isinstance(entry, dict) or not str(entry.get("url", "")).startswith(("https://", "http://")):
        raise DeployError(f"{path}: {name} needs a url")
    digest = str(entry.get("sha256", ""))
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise DeployError(f"{path}: {name} needs a sha256 of 64 lower-case hex digits, has {digest!r}")
    return Pin(name, str(entry["url"]), digest, str(entry.get("member", "")))


def platform_target() -> str:
    system = platform.system().lower()
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{system}-{arch}"


def cache_dir() -> Path:
    """Where pinned downloads are kept between runs: $MESHCHECK_CACHE, else the user's cache folder."""
    base = os.environ.get("MESHCHECK_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "meshcheck"
    )
    return Path(base)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(pin: Pin, cache: Path | None = None, session: requests.Session | None = None,
          timeout: float = 60.0) -> Path:
    """The verified local copy of a pinned file: from the cache, else downloaded once and checked.

    A cached copy is trusted only while it still hashes to the pin; a download that does not is
    removed and reported with both digests.
    """
    cache = cache or cache_dir()
    target = cache / pin.sha256[:2] / f"{pin.sha256}-{pin.filename}"
    if target.exists() and sha256_of(target) == pin.sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    try:
        with (session or requests.Session()).get(pin.url, stream=True, timeout=timeout) as response:
            if response.status_code != 200:
                raise DeployError(f"downloading {pin.name} from {pin.url} failed: HTTP {response.status_code}; "
                                  "check the network, or whether the release still exists")
            with partial.open("wb") as out:
                for chunk in response.iter_content(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
    except requests.RequestException as exc:
        partial.unlink(missing_ok=True)
        raise DeployError(f"downloading {pin.name} from {pin.url} failed ({exc.__class__.__name__}): "
                          "check the network and any proxy settings") from None
    if digest.hexdigest() != pin.sha256:
        partial.unlink(missing_ok=True)
        raise DeployError(f"{pin.url} has sha256 {digest.hexdigest()}, but manifests/lock.yaml pins {pin.sha256}: "
                          "the file changed upstream or the download was tampered with; it was not used")
    partial.replace(target)
    return target


def executable(pin: Pin, cache: Path | None = None, session: requests.Session | None = None) -> Path:
    """A pinned tool ready to run: the verified binary, or the member extracted from a verified archive."""
    path = fetch(pin, cache, session)
    if not pin.member:
        path.chmod(0o755)
        return path
    extracted = path.with_name(f"{pin.sha256}-{Path(pin.member).name}")
    if not extracted.exists():
        with tarfile.open(path) as archive:
            try:
                member = archive.getmember(pin.member)
            except KeyError:
                raise DeployError(f"{pin.url} holds no {pin.member}") from None
            source = archive.extractfile(member)
            if source is None:
                raise DeployError(f"{pin.member} in {pin.url} is not a file")
            partial = extracted.with_name(extracted.name + ".part")
            partial.write_bytes(source.read())
            partial.chmod(0o755)
            partial.replace(extracted)
    return extracted


def on_path(name: str, version: str, version_args: list[str],
            run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> tuple[Path | None, str]:
    """The tool on PATH when it says it is exactly ``version`` (one of the words it prints), and what it said.

    A tool that is missing, or whose version command fails, is not the pinned one: (None, "") lets the
    caller fall back to the verified download.
    """
    found = shutil.which(name)
    if not found:
        return None, ""
    try:
        done = run([found, *version_args], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None, ""
    said = (done.stdout or "") if done.returncode == 0 else ""
    return (Path(found) if version in said.split() else None), said
