"""The pytest plugin: options, layer markers, gating, the run's start (cluster, deploy, connect), one-line
failures and the layer summary.

Registered through the ``pytest11`` entry point, so its options work wherever they stand on the
command line. The fixtures the suite's tests use live in ``fixtures/`` (loaded by the repository's
conftest.py), thin over what this plugin started and over ``meshcheck.suite.Suite``; the logic lives
there and in ``meshcheck.checks``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from meshcheck import first_reads, kube, layers, providers
from meshcheck.deploy.kind import KindOptions
from meshcheck.deploy.plan import DeployOptions
from meshcheck.diagnostics import Diagnoser, addon_objects
from meshcheck.endpoints import Endpoint
from meshcheck.errors import SuiteError
from meshcheck.load import options as load_options
from meshcheck.profile import Profile, load_profile
from meshcheck.redact import redact
from meshcheck.report import outputs
from meshcheck.report.record import RECORD_ATTR, CheckRecord, parse_blocked
from meshcheck.report.text import shorten
from meshcheck.rubric import load_rubric
from meshcheck.run import STATE, RunState
from meshcheck.suite import Options, Suite

ADDON_URLS = ("kiali", "tracing", "grafana", "prometheus", "storefront")
# Options whose value is a file: given as "--option PATH", pytest takes PATH for a test path.
PATH_OPTIONS = ("--kubeconfig", "--profile", "--sim-scenario", "--sim-record", "--manifests", "--rubric",
                "--report-json")


# The add-on behind each add-on layer: where a failure with no object of its own is diagnosed.
LAYER_ADDONS = {"telemetry": "prometheus", "kiali": "kiali", "tracing": "tracing", "grafana": "grafana"}
AHEAD_WORKERS = 12  # the add-on layers' first reads (first_reads): about a dozen, all at once
UNREADABLE = pytest.StashKey[SuiteError]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("meshcheck", "mesh conformance suite")
    group.addoption(
        "--cluster",
        choices=("attach", "sim", "kind"),
        default="attach",
        help="attach: the cluster of --kubeconfig/--context (default); sim: start the simulated "
        "cluster (offline demo); kind: create a kind cluster (pinned kind and node image), deploy every "
        "layer onto it, and delete it at the end",
    )
    group.addoption("--deploy", action="store_true",
                    help="deploy the stack from manifests/ onto the cluster first (the default with --cluster=kind); "
                    "on an attached cluster the run says what it will change before the first write")
    group.addoption("--deploy-layers", default=None,
                    help="deploy only these layers, comma-separated: metallb,istio,boutique,addons,dashboard "
                    "(the default), and policy, deployed only when named (implies --deploy)")
    group.addoption("--deploy-timeout", type=float, default=600.0,
                    help="seconds each deployed layer may take to roll out (default 600)")
    group.addoption("--expose", choices=("clusterip", "nodeport"), default="clusterip",
                    help="nodeport: deploy the add-ons and the dashboard on NodePort Services, as the lab did")
    group.addoption("--manifests", default=None,
                    help="a copy of manifests/ (with its own lock.yaml, e.g. pointing at a mirror) to deploy from")
    group.addoption("--kind-workers", type=int, default=1, help="worker nodes of a kind cluster (default 1)")
    group.addoption("--metallb-addresses", default=None,
                    help="the range MetalLB may hand out (FIRST-LAST), where the kind network cannot tell")
    # --cluster-name, --keep-cluster and --kubeconfig come from pytest-kind-ng, a dependency.
    group.addoption("--context", default=None, help="kubeconfig context to use (default: current context)")
    group.addoption(
        "--sim-scenario", default="healthy", help="scenario of the simulated cluster (python -m meshcheck.sim --list)"
    )
    group.addoption("--sim-latency", type=float, default=0.0, help="seconds the simulated API adds per request")
    group.addoption("--sim-record", default=None,
                    help="write every request the simulated cluster served to this file (JSON lines)")
    group.addoption("--profile", default=None, help="expectations: a bundled profile name or a YAML file")
    group.addoption("--rubric", default=None,
                    help="points per layer and what blocks what: a bundled rubric (lab, the default; lab-grader) "
                    "or a YAML file")
    group.addoption("--screenshots", action="store_true",
                    help="draw the storefront's home page in headless Chromium for the HTML report (needs Debian's "
                    "chromium and meshcheck[browser]; the gateway's address must be reachable from here)")
    group.addoption("--report-json", default=None,
                    help="write the run's JSON summary here (schema meshcheck/report/report-v1.schema.json)")
    group.addoption(
        "--wait",
        type=float,
        default=120.0,
        help="seconds each layer may wait for state that is still changing (default 120)",
    )
    group.addoption("--request-timeout", type=float, default=10.0, help="seconds per HTTP request (default 10)")
    for name in ADDON_URLS:
        group.addoption(
            f"--{name}-url",
            default=None,
            help=f"reach {name} at this URL instead of through the API server's service proxy",
        )
    add_load_options(group)


def add_load_options(group: Any) -> None:
    """The load layer's options: its budgets, and the suite's own Locust run, which only --load starts."""
    group.addoption("--load", action="store_true",
                    help="also run our own Locust load against the storefront (it places orders; off by default)")
    group.addoption("--load-users", type=int, default=10, help="users of our own load (default 10)")
    group.addoption("--load-spawn-rate", type=float, default=5.0, help="users started a second (default 5)")
    group.addoption("--load-duration", type=float, default=30.0, help="seconds our own load runs (default 30)")
    group.addoption("--load-max-error-rate", type=float, default=1.0,
                    help="percent of requests that may fail, for the load generator and our own load (default 1)")
    group.addoption("--load-p95-ms", type=float, default=2000.0,
                    help="milliseconds within which 95%% of our own load's requests must be answered (default 2000)")
    group.addoption("--load-scrape-wait", type=float, default=load_options.SCRAPE_ALLOWANCE,
                    help="seconds Prometheus may take after our own load to have counted it (default "
                    f"{load_options.SCRAPE_ALLOWANCE:g}: two of the Istio add-on's 15 s scrape intervals and a margin)")


def pytest_configure(config: pytest.Config) -> None:
    try:
        rubric = load_rubric(config.getoption("rubric", None))
    except SuiteError as exc:
        raise pytest.UsageError(f"meshcheck: {exc}") from None
    config.stash[STATE] = RunState(rubric=rubric)
    config.pluginmanager.register(outputs, "meshcheck-outputs")
    for layer in layers.LAYERS:
        config.addinivalue_line("markers", f"{layer.name}: {layer.title} (suites/{layer.module}.py)")
    config.addinivalue_line("markers", "nonblocking: a failure here does not block the layers that depend on this one")


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    for stop in reversed(state.stop if state else []):
        stop()


def layer_of(item: pytest.Item) -> layers.Layer | None:
    return layers.layer_of_module(item.path.stem)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    checks, collected = set(), set()
    for item in items:
        layer = layer_of(item)
        if layer is not None:
            item.add_marker(getattr(pytest.mark, layer.name))
            checks.add(_check_name(item))
            collected.add(layer.name)
    # A rubric naming a check the suite lacks would weigh nothing, silently: judged when the whole suite is here.
    whole = len(collected) == len(layers.LAYERS) and not config.option.keyword and not config.option.markexpr
    unknown = config.stash[STATE].rubric.unknown_checks(checks) if whole else []
    if unknown:
        raise pytest.UsageError(f"meshcheck: the rubric names checks the suite does not have: {', '.join(unknown)}")


# --- gating ------------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Any:
    """Skip a check whose layer rests on a broken one, before any of its fixtures waits or reads.

    An add-on that cannot be reached while the check's fixtures read it is that check's failure:
    without this it would show as an "error" of the suite rather than a failed check with its fix.
    The test function is then not called (see ``pytest_pyfunc_call``).
    """
    layer = layer_of(item)
    if layer is None:
        return (yield)
    item.config.stash[STATE].skip_if_blocked(layers.prerequisites(layer.name))
    try:
        return (yield)
    except SuiteError as exc:
        item.stash[UNREADABLE] = exc
        return None


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    error = pyfuncitem.stash.get(UNREADABLE, None)
    if error is not None:
        pytest.fail(str(error), pytrace=False)
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    """Record every check, whatever phase it ended in, and mark its layer broken when the rubric says
    its failure blocks the layers resting on it."""
    report = yield
    layer = layer_of(item)
    if layer is None:
        return report
    if call.excinfo is not None and call.excinfo.errisinstance(SuiteError):
        report.longrepr = str(call.excinfo.value)
    state = item.config.stash[STATE]
    _redact_report(report)
    if report.when == "call" or (report.outcome != "passed" and item.nodeid not in state.records):
        record = _record(item, report, state)
        state.records[item.nodeid] = record
        setattr(report, RECORD_ATTR, record)
        marked = item.get_closest_marker("nonblocking") is not None
        if record.outcome == "failed":
            _diagnose(item, record, state)
            if record.diagnostics:
                report.longrepr = f"{report.longrepr}\n\n{record.diagnostics}"
            if state.rubric.blocks(layer.name, record.check, marked):
                state.broken.setdefault(layer.name, shorten(record.message, 300))
    return report


def _redact_report(report: pytest.TestReport) -> None:
    """No credential leaves the run: what pytest itself prints and writes (the failure text, captured output)
    goes through the same redaction as the suite's own reports."""
    if report.failed and report.longrepr is not None:
        report.longrepr = redact(str(report.longrepr))
    report.sections = [(header, redact(content)) for header, content in report.sections]


