"""The one door to the cluster: every Kubernetes API request of the suite goes through ``Cluster``.

Keeping all traffic here is what lets the suite promise things about it in one place:
- read-only: only GET is ever sent for resources (the proxy to add-ons may POST to the
  storefront, which changes no Kubernetes object);
- one list per kind per run, shared by every check, and refreshed only when a wait asks;
- bounded retries on the answers a busy API server gives (429, 5xx, dropped connections);
- request counting for benchmarks, and no credential ever in a message.

Only this module imports ``kubernetes``.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from meshcheck import kubeconfig as kubeconfigs
from meshcheck.endpoints import Endpoint
from meshcheck.errors import ClusterError, ConfigError, ForbiddenError

Obj = dict[str, Any]
POOL_SIZE = 16  # connections kept to the API server: as many as a prefetch sends at once

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Kind:
    """A resource kind; ``version`` None means: whichever version the cluster prefers."""

    group: str
    plural: str
    namespaced: bool
    version: str | None = "v1"

    def base(self, version: str) -> str:
        return f"/api/{version}" if not self.group else f"/apis/{self.group}/{version}"


NODES = Kind("", "nodes", False)
NAMESPACES = Kind("", "namespaces", False)
PODS = Kind("", "pods", True)
SERVICES = Kind("", "services", True)
SERVICE_ACCOUNTS = Kind("", "serviceaccounts", True)
CONFIG_MAPS = Kind("", "configmaps", True)
SECRETS = Kind("", "secrets", True)  # only ever read as metadata
DEPLOYMENTS = Kind("apps", "deployments", True)
MUTATING_WEBHOOKS = Kind("admissionregistration.k8s.io", "mutatingwebhookconfigurations", False)
CLUSTER_ROLE_BINDINGS = Kind("rbac.authorization.k8s.io", "clusterrolebindings", False)
CLUSTER_ROLES = Kind("rbac.authorization.k8s.io", "clusterroles", False)
ISTIO_GATEWAYS = Kind("networking.istio.io", "gateways", True, None)
VIRTUAL_SERVICES = Kind("networking.istio.io", "virtualservices", True, None)
GATEWAYS = Kind("gateway.networking.k8s.io", "gateways", True, None)
HTTP_ROUTES = Kind("gateway.networking.k8s.io", "httproutes", True, None)
IP_ADDRESS_POOLS = Kind("metallb.io", "ipaddresspools", True, None)
L2_ADVERTISEMENTS = Kind("metallb.io", "l2advertisements", True, None)
INGRESSES = Kind("networking.k8s.io", "ingresses", True)
KIALIS = Kind("kiali.io", "kialis", True, None)  # the Kiali operator's CR (v1alpha1); listed only where served
# Istio's policies (istio/istio manifests/charts/base/files/crd-all.gen.yaml): security.istio.io serves v1 from
# Istio 1.22 (v1beta1 before), DestinationRule follows networking.istio.io's preferred version; EnvoyFilter is
# served only as v1alpha3, so the group's preferred version (v1) would not find it.
PEER_AUTHENTICATIONS = Kind("security.istio.io", "peerauthentications", True, None)
AUTHORIZATION_POLICIES = Kind("security.istio.io", "authorizationpolicies", True, None)
DESTINATION_RULES = Kind("networking.istio.io", "destinationrules", True, None)
ENVOY_FILTERS = Kind("networking.istio.io", "envoyfilters", True, "v1alpha3")

METADATA_ONLY = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"


class _Transient(Exception):
    """An answer worth asking again for (429, 5xx, a dropped connection)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Cluster:
    """A read-only view of one cluster, shared by every check of a run."""

    def __init__(self, api: k8s_client.ApiClient, *, name: str, timeout: float = 10.0, attempts: int = 4) -> None:
        self._api = api
        self.name = name
        self.server = api.configuration.host.rstrip("/")
        self.timeout = timeout
        self.attempts = attempts
        self._lists: dict[tuple[Kind, str | None], list[Obj]] = {}
        self._groups: dict[str, str] | None = None
        self._resources: dict[str, list[Obj]] = {}
        self._lock = threading.Lock()
        self._discovery_lock = threading.Lock()
        self._key_locks: dict[Any, threading.Lock] = {}
        self.log: list[tuple[str, str]] = []  # (method, path) of every request sent

    # --- connecting -------------------------------------------------------------------------

    @classmethod
    def connect(cls, kubeconfig: str | None = None, context: str | None = None, *, timeout: float = 10.0) -> Cluster:
        """Build a client from a kubeconfig (or the in-cluster service account), and say hello.

        Every way this can go wrong ends in a ``ConfigError`` or ``ClusterError`` with one line
        that says what to fix (see ``load_client``), or an unreachable server or one the
        kubeconfig's certificate authority did not sign.
        """
        api, name = load_client(kubeconfig, context)
        cluster = cls(api, name=name, timeout=timeout)
        cluster.version()
        return cluster

    def version(self) -> Obj:
        """The server's version: the first request of a run, so a bad server fails fast."""
        return self.get("/version")

    # --- raw requests -----------------------------------------------------------------------

    def get(
        self,
        path: str,
        params: Iterable[tuple[str, str]] = (),
        *,
        accept: str = "application/json",
        missing_ok: bool = False,
        forbidden_ok: bool = False,
    ) -> Obj:
        """GET a path of the API; 404 (403) gives {} when ``missing_ok`` (``forbidden_ok``), other errors
        a ``ClusterError`` (a ``ForbiddenError`` for 403, which a check may be able to do without)."""
        status, body = self._send("GET", path, list(params), accept)
        if (status == 404 and missing_ok) or (status == 403 and forbidden_ok):
            return {}
        if status >= 300:
            error = ForbiddenError if status == 403 else ClusterError
            raise error(self._describe_error("GET", path, status, body))
        try:
            return json.loads(body)
        except ValueError:
            raise ClusterError(
                f"the API server at {self.server} answered GET {path} with a body "
                "that is not JSON: is this a Kubernetes API server?"
            ) from None

    def _send(self, method: str, path: str, params: list[tuple[str, str]], accept: str) -> tuple[int, bytes]:
        def attempt() -> tuple[int, bytes]:
            with self._lock:
                self.log.append((method, path))
            try:
                request = self._api.param_serialize(
                    method, path, query_params=params, header_params={"Accept": accept}, auth_settings=["BearerToken"]
                )
                response = self._api.call_api(*request, _request_timeout=self.timeout)
                body = response.read()
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                untrusted = certificate_problem(exc)
                if untrusted:
                    raise ClusterError(f"the API server at {self.server} {untrusted}") from None
                raise _Transient(connection_reason(exc)) from None
            if response.status in RETRIED_STATUSES:
                raise _Transient(f"HTTP {response.status}: {status_message(body)}")
            return response.status, body

        try:
            for try_ in Retrying(
                stop=stop_after_attempt(self.attempts),
                wait=wait_exponential(multiplier=0.2, max=2),
                retry=retry_if_exception_type(_Transient),
                reraise=False,
            ):
                with try_:
                    return attempt()
        except RetryError as exc:
            reason = exc.last_attempt.exception()
            raise ClusterError(
                f"the API server at {self.server} did not answer {method} {path} after "
                f"{self.attempts} attempts ({getattr(reason, 'reason', reason)}): check that the "
                "cluster is running and that the kubeconfig's server address is reachable"
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover - Retrying always returns or raises

    def _describe_error(self, method: str, path: str, status: int, body: bytes) -> str:
        message = status_message(body)
        if status == 401:
            fix = "the kubeconfig's credentials were refused; refresh them (e.g. log in again)"
        elif status == 403:
            fix = (
                "the kubeconfig's user may not read this; bind it to the grader role "
                "(kubectl apply -f manifests/grader/grader.yaml, see docs/grader.md): 'view' lacks what the "
                "suite reads of RBAC and the service proxy"
            )
        else:
            fix = "see the API server's message"
        return f"the API server refused {method} {path} with {status} ({message}): {fix}"

    # --- lists, once per run ----------------------------------------------------------------

    def served_version(self, group: str) -> str | None:
        """The preferred version of an API group, or None when the cluster does not serve it."""
        if not group:
            return "v1"
        with self._discovery_lock:  # parallel prefetches must not each ask for discovery
            if self._groups is None:
                discovery = self.get("/apis")
                self._groups = {g["name"]: g["preferredVersion"]["version"] for g in discovery.get("groups", [])}
        return self._groups.get(group)

    def resources(self, group_version: str = "v1") -> list[Obj]:
        """The resources an API group version serves (its discovery document), read once and shared."""
        path = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
        return self._shared(self._resources, path, lambda: self.get(path, missing_ok=True).get("resources") or [])

    def list(self, kind: Kind, namespace: str | None = None) -> list[Obj]:
        """Every object of a kind (cluster-wide unless ``namespace``), read once and shared.

        A kind whose API group the cluster does not serve is simply empty: an absent CRD is an
        answer ("no Istio Gateway"), not an error.
        """
        return self._shared(self._lists, (kind, namespace), lambda: self._fetch(kind, namespace))

    def _shared(self, store: dict[Any, list[Obj]], key: Any, fetch: Callable[[], list[Obj]]) -> list[Obj]:
        """``store[key]``, fetched once however many threads ask at the same time (each key has its own lock,
        so reads of different keys go on in parallel)."""
        with self._lock:
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in store:
                store[key] = fetch()
            return store[key]

    def list_readable(self, kind: Kind, namespace: str | None = None) -> list[Obj]:
        """``list``, or nothing when the user may not list the kind: for reads that only refine another
        check's answer (whether a wait can help), so that a missing permission fails the checks that
        need the kind, and only those."""
        try:
            return self.list(kind, namespace)
        except ForbiddenError:
            return []

    def list_metadata(self, kind: Kind, namespace: str | None, field_selector: str = "") -> list[Obj]:
        """Names, labels and annotations only: how secrets are looked at, never their data.

        A read-only role (the 'view' ClusterRole) may not list secrets at all: that reads as none.
        """
        params = [("fieldSelector", field_selector)] if field_selector else []
        path = f"/api/v1/namespaces/{namespace}/{kind.plural}" if namespace else f"/api/v1/{kind.plural}"
        items = self.get(path, params, accept=METADATA_ONLY, missing_ok=True, forbidden_ok=True).get("items", [])
        return [{"metadata": item.get("metadata", {})} for item in items]

    def pod_log(self, namespace: str, pod: str, container: str, *, tail_lines: int, timestamps: bool = True) -> str:
        """The last ``tail_lines`` lines a pod's container logged (the ``pods/log`` subresource), GET only.

        ``timestamps`` asks the kubelet to start each line with its RFC 3339 time, which dates what the
        line says. Not cached: a log is read for what it says now. A refusal is a ``ClusterError`` with
        the API server's own reason (a container still waiting to start answers 400 and says so), or a
        ``ForbiddenError`` when the user may not get ``pods/log``.
        """
        path = f"/api/v1/namespaces/{namespace}/pods/{pod}/log"
        params = [("container", container), ("tailLines", str(tail_lines))]
        if timestamps:
            params.append(("timestamps", "true"))
        status, body = self._send("GET", path, params, "text/plain, */*")
        if status == 403:
            raise ForbiddenError(
                f"the API server refused GET {path} with 403 ({status_message(body)}): the kubeconfig's user "
                f"may not read pod logs; grant it get on pods/log in {namespace} (the grader role in "
                f"manifests/grader/grader.yaml has it)"
            )
        if status >= 300:
            raise ClusterError(f"the API server answered GET {path} with {status}: {status_message(body)}")
        return body.decode("utf-8", "replace")

    def cached(self, kind: Kind, namespace: str | None = None) -> list[Obj] | None:
        """What this run already read of a kind (in ``namespace`` only, when given; a cluster-wide list
        serves it too), without a request; None when it was never read. For reports, which describe
        objects as the checks saw them and must not make a passing run cost more."""
        with self._lock:
            items = self._lists.get((kind, namespace))
            if items is None and namespace is not None:
                everywhere = self._lists.get((kind, None))
                items = None if everywhere is None else [o for o in everywhere
                                                         if (o.get("metadata") or {}).get("namespace") == namespace]
        return None if items is None else list(items)

    def get_object(self, kind: Kind, namespace: str | None, name: str) -> Obj | None:
        """One object by name (GET), or None when it does not exist; not cached. A kind whose group the
        cluster does not serve has no objects."""
        version = kind.version or self.served_version(kind.group)
        if version is None:
            return None
        scope = f"/namespaces/{namespace}" if kind.namespaced and namespace else ""
        found = self.get(f"{kind.base(version)}{scope}/{kind.plural}/{name}", missing_ok=True)
        return found or None

    def list_where(self, kind: Kind, namespace: str, label_selector: str) -> list[Obj]:
        """The objects of a kind in a namespace that a label selector picks (one GET), not cached."""
        version = kind.version or self.served_version(kind.group)
        if version is None:
            return []
        path = f"{kind.base(version)}/namespaces/{namespace}/{kind.plural}"
        return self.get(path, [("labelSelector", label_selector)], missing_ok=True).get("items") or []

    def events(self, namespace: str, *, limit: int = 500) -> tuple[list[Obj], bool]:
        """The core/v1 Events of a namespace (one GET, at most ``limit``), and whether more were left
        unread. Not cached: Events say what happened lately. 403 is a ``ForbiddenError``."""
        document = self.get(f"/api/v1/namespaces/{namespace}/events", [("limit", str(limit))])
        more = bool((document.get("metadata") or {}).get("continue"))
        return list(document.get("items") or []), more

    def refresh(self, *kinds: Kind) -> None:
        """Forget what was read of these kinds, so the next ``list`` reads them again."""
        with self._lock:
            for key in [k for k in self._lists if k[0] in kinds]:
                del self._lists[key]

    def prefetch(
        self, kinds: Iterable[Kind | tuple[Kind, str]], *, resources: Iterable[str] = (), workers: int = POOL_SIZE
    ) -> None:
        """Read several kinds (and discovery documents) at once: independent requests should not wait
        for each other. A run lists about twenty kinds: 16 at once make most of them one round trip.

        A ``(kind, namespace)`` pair reads that kind in one namespace only (say, Kiali's ConfigMap
        among the few of its namespace rather than every ConfigMap of the cluster).
        """
        keys = [k if isinstance(k, tuple) else (k, None) for k in kinds]
        reads = [*(functools.partial(self.list, *key) for key in keys),
                 *(functools.partial(self.resources, version) for version in resources)]
        with ThreadPoolExecutor(max_workers=min(workers, len(reads) or 1)) as pool:
            for future in [pool.submit(read) for read in reads]:
                future.result()

    def _fetch(self, kind: Kind, namespace: str | None) -> list[Obj]:
        version = kind.version or self.served_version(kind.group)
        if version is None:
            return []
        path = kind.base(version)
        if namespace is not None:
            path += f"/namespaces/{namespace}"
        document = self.get(f"{path}/{kind.plural}", missing_ok=True)
        items = document.get("items") or []
        api_version = f"{kind.group}/{version}" if kind.group else version
        for item in items:  # list items carry no kind; checks and messages want it
            item.setdefault("apiVersion", api_version)
        return items

    # --- add-ons through the service proxy ---------------------------------------------------

    def service_proxy(self, name: str, namespace: str, service: str, port: int | str, *, scheme: str = "") -> Endpoint:
        """An endpoint that reaches a Service through the API server, with the kubeconfig's auth."""
        prefix = f"{scheme}:" if scheme else ""
        base = f"{self.server}/api/v1/namespaces/{namespace}/services/{prefix}{service}:{port}/proxy"
        via = f"API server proxy to service {namespace}/{service}:{port}"
        return Endpoint(
            name=name,
            base_url=base,
            via=via,
            session=self._proxy_session(),
            verify=self._verify(),
            timeout=self.timeout,
            service=f"{namespace}/{service}",
        )

    def _proxy_session(self) -> requests.Session:
        configuration = self._api.configuration
        session = requests.Session()
        session.trust_env = False  # reach the API server exactly as the client does
        session.auth = _KubeAuth(configuration)
        if configuration.cert_file:
            session.cert = (configuration.cert_file, configuration.key_file)
        if configuration.proxy:
            session.proxies = {"http": configuration.proxy, "https": configuration.proxy}
        session.hooks["response"].append(self._count)
        return session

    def _verify(self) -> bool | str:
        configuration = self._api.configuration
        if not configuration.verify_ssl:
            return False
        return configuration.ssl_ca_cert or True

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self.log.append((response.request.method or "GET", urlsplit(response.request.url).path))

    # --- for reports ------------------------------------------------------------------------

    def describe(self) -> str:
        return f"{self.name} ({self.server})"

    @property
    def request_count(self) -> int:
        return len(self.log)


def load_client(kubeconfig: str | None = None, context: str | None = None) -> tuple[k8s_client.ApiClient, str]:
    """An API client for a kubeconfig's context (or the in-cluster service account), and the context's name.

    Shared by both doors to the cluster (this module's read-only ``Cluster`` and the deploy step's
    writer), so that both read a kubeconfig the same way and say the same thing when they cannot:
    a missing or broken file, no or an unknown context, a credential plugin that is not installed
    or fails.
    """
    configuration = k8s_client.Configuration()
    configuration.connection_pool_maxsize = POOL_SIZE
    path = kubeconfig or kubeconfigs.merged_paths(os.environ.get("KUBECONFIG", ""))
    default_path = os.path.expanduser("~/.kube/config")
    if path is None and not os.path.exists(default_path) and os.environ.get("KUBERNETES_SERVICE_HOST"):
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)
        except ConfigException as exc:
            raise ConfigError(f"the in-cluster service account cannot be used: {exc}") from None
        configuration.proxy = configuration.proxy  # read once: see below
        return k8s_client.ApiClient(configuration), "in-cluster"
    path = path or default_path
    if not all(os.path.exists(p) for p in path.split(os.pathsep)):
        raise ConfigError(
            f"kubeconfig {path} does not exist: pass --kubeconfig=PATH, set "
            "KUBECONFIG, or use --cluster=sim for the simulated cluster"
        )
    selection = kubeconfigs.select(path, context)
    missing = kubeconfigs.missing_exec_plugin(selection)
    if missing:
        raise ConfigError(f"kubeconfig {path}: {missing}")
    _load_kubeconfig(path, selection, configuration)
    # The client reads the environment's proxy settings on every request unless set: read them once, here, so a
    # request never walks os.environ while pytest changes PYTEST_CURRENT_TEST (a KeyError from <frozen os>).
    configuration.proxy = configuration.proxy
    return k8s_client.ApiClient(configuration), selection.context


