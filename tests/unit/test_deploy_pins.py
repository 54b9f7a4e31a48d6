"""meshcheck.deploy.pins: the lock file, downloads verified against their sha256, the cache, pinned tools."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from meshcheck.deploy import pins
from meshcheck.errors import DeployError
from tests.fileserver import FileServer
from tests.harness import ROOT


class Files(FileServer):
    """The upstream release hosts, on loopback."""

    def pin(self, name: str, body: bytes, member: str = "") -> pins.Pin:
        self.files[f"/{name}"] = body
        return pins.Pin(name, f"{self.url}/{name}", hashlib.sha256(body).hexdigest(), member)


@pytest.fixture
def files() -> Iterator[Files]:
    served = Files()
    yield served
    served.stop()


def test_the_projects_lock_pins_every_source_and_tool_on_four_platforms() -> None:
    lock = pins.load_lock(ROOT / "manifests" / "lock.yaml")
    assert {"metallb-native", "boutique-v0.10.6", "dashboard-v2.7.0", "istio-addon-kiali"} <= set(lock.sources)
    for tool in ("kind", "istioctl"):
        for target in ("linux-amd64", "linux-arm64", "darwin-amd64", "darwin-arm64"):
            pin = lock.tool(tool, target)
            assert pin.url.startswith("https://github.com/") and len(pin.sha256) == 64
            assert lock.version(tool) in pin.url
    assert lock.tools["kind"]["node_image"].startswith("kindest/node:v1.34.0@sha256:")
    assert all(p.url.startswith("https://raw.githubusercontent.com/") for p in lock.sources.values())
    assert all("/main/" not in p.url and "/master/" not in p.url for p in lock.sources.values()), "tags only"


def test_download_is_verified_then_cached(files: Files, tmp_path: Path) -> None:
    pin = files.pin("metallb-native.yaml", b"kind: Namespace\n")
    first = pins.fetch(pin, tmp_path)
    assert first.read_bytes() == b"kind: Namespace\n"
    assert pins.fetch(pin, tmp_path) == first
    assert files.served == ["/metallb-native.yaml"], "the second use comes from the cache"


def test_a_download_that_does_not_match_its_pin_is_refused_and_not_kept(files: Files, tmp_path: Path) -> None:
    pin = files.pin("kind-linux-amd64", b"the real binary")
    files.files["/kind-linux-amd64"] = b"something else"
    with pytest.raises(DeployError) as caught:
        pins.fetch(pin, tmp_path)
    message = str(caught.value)
    assert f"has sha256 {hashlib.sha256(b'something else').hexdigest()}" in message
    assert f"manifests/lock.yaml pins {pin.sha256}" in message and "it was not used" in message
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_tampered_cache_entry_is_downloaded_again(files: Files, tmp_path: Path) -> None:
    pin = files.pin("recommended.yaml", b"apiVersion: v1\n")
    cached = pins.fetch(pin, tmp_path)
    cached.write_bytes(b"edited by hand")
    assert pins.fetch(pin, tmp_path).read_bytes() == b"apiVersion: v1\n"
    assert len(files.served) == 2


def test_a_missing_release_names_the_url(files: Files, tmp_path: Path) -> None:
    pin = pins.Pin("gone", f"{files.url}/gone", "0" * 64)
    with pytest.raises(DeployError, match=r"downloading gone from http://127\.0\.0\.1:\d+/gone failed: HTTP 404"):
        pins.fetch(pin, tmp_path)


def test_a_tool_is_extracted_from_its_verified_archive(files: Files, tmp_path: Path) -> None:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        body = b"#!/bin/sh\necho istioctl\n"
        info = tarfile.TarInfo("istio-1.28.3/bin/istioctl")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    pin = files.pin("istio-1.28.3-linux-amd64.tar.gz", archive.getvalue(), member="istio-1.28.3/bin/istioctl")
    tool = pins.executable(pin, tmp_path)
    assert tool.read_bytes() == body and tool.stat().st_mode & 0o111
    wrong = pins.Pin(pin.name, pin.url, pin.sha256, "istio-1.28.3/bin/nothing")
    with pytest.raises(DeployError, match=r"holds no istio-1\.28\.3/bin/nothing"):
        pins.executable(wrong, tmp_path / "other")


def test_lock_validation_names_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "lock.yaml"
    path.write_text(yaml.safe_dump({"sources": {"metallb": {"url": "https://example.org/x.yaml", "sha256": "abc"}}}))
    with pytest.raises(DeployError, match="metallb needs a sha256 of 64 lower-case hex digits"):
        pins.load_lock(path)
    path.write_text(yaml.safe_dump({"sources": {"metallb": {"sha256": "a" * 64}}}))
    with pytest.raises(DeployError, match="metallb needs a url"):
        pins.load_lock(path)


def test_a_platform_without_a_pin_says_what_to_do() -> None:
    lock = pins.load_lock(ROOT / "manifests" / "lock.yaml")
    with pytest.raises(DeployError, match=r"kind v0\.30\.0 is pinned for darwin-amd64, .*not for this machine "
                                          r"\(windows-amd64\): install kind v0\.30\.0 yourself"):
        lock.tool("kind", "windows-amd64")
    with pytest.raises(DeployError, match="pins no source named 'nothing'"):
        lock.source("nothing")
