"""The simulated cluster on real sockets: an API server on loopback (HTTPS, with a CA of its own) and a
storefront behind an EXTERNAL-IP of its own (another 127.x.y.z address, plain HTTP as a gateway's
port 80 is), started from a scenario.

Everything a real cluster answers over HTTP comes through here: the Kubernetes API (see
``apiserver``), the API server's service proxy to the add-ons (Kiali, Jaeger or Zipkin,
Prometheus, Grafana) and to the ingress gateway, and the shop itself. It records every request
it serves, so the project's tests can count them and prove that the suite writes nothing.

A scenario whose user has the admin role (``api: {role: admin}``, the ``bare`` scenario) accepts
writes (``writes``) and reconciles them (``reconcile``). Its world is live: the service proxy reaches
a Service only through ready pods that back it (else 503 ``no endpoints available for service``,
as kube-apiserver's proxy answers), and a LoadBalancer address MetalLB gives on loopback answers
as the Service it belongs to, on the Service's HTTP port (``serve``).

A scenario whose user is bound to the roles of real RBAC manifests (``api: {role_from: manifests/grader,
user: ...}``) has every API request authorized by them first, as kube-apiserver's RBAC authorizer would
(``rbac``): what they do not allow is 403 Forbidden before any handler sees it.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import random
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from meshcheck.sim import endpoints, events, extras, loadgen, podlogs
from meshcheck.sim import scenario as scenarios
from meshcheck.sim.apiserver import ApiServer, Registry, resources_for, status
from meshcheck.sim.build import build_world
from meshcheck.sim.pki import ClusterAuthority
from meshcheck.sim.protocol import SimRequest, SimResponse
from meshcheck.sim.rbac import Authorizer
from meshcheck.sim.reconcile import Reconciler
from meshcheck.sim.scenario import duration
from meshcheck.sim.store import Store
from meshcheck.sim.tls import HTTPSServer, TLSRequestHandler
from meshcheck.sim.world import World
from meshcheck.sim.writes import Writer

Handler = Callable[[SimRequest], SimResponse]


@dataclass(frozen=True)
class Served:
    server: str  # "api" or "storefront"
    method: str
    path: str
    query: str
    accept: str
    user: str = ""  # the user a verified TLS client certificate named, "" without one
    status: int = 0  # the status code answered
    at: float = dataclasses.field(default_factory=time.time, compare=False)  # when it arrived: for timelines


class SimCluster:
    """A running simulated cluster; use as a context manager or call start() and stop()."""

    def __init__(self, scenario: str = "healthy", *, latency: float = 0.0, workdir: str | Path | None = None) -> None:
        self.scenario = scenario
        self.model = scenarios.load(scenario)
        self.latency = latency
        self.token = "sim-" + secrets.token_hex(16)
        self.log: list[Served] = []
        self._lock = threading.Lock()
        self._failures_left = int((self.model.get("api") or {}).get("fail_first", 0))
        self._workdir = Path(workdir) if workdir else None
        self._servers: list[ThreadingHTTPServer] = []
        self.authority: ClusterAuthority | None = None
        self.world: World | None = None
        self.api: ApiServer | None = None
        self.authorizer: Authorizer | None = None  # the user's RBAC roles, when the scenario binds it to some
        self.routes: dict[tuple[str, str], Handler] = {}
        self.reconciler: Reconciler | None = None
        self._addresses: dict[tuple[str, str], tuple[str, int, ThreadingHTTPServer | None]] = {}
        self._shop: Any = None
        self.url = ""
        self.kubeconfig: Path | None = None

    @property
    def writable(self) -> bool:
        """Whether the kubeconfig's user has the admin role (else the read-only one)."""
        return (self.model.get("api") or {}).get("role", "reader") == "admin"

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> SimCluster:
        storefront_server, ip, port = self._open_storefront()
        self.world = build_world(self.model, ip, port)
        extras.install(self.world)  # what the scenario adds as written (a ConfigMap full of credentials)
        registry = Registry(resources_for(self.model))
        writer = None
        if self.writable:
            store = Store(self.world)
            ready_after = duration((self.model.get("reconcile") or {}).get("ready_after", 1.5))
            self.reconciler = Reconciler(self.world, store, registry, ready_after=ready_after, addresses=self)
            writer = Writer(self.world, store, registry, self.reconciler.sync)
            self.reconciler.sync()
        loadgen.shape(self.world)  # the load generator as the scenario bends it (scaled to zero, restarting)
        auth = self.model.get("api") or {}
        self.authorizer = Authorizer.for_scenario(auth)
        self.api = ApiServer(
            self.world.objects, registry, git_version=self.model["kubernetes_version"],
            forbidden=frozenset(auth.get("forbidden") or ()), writer=writer,
            **({"user": str(auth["user"])} if self.authorizer is not None and auth.get("user") else {}),
        )
        self.routes = self._routes(self.world)
        self.authority = ClusterAuthority()
        api_server = HTTPSServer(("127.0.0.1", 0), _handler_class(self, "api"), self.authority.server_context())
        self.url = f"https://127.0.0.1:{api_server.server_address[1]}"
        self._serve(api_server)
        if storefront_server is not None:
            storefront_server.RequestHandlerClass = _handler_class(self, "storefront")
            self._serve(storefront_server)
        if self._workdir is not None:
            self.kubeconfig = self.write_kubeconfig(self._workdir / "kubeconfig")
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()
        self._addresses.clear()

    def __enter__(self) -> SimCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self, server: ThreadingHTTPServer) -> None:
        server.daemon_threads = True
        self._servers.append(server)
        threading.Thread(target=server.serve_forever, args=(0.05,), name="meshcheck-sim", daemon=True).start()

    def _open_storefront(self) -> tuple[ThreadingHTTPServer | None, str | None, int]:
        """Pick a loopback address as the gateway's EXTERNAL-IP; listen there unless it must not answer."""
        if "ingress" not in self.model:
            return None, None, 80  # nothing installed: no gateway, so no address (MetalLB gives one later)
        address = (self.model.get("ingress") or {}).get("address", "storefront")
        if address == "pending":
            return None, None, 80
        for _ in range(50):
            ip = f"127.{random.randint(1, 254)}.{random.randint(0, 254)}.{random.randint(2, 254)}"
            if address == "unreachable":
                return None, ip, 80
            for port in (80, 0):
                try:
                    server = ThreadingHTTPServer((ip, port), BaseHTTPRequestHandler)
                    return server, ip, server.server_address[1]
                except PermissionError:
                    continue
                except OSError:
                    break
        raise RuntimeError("no free loopback address for the simulated storefront")

    def write_kubeconfig(self, path: Path) -> Path:
        """A kubeconfig for this cluster as kubectl and the suite read one: the server's CA, and the user's
        bearer token, or a client certificate and key when the scenario says so (both secrets the suite
        must never print)."""
        assert self.authority is not None, "start() the cluster first"
        auth = self.model.get("api") or {}
        if auth.get("auth", "token") == "client-certificate":
            name = str(auth.get("user", "kubernetes-admin"))
            issued = self.authority.issue_client(name, auth.get("group"))
            user = {"client-certificate-data": _b64(issued.certificate), "client-key-data": _b64(issued.key)}
        else:
            name, user = "meshcheck-sim-admin" if self.writable else "meshcheck-sim-reader", {"token": self.token}
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "meshcheck-sim",
            "clusters": [
                {
                    "name": "meshcheck-sim",
                    "cluster": {"server": self.url, "certificate-authority-data": _b64(self.authority.ca_pem)},
                }
            ],
            "users": [{"name": name, "user": user}],
            "contexts": [{"name": "meshcheck-sim", "context": {"cluster": "meshcheck-sim", "user": name}}],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path

    # --- what the suite's requests meet ---------------------------------------------------

    def _routes(self, world: World, live: bool = False) -> dict[tuple[str, str], Handler]:
        """Who answers behind each Service. A built world leaves out the add-ons its scenario marks
        unavailable; a ``live`` one keeps them all: whether pods back a Service is asked per request."""
        from meshcheck.sim.addons import grafana, kiali, prometheus, tracing
        from meshcheck.sim.storefront import Storefront

        istio_ns, ns = world.istio_namespace, world.namespace
        if self._shop is None:
            self._shop = Storefront(world)  # one shop for the cluster's life: the carts live in it
        shop = self._shop.handle
        gateway = self._through_gateway if live else shop  # a gateway's Envoy reaches the shop through frontend
        backend = world.knobs("tracing").get("backend", "jaeger")
        routes: dict[tuple[str, str], tuple[str, Handler]] = {
            (istio_ns, "prometheus"): ("prometheus", lambda r: prometheus.handle(world, r)),
            (istio_ns, "kiali"): ("kiali", lambda r: kiali.handle(world, r)),
            (istio_ns, "tracing"): ("tracing", lambda r: tracing.handle(world, r)),
            (istio_ns, "grafana"): ("grafana", lambda r: grafana.handle(world, r)),
            (istio_ns, "istio-ingressgateway"): ("storefront", gateway),
            (ns, "istio-gateway-istio"): ("storefront", gateway),
            (ns, "frontend"): ("storefront", shop),
            (ns, "frontend-external"): ("storefront", shop),
        }
        if backend == "zipkin":
            routes[(istio_ns, "zipkin")] = ("tracing", lambda r: tracing.handle(world, r))
        else:  # Jaeger's zipkin Service only collects spans (POST /api/v2/spans)
            routes[(istio_ns, "zipkin")] = ("tracing", lambda r: SimResponse.text("404 page not found\n", 404))
        # An add-on whose pods are not ready has no endpoints: the API server's proxy answers 503.
        return {
            key: _with_faults(world.knobs(name), handler)
            for key, (name, handler) in routes.items()
            if live or world.knobs(name).get("available", True) is not False
        }

    def _through_gateway(self, request: SimRequest) -> SimResponse:
        """The shop behind a gateway in a live cluster: Envoy answers 503 while no frontend pod is ready."""
        assert self.world is not None
        if not endpoints.has_endpoints(self.world, self.world.namespace, "frontend"):
            return SimResponse.text("no healthy upstream", 503)
        return self._shop.handle(request)

    def _handler(self, namespace: str, service: str) -> Handler | SimResponse:
        """What answers a request to a Service: its handler, or the 503 of a Service without endpoints."""
        assert self.world is not None
        if not self.world.live:
            handler = self.routes.get((namespace, service))
            if handler is None:
                return status(503, "ServiceUnavailable", f'no endpoints available for service "{service}"')
            return handler
        found = endpoints.service(self.world, namespace, service)
        if found is None or not endpoints.ready_pods(self.world, found):
            return status(503, "ServiceUnavailable", f'no endpoints available for service "{service}"')
        routes = self._routes(self.world, live=True)
        return routes.get((namespace, service)) or (lambda request: SimResponse.text("404 page not found\n", 404))

    # --- LoadBalancer addresses on loopback (controllers.Addresses) ------------------------------

    def serve(self, namespace: str, service: str, ip: str, port: int) -> None:
        """Answer at ``ip:port`` as the Service (the storefront, for a gateway's): MetalLB gave it that
        loopback address. An address this machine will not let us bind stays silent, as an unreachable
        one would."""
        key = (namespace, service)
        if key in self._addresses and self._addresses[key][:2] == (ip, port):
            return
        self._release(key)
        try:
            server: ThreadingHTTPServer | None = ThreadingHTTPServer(
                (ip, port), _handler_class(self, "storefront", key)
            )
        except OSError:
            server = None
        self._addresses[key] = (ip, port, server)
        if server is not None:
            self._serve(server)

    def load_balancers(self) -> dict[tuple[str, str], tuple[str, int, bool]]:
        """Each Service answering on a loopback LoadBalancer address: (address, port, whether it listens)."""
        return {key: (ip, port, server is not None) for key, (ip, port, server) in self._addresses.items()}

    def keep_only(self, services: set[tuple[str, str]]) -> None:
        for key in [k for k in self._addresses if k not in services]:
            self._release(key)

    def _release(self, key: tuple[str, str]) -> None:
        found = self._addresses.pop(key, None)
        if found is None or found[2] is None:
            return
        server = found[2]
        if server in self._servers:
            self._servers.remove(server)
        threading.Thread(target=lambda: (server.shutdown(), server.server_close()), daemon=True).start()

    def dispatch(self, server: str, request: SimRequest, target: tuple[str, str] | None = None) -> SimResponse:
        assert self.world is not None
        self.world.advance()  # what the cluster did by itself since the last request (a rollout completing)
        if server == "storefront" and target is not None:
            handler = self._handler(*target)
            return handler if isinstance(handler, SimResponse) else handler(request)
        if server == "storefront":
            return self.routes[(self.world.namespace, "frontend")](request)
        if self.latency:
            time.sleep(self.latency)
        user = self._authenticate(request)
        if user is None:
            return status(401, "Unauthorized", "Unauthorized")
        request = dataclasses.replace(request, user=user)
        with self._lock:
            failing = self._failures_left > 0
            self._failures_left -= failing
        if failing:
            code = int((self.model.get("api") or {}).get("fail_status", 503))
            return status(
                code,
                "ServiceUnavailable" if code == 503 else "InternalError",
                "the server is currently unable to handle the request",
            )
        refused = self.authorizer.check(request) if self.authorizer is not None else None
        if refused is not None:
            return refused
        proxied = _proxy_target(request.path)
        if proxied is None:
            assert self.api is not None
            if "/events" in request.path:
                events.refresh(self.world)  # Events say what the cluster's objects went through, as they are now
            logged = podlogs.handle(self.world, request, self.api.forbidden)  # the pods/log subresource
            return logged if logged is not None else self.api.handle(request)
        namespace, service, inner, prefix = proxied
        assert self.api is not None
        known = any(
            s["metadata"]["name"] == service and s["metadata"].get("namespace") == namespace
            for s in self.api.objects.get("services", [])
        )
        if not known:
            return status(404, "NotFound", f'services "{service}" not found', {"name": service, "kind": "services"})
        handler = self._handler(namespace, service)
        if isinstance(handler, SimResponse):
            return handler
        response = handler(SimRequest(request.method, inner, request.query, request.headers, request.body))
        return _under_proxy(response, prefix)

    def _authenticate(self, request: SimRequest) -> str | None:
        """Who is asking, as kube-apiserver's authenticators decide: a verified client certificate first
        (the transport has put its user on the request), then the bearer token; None is anonymous."""
        if request.user:
            return request.user
        if request.headers.get("authorization") == f"Bearer {self.token}":
            assert self.api is not None
            return self.api.user
        return None

    def record(self, served: Served) -> None:
        with self._lock:
            self.log.append(served)

    def answered(self, served: Served, status: int) -> None:
        """Note the status code a recorded request was answered (recorded when it arrived, so that a
        request still being answered counts too)."""
        with self._lock:
            for index in range(len(self.log) - 1, -1, -1):
                if self.log[index] is served:
                    self.log[index] = dataclasses.replace(served, status=status)
                    return

    # --- for tests and benchmarks ---------------------------------------------------------

    def api_requests(self) -> list[Served]:
        return [s for s in self.log if s.server == "api"]

    def write_log(self, path: Path) -> None:
        """Every request served, one JSON object a line, for tests and benchmarks in other processes."""
        with path.open("w") as out:
            for served in list(self.log):
                out.write(json.dumps(dataclasses.asdict(served)) + "\n")

    def writes(self) -> list[Served]:
        """Requests that would change Kubernetes objects (proxied shop traffic changes none)."""
        return [s for s in self.api_requests() if s.method not in ("GET", "HEAD") and "/proxy" not in s.path]


