"""HTTP endpoints of the add-ons and the storefront, reached directly or through the API server.

An ``Endpoint`` is a base URL with the session that may use it. Through the API server's
service proxy the session carries the kubeconfig's credentials (built by ``meshcheck.kube``);
for a direct URL (``--kiali-url`` ...) it is a plain session. Add-on clients only ever see an
``Endpoint``, so they work the same both ways, and every failure names the endpoint and the
route it was reached by.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Hashable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests

from meshcheck.errors import AddonError

_ahead = threading.local()


@contextmanager
def reading_ahead() -> Iterator[None]:
    """Requests sent inside are kept by their endpoint for the first identical request that follows.

    A run reads the add-ons module after module; each module's first reads depend on nothing a check
    does, so they are sent ahead, all at once, and a check that asks the same meets the answer (or
    the error) already there: one round trip for many instead of one each. Each request sent ahead
    serves one request that follows (two reads ahead of the same request, one answer, two readers),
    so a check that waits sees fresh data on every later look.
    """
    _ahead.on = True
    try:
        yield
    finally:
        _ahead.on = False


@dataclass
class Endpoint:
    name: str  # what it is, for messages: "kiali", "storefront"
    base_url: str  # no trailing slash
    via: str  # how it is reached, for messages and reports
    service: str | None = None  # "namespace/name" of the Service behind it, when known
    session: requests.Session = field(default_factory=requests.Session)
    verify: bool | str = True  # passed per request: REQUESTS_CA_BUNDLE must not override it
    timeout: float = 10.0
    _kept: dict[Hashable, list[Future[requests.Response]]] = field(default_factory=dict, repr=False, compare=False)
    _kept_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/")

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send one request; connection problems and timeouts become an ``AddonError``.

        The answer may be one sent ahead (``reading_ahead``) for exactly this request.
        """
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("verify", self.verify)
        key = _request_key(method, path, kwargs)
        ahead = getattr(_ahead, "on", False)
        with self._kept_lock:
            kept = self._kept.get(key, [])
            sent = kept[0] if kept else None
            if ahead:  # one more answer to keep: the one under way, if any, serves this reader too
                mine = sent or Future()
                kept.append(mine)
                self._kept[key] = kept
            elif kept:
                kept.pop(0)
        if sent is not None:
            return sent.result()
        if not ahead:
            return self._send(method, path, kwargs)
        try:
            response = self._send(method, path, kwargs)
        except BaseException as exc:
            mine.set_exception(exc)
            raise
        mine.set_result(response)
        return response

    def _send(self, method: str, path: str, kwargs: dict[str, Any]) -> requests.Response:
        try:
            return self.session.request(method, self.url(path), **kwargs)
        except requests.Timeout:
            raise AddonError(
                f"{self.name} did not answer {method} {path} within {kwargs['timeout']:.0f}s "
                f"({self.via}): check that its pods are ready"
            ) from None
        except requests.RequestException as exc:
            raise AddonError(
                f"{self.name} cannot be reached for {method} {path} ({self.via}): {_reason(exc)}"
            ) from None

    def get(self, path: str, params: dict[str, Any] | None = None, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, params=params, **kwargs)

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET a JSON document; a non-2xx status or a body that is not JSON is an ``AddonError``."""
        response = self.get(path, params=params, headers={"Accept": "application/json"})
        if not 200 <= response.status_code < 300:
            raise self.refused("GET", path, response)
        try:
            return response.json()
        except (ValueError, json.JSONDecodeError):
            raise AddonError(
                f"{self.name} answered GET {path} with a body that is not JSON ({self.via}): "
                f"{snippet(response.text)}; check that {self.name} is the service behind "
                "this address and that its version is supported"
            ) from None

    def refused(self, method: str, path: str, response: requests.Response) -> AddonError:
        """The error for an answer that is not a success: the add-on's own, or the API server's.

        Through the service proxy a failure may come from the API server rather than the add-on
        (a Kubernetes ``Status``): "no endpoints available" means no pod behind the Service is
        ready, which calls for a different fix than an add-on that answers with an error.
        """
        said = _kubernetes_status_message(response)
        head = f"{self.name} answered {response.status_code} to {method} {path} ({self.via})"
        if said is None:
            return AddonError(f"{head}: {snippet(response.text)}; check the {self.name} pod's logs")
        namespace, _, service = (self.service or "").partition("/")
        if response.status_code == 503 and "no endpoints available" in said:
            fix = (f"no ready pod backs Service {self.service}: see 'kubectl -n {namespace} get pods' "
                   f"and the events and logs of the pod that Service {service} selects")
        elif response.status_code == 403:
            verb = "get" if method in ("GET", "HEAD") else "create"  # a POST through the proxy is a create
            fix = (f"the kubeconfig's user may not use the service proxy: grant it {verb} on services/proxy "
                   "(the grader role in manifests/grader/grader.yaml has it)")
        else:
            fix = f"check the {self.name} pod's logs"
        return AddonError(f"{head}: the API server said {said!r}; {fix}")


def _request_key(method: str, path: str, kwargs: dict[str, Any]) -> Hashable:
    """What makes two requests the same request: method, path, query, body and Accept header."""
    params = kwargs.get("params") or ()
    items = sorted(params.items()) if isinstance(params, dict) else list(params)
    body = json.dumps(kwargs["json"], sort_keys=True) if kwargs.get("json") is not None else repr(kwargs.get("data"))
    accept = (kwargs.get("headers") or {}).get("Accept", "")
    return method, path, repr(items), body, accept


def _kubernetes_status_message(response: requests.Response) -> str | None:
    """The message of a Kubernetes ``Status`` body (an API server's answer), else None."""
    if "json" not in response.headers.get("Content-Type", ""):
        return None
    try:
        document = response.json()
    except ValueError:
        return None
    if isinstance(document, dict) and document.get("kind") == "Status":
        return str(document.get("message") or document.get("reason") or "")[:200]
    return None


def snippet(text: str, limit: int = 120) -> str:
    """The start of a body, on one line, for a message that says what came back."""
    text = " ".join(text.split())
    return repr(text[:limit] + ("…" if len(text) > limit else ""))


def _reason(exc: Exception) -> str:
    """The last line of a requests error, without the URL's query or any header."""
    text = str(exc).split("(Caused by ")[-1].rstrip(")")
    return text[:200]


def describe_shape(value: Any) -> str:
    """What a JSON document looks like, for a message that says it was not the expected shape."""
    if isinstance(value, dict):
        keys = sorted(str(k) for k in value)[:6]
        return "an object with keys " + (", ".join(keys) if keys else "(none)")
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return type(value).__name__ if value is not None else "null"
