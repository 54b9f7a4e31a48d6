"""The one door that writes to a cluster: server-side apply as field manager "meshcheck", and delete.

The suite's own door (``meshcheck.kube.Cluster``) can only read; everything the deploy step
changes goes through ``Writer``, so that what a run may change is decided here and nowhere else.
Server-side apply makes deploying idempotent: applying the same manifests again changes nothing
(the API server keeps the object's resourceVersion), and a deploy interrupted half-way is safe to
run again. Each apply says whether it created, configured or left the object unchanged, as
``kubectl apply`` does, which is how a second run proves it changed nothing.

Only this module (and ``meshcheck.kube``) imports the Kubernetes client; .importlinter keeps it so.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import urllib3
from kubernetes import client as k8s_client
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from meshcheck import kube
from meshcheck.errors import DeployError

Obj = dict[str, Any]
FIELD_MANAGER = "meshcheck"
APPLY_PATCH = "application/apply-patch+yaml"
RETRIED = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class Outcome:
    """What one write did: created, configured, unchanged, deleted or absent (nothing to delete)."""

    ref: str  # "Deployment online-boutique/frontend"
    action: str

    @property
    def changed(self) -> bool:
        return self.action in ("created", "configured", "deleted")


class _Transient(Exception):
    pass


def ref(doc: Obj) -> str:
    meta = doc.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{doc.get('kind', '?')} {where}{meta.get('name', '?')}"


class Writer:
    """Applies and deletes objects of one cluster; reads only what writing needs (discovery, current state)."""

    def __init__(self, api: k8s_client.ApiClient, *, name: str = "", timeout: float = 30.0, attempts: int = 4,
                 webhook_wait: float = 120.0, progress: Callable[[str], None] | None = None) -> None:
        self._api = api
        self.name = name
        self.server = api.configuration.host.rstrip("/")
        self.timeout = timeout
        self.attempts = attempts
        self.webhook_wait = webhook_wait
        self.progress = progress or (lambda _line: None)
        self._resources: dict[str, dict[str, tuple[str, bool]]] = {}  # group/version -> kind -> (plural, namespaced)
        self._lock = threading.Lock()  # guards the request log
        self._discovery_lock = threading.Lock()  # one discovery at a time (it sends requests itself)
        self.log: list[tuple[str, str]] = []  # (method, path) of every request sent

    @classmethod
    def connect(cls, kubeconfig: str | None, context: str | None = None, **options: Any) -> Writer:
        api, name = kube.load_client(kubeconfig, context)
        return cls(api, name=name, **options)

    # --- writing --------------------------------------------------------------------------

    def apply(self, doc: Obj) -> Outcome:
        """Server-side apply one object, waiting out an admission webhook that is not serving yet.

        A webhook whose pods are starting (MetalLB's, right after its manifest) makes the API server
        answer 500 "failed calling webhook": that is retried within ``webhook_wait``; any other
        refusal names the object and the API server's message.
        """
        path = self.path_of(doc)
        before = self._send("GET", path, ok=(200, 404))
        previous = _json(before[1]).get("metadata", {}).get("resourceVersion") if before[0] == 200 else None
        body = json.dumps(doc).encode()
        params = [("fieldManager", FIELD_MANAGER), ("force", "true")]
        deadline = time.monotonic() + self.webhook_wait
        while True:
            status, answer = self._send("PATCH", path, params, body=body, content_type=APPLY_PATCH)
            if status < 300:
                break
            message = kube.status_message(answer)
            if status == 500 and "failed calling webhook" in message and time.monotonic() < deadline:
                self.progress(f"  {ref(doc)}: waiting for an admission webhook to serve ({message[:120]})")
                time.sleep(2)
                continue
            raise DeployError(f"applying {ref(doc)} failed: the API server answered {status} ({message})"
                              + _fix(status, message))
        current = _json(answer).get("metadata", {}).get("resourceVersion")
        action = "created" if previous is None else ("unchanged" if current == previous else "configured")
        return Outcome(ref(doc), action)

    def delete(self, doc: Obj) -> Outcome:
        """Delete the object a document names; one that is already gone is fine."""
        path = self.path_of(doc)
        status, _ = self._send("DELETE", path, ok=(200, 202, 404))
        return Outcome(ref(doc), "absent" if status == 404 else "deleted")

    # --- reading what writing needs ---------------------------------------------------------

    def get(self, path: str) -> Obj | None:
        """A fresh read (never cached: waits poll with it); None when the object does not exist."""
        status, body = self._send("GET", path, ok=(200, 404))
        return _json(body) if status == 200 else None

    def path_of(self, doc: Obj) -> str:
        """The object's URL path, from the API's discovery (a kind a CRD just added is looked up afresh)."""
        api_version, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
        meta = doc.get("metadata") or {}
        if not api_version or not kind or not meta.get("name"):
            raise DeployError(f"a manifest document lacks apiVersion, kind or metadata.name: {ref(doc)}")
        plural, namespaced = self.resource(api_version, kind)
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        if namespaced:
            namespace = meta.get("namespace")
            if not namespace:
                raise DeployError(f"{ref(doc)} is namespaced but names no namespace")
            base += f"/namespaces/{quote(namespace)}"
        return f"{base}/{plural}/{quote(str(meta['name']))}"

    def resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        for fresh in (False, True):
            found = self._discover(api_version, fresh).get(kind)
            if found:
                return found
        raise DeployError(f"the cluster serves no {kind} in {api_version}: apply the CustomResourceDefinition "
                          "that defines it first (its layer's manifests, in order)")

    def _discover(self, api_version: str, fresh: bool) -> dict[str, tuple[str, bool]]:
        with self._discovery_lock:
            if fresh or api_version not in self._resources:
                path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
                status, body = self._send("GET", path, ok=(200, 404))
                resources = _json(body).get("resources", []) if status == 200 else []
                self._resources[api_version] = {
                    r["kind"]: (r["name"], bool(r.get("namespaced"))) for r in resources if "/" not in r["name"]
                }
            return self._resources[api_version]

    # --- the wire -------------------------------------------------------------------------

    def _send(self, method: str, path: str, params: Iterable[tuple[str, str]] = (), *, body: bytes | None = None,
              content_type: str = "application/json", ok: tuple[int, ...] = ()) -> tuple[int, bytes]:
        """One request, retried on the answers a busy API server gives; ``ok`` lists the statuses that are
        answers (other statuses of 300 and above are returned for the caller to judge)."""

        def attempt() -> tuple[int, bytes]:
            with self._lock:
                self.log.append((method, path))
            headers = {"Accept": "application/json", "Content-Type": content_type}
            try:
                request = self._api.param_serialize(method, path, query_params=list(params), header_params=headers,
                                                    body=None, auth_settings=["BearerToken"])
                _, url, sent_headers = request[:3]
                response = self._api.call_api(method, url, header_params=sent_headers, body=body,
                                              _request_timeout=self.timeout)
                answer = response.read()
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                untrusted = kube.certificate_problem(exc)
                if untrusted:
                    raise DeployError(f"the API server at {self.server} {untrusted}") from None
                raise _Transient(kube.connection_reason(exc)) from None
            if response.status in RETRIED:
                raise _Transient(f"HTTP {response.status}: {kube.status_message(answer)}")
            return response.status, answer

        try:
            for try_ in Retrying(stop=stop_after_attempt(self.attempts), wait=wait_exponential(multiplier=0.5, max=4),
                                 retry=retry_if_exception_type(_Transient), reraise=False):
                with try_:
                    status, answer = attempt()
        except RetryError as exc:
            reason = exc.last_attempt.exception()
            raise DeployError(f"the API server at {self.server} did not answer {method} {path} after "
                              f"{self.attempts} attempts ({reason}): check that the cluster is running") from None
        if status >= 300 and status not in ok and method == "GET":
            raise DeployError(f"the API server refused {method} {path} with {status} "
                              f"({kube.status_message(answer)})" + _fix(status, kube.status_message(answer)))
        return status, answer


def _json(body: bytes) -> Obj:
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _fix(status: int, message: str) -> str:
    if status == 401:
        return ": the kubeconfig's credentials were refused; log in again"
    if status == 403:
        return ": the kubeconfig's user may not make this change; deploy with an admin kubeconfig"
    if status == 404 and "namespaces" in message:
        return ": the namespace is missing; deploy the layers in order (their manifests create it)"
    if status == 422 or status == 400:
        return ": the manifest does not fit the cluster's schema (check the pinned versions in manifests/lock.yaml)"
    return ""