def _with_faults(knobs: dict[str, Any], handler: Handler) -> Handler:
    """Wrap a handler with the scenario's generic fault: a status code, a broken body, or slowness."""
    fault = knobs.get("fault")
    if not fault:
        return handler

    def faulty(request: SimRequest) -> SimResponse:
        if fault == "malformed":
            response = handler(request)
            if "json" in response.headers.get("Content-Type", ""):
                return SimResponse(200, response.body[: len(response.body) // 2], response.headers)
            return response
        if fault == "slow":
            time.sleep(float(knobs.get("delay", 5)))
            return handler(request)
        return SimResponse.text(
            f"upstream connect error or disconnect/reset before headers. "
            f"reset reason: {knobs.get('reason', 'connection failure')}",
            int(fault),
        )

    return faulty


# The URL-valued attributes kube-apiserver's proxy rewrites (apimachinery util/proxy transport.go atomsToAttrs).
_URL_ATTRIBUTE = re.compile(
    r"(<[A-Za-z][^>]*?\s(?:href|src|action|formaction|poster|cite|background|longdesc|usemap|codebase|data|"
    r"icon|manifest|profile)\s*=\s*)([\"'])(/(?!/)[^\"']*)\2"
)


def _under_proxy(response: SimResponse, prefix: str) -> SimResponse:
    """What the service proxy does to an answer (k8s.io/apimachinery util/proxy Transport): a
    redirect's same-host absolute Location, and in text/html the same-host absolute links, are moved
    under the proxy path; other bodies pass through untouched."""

    def moved(path: str) -> str:
        return path if path.startswith(prefix) else prefix + path

    location = response.headers.get("Location", "")
    if location:
        if location.startswith("/") and not location.startswith("//"):
            response.headers["Location"] = moved(location)
        return response
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
    if content_type == "text/html" and response.body:
        text = response.body.decode("utf-8", "replace")
        rewritten = _URL_ATTRIBUTE.sub(lambda m: f"{m[1]}{m[2]}{moved(m[3])}{m[2]}", text)
        response.body = rewritten.encode()
    return response


def _proxy_target(path: str) -> tuple[str, str, str, str] | None:
    """(namespace, service, path inside the service, proxy prefix) for a service-proxy path."""
    parts = path.split("/")
    # ['', 'api', 'v1', 'namespaces', ns, 'services', name[:port], 'proxy', ...]
    if (
        len(parts) < 8
        or parts[1:3] != ["api", "v1"]
        or parts[3] != "namespaces"
        or parts[5] != "services"
        or parts[7] != "proxy"
    ):
        return None
    name_port = unquote(parts[6]).split(":")
    service = name_port[1] if len(name_port) == 3 else name_port[0]  # [scheme:]name[:port]
    inner = "/" + "/".join(parts[8:])
    return parts[4], service, inner, "/".join(parts[:8])


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _handler_class(
    cluster: SimCluster, server: str, target: tuple[str, str] | None = None
) -> type[BaseHTTPRequestHandler]:
    class Handler(TLSRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            request = SimRequest(
                self.command, unquote(split.path), parse_qs(split.query), headers, body, user=self.peer_user
            )
            served = Served(server, self.command, split.path, split.query, headers.get("accept", ""),
                            self.peer_user or "")
            cluster.record(served)
            try:
                response = cluster.dispatch(server, request, target)
            except Exception as exc:  # a simulator bug must show as a 500, not hang the client
                response = SimResponse.json(
                    {"kind": "Status", "status": "Failure", "code": 500, "message": f"simulator error: {exc!r}"}, 500
                )
            cluster.answered(served, response.status)
            self.send_response(response.status)
            headers_out = {"Content-Type": "application/json", **response.headers}
            for key, value in headers_out.items():
                for item in value if isinstance(value, list) else [value]:
                    self.send_header(key, item)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