class _KubeAuth(requests.auth.AuthBase):
    """Adds the kubeconfig's bearer token, asked for at each request so refreshed tokens apply."""

    def __init__(self, configuration: k8s_client.Configuration) -> None:
        self._configuration = configuration

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        for setting in self._configuration.auth_settings().values():
            if setting.get("in") == "header" and setting.get("value"):
                request.headers[setting["key"]] = setting["value"]
        return request


def _load_kubeconfig(path: str, selection: kubeconfigs.Selection, configuration: k8s_client.Configuration) -> None:
    """Load the selected context into ``configuration``; what the client only logs becomes an error.

    The client runs an exec credential plugin while loading and, when it fails, logs the failure
    and goes on without credentials: that log record is the real cause of the 401 that follows.
    """
    logged = _Records()
    root = logging.getLogger()
    root.addHandler(logged)
    try:
        k8s_config.load_kube_config(
            config_file=path, context=selection.context, client_configuration=configuration, persist_config=False
        )
    except ConfigException as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else exc.__class__.__name__
        raise ConfigError(f"kubeconfig {path} cannot be used: {reason}; check it with 'kubectl config view'") from None
    except Exception as exc:  # bad base64, unreadable certificate files
        raise ConfigError(
            f"kubeconfig {path} cannot be read ({exc.__class__.__name__}): "
            "check that it is a valid kubeconfig (kubectl config view)"
        ) from None
    finally:
        root.removeHandler(logged)
    if selection.exec_command and logged.errors:
        raise ConfigError(
            f"kubeconfig {path}: the exec plugin {selection.exec_command!r} of user {selection.user!r} "
            f"failed ({logged.errors[0][:200]}): run it by hand to see why (often: log in again)"
        )