def _diagnose(item: pytest.Item, record: CheckRecord, state: RunState) -> None:
    """A failure's Events, describe-like summary and container logs: read only now, for failures, so a
    passing run pays nothing. A failure with no object of its own is about its add-on's Service."""
    if state.diagnoser is None or state.suite is None:
        return
    objects = record.result.objects if record.result else ()
    if not objects:
        endpoints = [v for v in getattr(item, "funcargs", {}).values() if isinstance(v, Endpoint)]
        addon = LAYER_ADDONS.get(record.layer)
        if not endpoints and addon:
            with contextlib.suppress(SuiteError):
                endpoints = [state.suite.addon(addon)]
        objects = tuple(ref for endpoint in endpoints for ref in addon_objects(endpoint))
    if objects:
        try:
            record.diagnostics = state.diagnoser.diagnose_objects(objects, check=record.check).render_text()
        except Exception as exc:  # a report's extra must never end the run
            record.diagnostics = redact(f"diagnostics could not be gathered: {exc.__class__.__name__}: {exc}")


def _check_name(item: pytest.Item) -> str:
    return getattr(item, "originalname", None) or item.name


def _record(item: pytest.Item, report: pytest.TestReport, state: RunState) -> CheckRecord:
    layer = layer_of(item)
    assert layer is not None
    result = next((r for nodeid, r in reversed(state.results) if nodeid == item.nodeid), None)
    record = CheckRecord(item.nodeid, layer.name, _check_name(item), "passed", "", duration=report.duration,
                         phase=report.when)
    if report.skipped:
        reason = redact(_skip_reason(report))
        blocked = parse_blocked(reason)
        record.outcome = "blocked" if blocked else "skipped"
        record.blocked_by, record.message = blocked if blocked else (None, reason)
    elif report.failed and result is not None and not result.passed:
        record.outcome, record.message, record.remediation, record.result = (
            "failed", redact(result.message), redact(result.remediation), result)
    elif report.failed:  # a fixture's error, an add-on unreachable in setup, a bug: its last line says what
        record.outcome, record.message = "failed", redact(_first_line(report))
    else:
        record.message, record.result = redact(result.message if result else "passed"), result
    return record


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return str(reason).removeprefix("Skipped: ")


