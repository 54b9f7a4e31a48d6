"""Our own load end to end: real Locust, in its own process, for three seconds against the simulated storefront
(its EXTERNAL-IP, or the API server's proxy with the kubeconfig's token and CA), announced before it starts,
its per-endpoint table in the terminal and the JUnit properties, and each of its checks failing in a scenario:
pages that fail (error budget), a slow frontend (p95 budget), a frontend whose own proxy reports nothing
(Prometheus does not count it). Without --load it never starts: see test_scenarios.py."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from meshcheck.load.run import locust_installed
from tests.harness import Run, run_suite

pytestmark = pytest.mark.skipif(not locust_installed(), reason="Locust is not installed (pip install -e '.[dev]')")

OWN = ("-m", "load", "--load", "--load-duration=3", "--load-users=3", "--load-spawn-rate=3", "--load-scrape-wait=0")
RUNS = {
    "healthy": OWN,
    "storefront-unreachable": OWN,
    "product-page-fails": OWN,
    "storefront-slow": (*OWN, "--load-p95-ms=250"),
    "frontend-metrics-disabled": OWN,
}
ERROR_RATE, P95, COUNTED = ("test_own_load_error_rate_within_budget", "test_own_load_p95_within_budget",
                            "test_own_load_counted_by_prometheus")


@pytest.fixture(scope="module")
def runs() -> dict[str, tuple[Run, float]]:
    """Each run with its wall time, two at a time (the machine has two cores)."""

    def timed(name: str) -> tuple[Run, float]:
        began = time.monotonic()
        return run_suite(*RUNS[name], scenario=name), time.monotonic() - began

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(timed, name) for name in RUNS}
        return {name: future.result() for name, future in futures.items()}


def outcome(run: Run, test: str) -> tuple[str, str]:
    found = run.tests[f"test_90_load::{test}"]
    return found.outcome, found.message


@pytest.mark.parametrize("name", ["healthy", "storefront-unreachable"])
def test_own_load_runs_when_asked_and_passes_on_a_healthy_shop(runs, name):
    run, seconds = runs[name]
    assert run.code == 0 and {t.outcome for t in run.tests.values()} == {"passed"}, run.output[-3000:]
    assert seconds < 30, seconds
    announced = run.output.index("meshcheck: our own load starts now: 3 users (spawned 3/s) for 3s against the "
                                 "storefront through ")
    assert "it places real orders in the shop" in run.output[announced:announced + 400]
    section = run.output.split("meshcheck own load", 1)[1]
    assert re.search(r"^ +Aggregated +\d+ +0 +0\.00%", section, re.MULTILINE), section
    assert re.search(r"^GET +/product/\[id\] +\d+", section, re.MULTILINE), section
    table = run.tests[f"test_90_load::{ERROR_RATE}"].properties["own_load"]
    assert "Aggregated" in table and table.splitlines()[0].startswith("3 users (spawned 3/s) for 3s through ")


def test_locust_sends_real_shopping_traffic_to_the_storefront(runs):
    """Locust's requests reach the shop as a shopper's would: pages, add-to-cart, checkouts placing orders."""
    healthy, _ = runs["healthy"]
    shop = [s for s in healthy.served if s["server"] == "storefront"]
    assert len(shop) > 10 and {"GET", "POST"} <= {s["method"] for s in shop}
    assert any(s["path"].startswith("/product/") for s in shop)
    proxied, _ = runs["storefront-unreachable"]  # through the API server: authenticated as the suite is
    api = [s for s in proxied.served if s["server"] == "api" and "/services/istio-ingressgateway:" in s["path"]]
    assert len(api) > 10 and any(s["method"] == "POST" for s in api)


def test_failing_pages_put_our_own_load_over_its_error_budget(runs):
    run, _ = runs["product-page-fails"]
    state, message = outcome(run, ERROR_RATE)
    assert state == "failed" and "over the 1.00% budget; worst: GET /product/[id] " in message, message
    assert "HTTP 500" in message
    assert outcome(run, P95)[0] == "passed" and outcome(run, COUNTED)[0] == "passed"


def test_a_slow_frontend_puts_our_own_load_over_its_latency_budget(runs):
    run, _ = runs["storefront-slow"]
    state, message = outcome(run, P95)
    assert state == "failed" and "the 95th percentile response time is " in message
    assert "over the 250 ms budget; slowest: " in message, message
    assert outcome(run, ERROR_RATE)[0] == "passed" and outcome(run, COUNTED)[0] == "passed"


def test_prometheus_that_does_not_count_the_frontend_fails_the_counted_check(runs):
    run, _ = runs["frontend-metrics-disabled"]
    state, message = outcome(run, COUNTED)
    assert state == "failed" and "Prometheus has no istio_requests_total series for online-boutique/frontend to " \
        "count our " in message, message
    assert outcome(run, ERROR_RATE)[0] == "passed" and outcome(run, P95)[0] == "passed"