class _Records(logging.Handler):
    """Keeps the error records logged while the kubeconfig loads (and keeps them off stderr)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.errors.append(" ".join(record.getMessage().split()))


def certificate_problem(exc: Exception) -> str | None:
    """What is wrong with the server's certificate, said for a person; None for other failures.

    Asking again cannot help here, so these are not retried: a certificate that the kubeconfig's
    authority did not sign means the cluster was recreated or the kubeconfig is another cluster's.
    """
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" not in text and "certificate verify failed" not in text:
        return None
    if "match" in text or "not valid for" in text:
        return (
            "presented a certificate that is not valid for the address in the kubeconfig: use the "
            "address the cluster's certificate names, or get a fresh kubeconfig for this cluster"
        )
    return (
        "presented a certificate that the kubeconfig's certificate authority did not sign: the cluster "
        "was recreated since this kubeconfig was written, or the kubeconfig belongs to another cluster; "
        "get a fresh kubeconfig (for kind: kind export kubeconfig --name NAME)"
    )


def connection_reason(exc: Exception) -> str:
    text = str(exc)
    for marker in (
        "Connection refused",
        "Name or service not known",
        "timed out",
        "No route to host",
        "certificate verify failed",
        "Connection reset",
    ):
        if marker.lower() in text.lower():
            return marker.lower()
    return exc.__class__.__name__


def status_message(body: bytes) -> str:
    """The message of a Kubernetes Status body, or the start of whatever came back."""
    try:
        document = json.loads(body)
        if isinstance(document, dict) and document.get("message"):
            return str(document["message"])[:200]
    except ValueError:
        pass
    return " ".join(body.decode("utf-8", "replace").split())[:120] or "empty body"