def _first_line(report: pytest.TestReport) -> str:
    text = str(report.longrepr).strip().splitlines()
    line = text[-1] if text else report.nodeid
    for prefix in ("Failed: ", "E   "):
        line = line.removeprefix(prefix)
    return line


# --- fixtures ----------------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, args: list[str]) -> None:
    """Refuse ``--kubeconfig PATH`` (space form) before pytest collects from the wrong root directory.

    pytest chooses its root directory and ini file before any plugin's options are known, so it
    takes PATH for a test path: the project's pyproject.toml is not read, ``testpaths`` is lost and
    a run collects whatever lies in the working directory, with a normal-looking summary.
    """
    problem = ambiguous_path_option(args)
    if problem:
        raise pytest.UsageError(f"meshcheck: {problem}")


def ambiguous_path_option(args: list[str]) -> str | None:
    """The fix for an option given as ``--option PATH`` where PATH exists, or None."""
    for option, value in itertools.pairwise(args):
        if option in PATH_OPTIONS and os.path.exists(value):
            return (
                f"write {option}={value} (with '='): given as '{option} {value}', pytest takes {value} for a "
                "test path before it knows the option, and would run the wrong tests from the wrong root "
                f"directory{'; or set KUBECONFIG' if option == '--kubeconfig' else ''}"
            )
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Connect once, before the first check, when the run holds any check of the suite.

    Bad input (kubeconfig, context, credentials, an unreachable or untrusted API server, a profile
    or scenario that cannot be read) ends the run here with one line and exit code 4, before a
    single check runs or waits.
    """
    config = session.config
    wanted = {lay.name for item in session.items if (lay := layer_of(item)) is not None}
    state = config.stash[STATE]
    if not wanted or config.option.collectonly or state.suite is not None:
        return
    try:
        state.suite = start(config)
    except SuiteError as exc:
        raise pytest.UsageError(f"meshcheck: {exc}") from None
    state.diagnoser = Diagnoser(state.suite.cluster)
    ahead = ThreadPoolExecutor(max_workers=AHEAD_WORKERS, thread_name_prefix="meshcheck-ahead")
    state.stop.append(lambda: ahead.shutdown(wait=False, cancel_futures=True))
    first_reads.start(state.suite, wanted, ahead, load_window=load_options.from_options(config.getoption).window)
    with contextlib.suppress(SuiteError):  # each check meets the error again and reports it itself
        state.suite.prefetch(wanted)


def start(config: pytest.Config) -> Suite:
    state = config.stash[STATE]
    option = config.getoption
    load_options.from_options(option)  # a budget no run can use is bad input, before anything starts
    profile = load_profile(option("profile"))
    opened = providers.open_cluster(cluster_request(config, profile), progress=_progress(config))
    state.stop.append(lambda: providers.close(opened))
    state.deployed = opened.deployed
    if opened.sim is not None and option("sim_record"):
        sim = opened.sim
        opened.stops.append(lambda: sim.write_log(Path(option("sim_record"))))
    options = Options(
        wait=option("wait"),
        request_timeout=option("request_timeout"),
        urls={name: option(f"{name.replace('-', '_')}_url") for name in ADDON_URLS},
    )
    cluster = kube.Cluster.connect(opened.kubeconfig, opened.context, timeout=options.request_timeout)
    return Suite(cluster, profile, options)


def cluster_request(config: pytest.Config, profile: Profile) -> providers.ClusterRequest:
    """The command line's say on where the cluster comes from and what is deployed onto it."""
    option = config.getoption
    layers_wanted = option("deploy_layers")
    deployment = DeployOptions(
        namespace=profile.namespaces[0],
        ingress=str(profile.deploy.get("ingress", "classic")),
        expose=option("expose"),
        timeout=option("deploy_timeout"),
    )
    if option("manifests"):
        deployment.manifests = Path(option("manifests")).resolve()
    if layers_wanted:
        deployment.layers = providers.parse_layers(layers_wanted)
    return providers.ClusterRequest(
        mode=option("cluster"),
        kubeconfig=option("kubeconfig", None),
        context=option("context"),
        sim_scenario=option("sim_scenario"),
        sim_latency=option("sim_latency"),
        deploy=True if (option("deploy") or layers_wanted) else None,
        deployment=deployment,
        kind=KindOptions(name=option("cluster_name", "meshcheck"), workers=option("kind_workers"),
                         keep=bool(option("keep_cluster", False))),
        metallb_addresses=option("metallb_addresses"),
    )


def _progress(config: pytest.Config) -> Callable[[str], None]:
    """Progress lines for long steps (creating a cluster, deploying): on the terminal, as they happen."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return lambda line: print(line, flush=True)
    return lambda line: (reporter.ensure_newline(), reporter.write_line(line))
