"""Screenshots of pages in a real headless browser: the storefront as a shopper sees it, the report itself.

Playwright (PyPI ``playwright``, the optional extra ``meshcheck[browser]``) drives the system's Chromium
(Debian's ``chromium`` package, ``/usr/bin/chromium``) through ``executable_path``: nothing here ever
downloads a browser (no ``playwright install``). A picture is never a check, so nothing here raises:
without Playwright or Chromium, or when the page cannot be loaded, ``screenshot`` returns ``Skipped``
with the reason, and the report says it instead of showing the picture.

Which Playwright: ``>=1.50,<2``. Playwright speaks the DevTools protocol, which Chromium keeps
compatible, so one release drives a range of Chromium builds: 1.50.0, 1.52.0 and 1.65.2 (and, for a
screenshot, releases back to 1.40) drive Debian bookworm's Chromium 156. 1.50 is the floor because
1.49 and older pin ``greenlet`` exactly (1.49.1: ``==3.1.1``), which Locust's gevent (``>=3.2.2``, in
the ``dev`` extra) refuses; 1.49 is also where Playwright's headless mode became the "new" one, the
only one Chromium 132 onwards still has.

Chromium runs without its sandbox (Playwright's default ``chromium_sandbox=False``, and
``--no-sandbox`` when running as root, which Chromium otherwise refuses), as in most CI containers:
it only loads the pages it is pointed at.

Reaching pages:
- ``file://`` URLs (``file_url(path)``): the HTML report, screenshot by the report itself.
- plain HTTP(S) URLs, such as the gateway's EXTERNAL-IP, with optional ``headers`` sent with every
  request (``extra_http_headers``).
- The API server's service proxy is not supported, and the storefront is screenshot only through the
  gateway's direct address (skipped with a note otherwise): the proxy needs the cluster's CA, which
  Chromium does not take from a file (trusting it means an NSS database, or ``ignore_https_errors``,
  which would hand the kubeconfig's bearer token to any server that answers), and kubeadm and kind
  kubeconfigs authenticate with a client certificate, which Playwright presents only through its own
  intercepting proxy (``client_certificates``, 1.46+), again without the cluster's CA to verify the
  server. Headers travel to the page's origin and also to any other origin the page loads from, so
  pass credentials only for pages you trust.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

NO_BROWSER = "no browser: install Debian's chromium and `pip install meshcheck[browser]`"
CHROMIUM_ENV = "MESHCHECK_CHROMIUM"     # the browser to use, when it is not on PATH as one of CHROMIUM_NAMES
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
GRACE_S = 15.0                          # beyond timeout_s, for starting and closing the browser


@dataclass(frozen=True)
class Screenshot:
    """A PNG at ``path`` of the page at ``url`` (credentials removed), in a ``width`` by ``height`` window."""
    path: Path
    url: str
    width: int
    height: int
    browser: str                        # "Chromium 156.0.8078.114"
    status: int | None = None           # the HTTP status of the page (None for file:// URLs)


@dataclass(frozen=True)
class Skipped:
    """No picture, and why, in words a report can print as they are."""
    reason: str
    url: str = ""


def file_url(path: Path | str) -> str:
    """The ``file://`` URL of a local file (the HTML report), for ``screenshot``."""
    return Path(path).resolve().as_uri()


def find_chromium(executable_path: str | Path | None = None) -> str | None:
    """The Chromium to drive: the one given, else ``$MESHCHECK_CHROMIUM``, else the first on PATH."""
    given = executable_path or os.environ.get(CHROMIUM_ENV)
    if given:
        candidate = Path(given)
        return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(
    url: str,
    path: Path,
    *,
    width: int = 1280,
    height: int = 900,
    timeout_s: float = 20,
    headers: Mapping[str, str] | None = None,
    full_page: bool = False,
    executable_path: str | Path | None = None,
) -> Screenshot | Skipped:
    """Load ``url`` in headless Chromium and save a PNG of it at ``path``; never raises.

    ``timeout_s`` bounds loading the page (and, separately, starting the browser). ``full_page`` takes
    the whole scrolled page instead of the window. A page that answers an HTTP error is still
    pictured (its error page is worth seeing), with its status in the result.
    """
    shown = _safe_url(url)
    try:
        from playwright.sync_api import sync_playwright  # noqa: F401  (optional extra: imported only here)
    except ImportError:
        return Skipped(f"{NO_BROWSER} (Playwright is not installed)", shown)
    chromium = find_chromium(executable_path)
    if chromium is None:
        where = executable_path or os.environ.get(CHROMIUM_ENV)
        missing = f"no Chromium at {where}" if where else f"none of {', '.join(CHROMIUM_NAMES)} is on PATH"
        return Skipped(f"{NO_BROWSER} ({missing})", shown)
    job = _Job(url, Path(path), width, height, timeout_s, dict(headers or {}), full_page, chromium)
    # Playwright's sync API refuses to run inside an asyncio loop; a thread of its own has none.
    worker = threading.Thread(target=job.run, name="meshcheck-screenshot", daemon=True)
    worker.start()
    worker.join(timeout_s * 2 + GRACE_S)
    if worker.is_alive():
        return Skipped(f"the browser did not finish within {timeout_s * 2 + GRACE_S:.0f}s", shown)
    return job.result or Skipped("the browser stopped without a result", shown)


class _Job:
    """One screenshot, run on its own thread; ``result`` is set when it ends."""

    def __init__(self, url: str, path: Path, width: int, height: int, timeout_s: float,
                 headers: dict[str, str], full_page: bool, chromium: str) -> None:
        self.url, self.path, self.width, self.height = url, path, width, height
        self.timeout_ms = max(timeout_s, 1) * 1000
        self.headers, self.full_page, self.chromium = headers, full_page, chromium
        self.result: Screenshot | Skipped | None = None

    def run(self) -> None:
        shown = _safe_url(self.url)
        try:
            self.result = self._take(shown)
        except Exception as exc:        # Playwright's errors, a browser that dies, a path we cannot write
            self.result = Skipped(f"could not take a screenshot of {shown}: {self._words(exc)}", shown)

    def _take(self, shown: str) -> Screenshot:
        from playwright.sync_api import sync_playwright

        args = ["--no-sandbox"] if _is_root() else []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=self.chromium, headless=True, args=args,
                                                 chromium_sandbox=False, timeout=self.timeout_ms)
            try:
                options: dict[str, Any] = {"viewport": {"width": self.width, "height": self.height},
                                           "device_scale_factor": 1}
                if self.headers:
                    options["extra_http_headers"] = self.headers
                context = browser.new_context(**options)
                page = context.new_page()
                response = page.goto(self.url, wait_until="load", timeout=self.timeout_ms)
                self.path.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(self.path), full_page=self.full_page, timeout=self.timeout_ms)
                version = browser.version
            finally:
                browser.close()
        status = response.status if response is not None and not self.url.startswith("file:") else None
        return Screenshot(self.path, shown, self.width, self.height, f"Chromium {version}", status)

    def _words(self, exc: Exception) -> str:
        """The error's first line, without header values (a bearer token must never reach a report)."""
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        for value in self.headers.values():
            if value:
                text = text.replace(value, "[redacted]")
        return text.replace(self.url, _safe_url(self.url))[:300]


def _safe_url(url: str) -> str:
    """The URL without user:password@ (never printed)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _is_root() -> bool:
    geteuid = getattr(os, "geteuid", None)
    return bool(geteuid) and geteuid() == 0
