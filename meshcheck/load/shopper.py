"""The locustfile of the suite's own load: a shopper's visit to Online Boutique, as Locust runs it.

Loaded only by Locust, in its own process (``meshcheck.load.run``): importing Locust patches the
standard library with gevent, which must never happen inside pytest. The visit follows Online
Boutique's own load generator (GoogleCloudPlatform/microservices-demo src/loadgenerator/locustfile.py:
home, set currency, browse a product, add to cart, view the cart, checkout), with the profile's valid
checkout form instead of generated data, so every failure is the shop's and none is a rejected form.
Product pages are grouped under one name (``/product/[id]``) to keep the report's table short.

How to reach the shop comes from the JSON file named by ``MESHCHECK_LOAD_CONNECTION`` (written by
``meshcheck.load.connection``): headers (the kubeconfig's bearer token, through the API server's
service proxy), the CA to verify against, a client certificate, whether to use proxies from the
environment, and the checkout form.
"""

from __future__ import annotations

import json
import os
import random
import re
from typing import Any

from locust import HttpUser, between, task

CURRENCIES = ("EUR", "USD", "JPY", "CAD", "GBP", "TRY")
_PRODUCT = re.compile(r'href="[^"]*/product/([A-Za-z0-9]+)"')
_ERROR_PAGE = "Uh, oh!"


def _connection() -> dict[str, Any]:
    path = os.environ.get("MESHCHECK_LOAD_CONNECTION")
    if not path:
        return {}
    with open(path, encoding="utf-8") as file:
        return json.load(file)


CONNECTION = _connection()


class Shopper(HttpUser):
    """One shopper: a session with the shop's cookies, choosing tasks as the real load generator weighs them."""

    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        self.client.headers.update(CONNECTION.get("headers") or {})
        if "verify" in CONNECTION:
            self.client.verify = CONNECTION["verify"]
        if CONNECTION.get("cert"):
            self.client.cert = tuple(CONNECTION["cert"])
        self.client.trust_env = bool(CONNECTION.get("trust_env", True))
        self.products: list[str] = []
        self.home()

    def _page(self, method: str, path: str, name: str | None = None, **kwargs: Any) -> str:
        """One request whose answer must be a shop page: an error status or the "Uh, oh!" page fails it.

        Named by the shop's own path: through the API server's proxy Locust would name it by the whole URL.
        """
        with self.client.request(method, path, name=name or path, catch_response=True, **kwargs) as response:
            text = response.text or ""
            if response.status_code >= 400:
                response.failure(f"HTTP {response.status_code}")
            elif _ERROR_PAGE in text:
                response.failure("the frontend's error page (Uh, oh!)")
            else:
                response.success()
            return text

    @task(1)
    def home(self) -> None:
        found = _PRODUCT.findall(self._page("GET", "/"))
        if found:
            self.products = sorted(set(found))

    @task(2)
    def set_currency(self) -> None:
        self._page("POST", "/setCurrency", data={"currency_code": random.choice(CURRENCIES)})

    @task(10)
    def browse_product(self) -> None:
        if self.products:
            self._page("GET", f"/product/{random.choice(self.products)}", name="/product/[id]")

    @task(2)
    def add_to_cart(self) -> None:
        if self.products:
            product = random.choice(self.products)
            self._page("GET", f"/product/{product}", name="/product/[id]")
            self._page("POST", "/cart", data={"product_id": product, "quantity": random.randint(1, 3)})

    @task(3)
    def view_cart(self) -> None:
        self._page("GET", "/cart")

    @task(1)
    def checkout(self) -> None:
        self.add_to_cart()
        form = {name: str(value) for name, value in (CONNECTION.get("checkout") or {}).items()}
        self._page("POST", "/cart/checkout", data=form)
