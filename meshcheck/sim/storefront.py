"""The simulated Online Boutique frontend: the shop's pages, a cart per session cookie, checkout.

Behaviour follows the real frontend, GoogleCloudPlatform/microservices-demo ``src/frontend``:
``main.go`` (gorilla/mux routes and methods, ``/_healthz`` → ``ok``, ``/robots.txt``, unknown
paths → Go's ``404 page not found``, a known path with another method → 405 with no body, cookies
``shop_session-id`` and ``shop_currency`` with ``Max-Age=172800`` and no Path, USD by default),
``middleware.go`` (a session cookie set on any answer to a request without one), ``handlers.go``
(add-to-cart → 302 ``Location: /cart``; set-currency → 302 to the Referer or ``/``; every failure
renders the error page with its status and the wrapped error text) and ``validator/validator.go``
(from v0.10 invalid input answers 422 "Field 'X' is invalid: tag"; before, add-to-cart answered
400 "invalid form input" and a bad card failed later in paymentservice, a 500; paymentservice's
``charge.js`` gives the card errors). The catalog is productcatalogservice's ``products.json``
(ids, names, USD prices; descriptions are our own), the shipping quote shippingservice's fixed
8.99 USD. The HTML is our own and only keeps the cues the real templates share and the suite
reads (see ``meshcheck.addons.storefront``): the title, product links and ``*-name`` cards,
``<h2>`` product name and its form, "SKU #ID" / "Quantity: N" cart lines, "Your order is
complete!" with "Confirmation #", and the "Uh, oh!" error page.

Knobs (``world.knobs("storefront")``): ``fail: {"<path>" | "<METHOD> <path>": status}`` answers
that route with the error page (a path also covers the paths under it, ``/`` only itself);
``products: [ids]`` limits the catalog (``[]``: empty, the home page lists nothing);
``version: "v0.10.1"`` picks the input validation era (422 from v0.10, else 400/500);
``carts: lost`` keeps nothing that is added (cartservice without Redis on several replicas, each
holding carts of its own in memory: the cart read next comes from another replica).
``latency: 0.3`` (seconds) slows every answer, as a frontend short of CPU under load is.
One ``Set-Cookie`` fits a ``SimResponse``: a route that sets its own cookie (``/setCurrency``)
leaves the new session's cookie to the next answer.
"""

from __future__ import annotations

import datetime
import html
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from meshcheck.sim import traffic
from meshcheck.sim.protocol import SimRequest, SimResponse
from meshcheck.sim.scenario import release
from meshcheck.sim.world import World

SESSION_COOKIE = "shop_session-id"
CURRENCY_COOKIE = "shop_currency"
COOKIE_MAX_AGE = 60 * 60 * 48
DEFAULT_VERSION = "v0.10.1"
SHIPPING_USD_CENTS = 899
_HTML = "text/html; charset=utf-8"


@dataclass(frozen=True)
class Item:
    id: str
    name: str
    description: str
    usd_cents: int
    picture: str


CATALOG: tuple[Item, ...] = (
    Item("OLJCESPC7Z", "Sunglasses", "Aviator-style shades.", 1999, "sunglasses.jpg"),
    Item("66VCHSJNUP", "Tank Top", "A light cotton top.", 1899, "tank-top.jpg"),
    Item("1YMWWN1N4O", "Watch", "A gold-tone wrist watch.", 10999, "watch.jpg"),
    Item("L9ECAV7KIM", "Loafers", "Slip-on leather shoes.", 8999, "loafers.jpg"),
    Item("2ZYFJ3GM2N", "Hairdryer", "Three heat settings, travel size.", 2499, "hairdryer.jpg"),
    Item("0PUK6V6EV0", "Candle Holder", "A small holder for one candle.", 1899, "candle-holder.jpg"),
    Item("LS4PSXUNUM", "Salt & Pepper Shakers", "A pair of glass shakers.", 1849,
         "salt-and-pepper-shakers.jpg"),
    Item("9SIQT8TOJO", "Bamboo Glass Jar", "A jar with a bamboo lid.", 549, "bamboo-glass-jar.jpg"),
    Item("6E92ZMYYFZ", "Mug", "A plain mug.", 899, "mug.jpg"),
)
# Units of each currency per euro, as currencyservice converts through EUR (illustrative values).
RATES = {"EUR": 1.0, "USD": 1.1305, "JPY": 126.40, "GBP": 0.8597, "TRY": 5.1223, "CAD": 1.5128}
SYMBOLS = {"USD": "$", "CAD": "$", "JPY": "¥", "EUR": "€", "TRY": "₺", "GBP": "£"}
_ENVOY_UNAVAILABLE = ("rpc error: code = Unavailable desc = upstream connect error or "
                      "disconnect/reset before headers. reset reason: connection failure")


class StorefrontError(Exception):
    """A failure the frontend renders as its error page (``renderHTTPError``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _Visit:
    """One request as the handlers see it: the form, the session and the currency."""

    request: SimRequest
    form: dict[str, str]
    session: str
    currency: str


class Storefront:
    """Online Boutique's frontend over a ``World``; carts are kept per session, under a lock."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._lock = threading.Lock()
        self._carts: dict[str, dict[str, int]] = {}
        self._routes = (
            (re.compile(r"/"), ("GET", "HEAD"), self._home),
            (re.compile(r"/product/(?P<id>[^/]+)"), ("GET", "HEAD"), self._product),
            (re.compile(r"/cart"), ("GET", "HEAD"), self._view_cart),
            (re.compile(r"/cart"), ("POST",), self._add_to_cart),
            (re.compile(r"/cart/empty"), ("POST",), self._empty_cart),
            (re.compile(r"/setCurrency"), ("POST",), self._set_currency),
            (re.compile(r"/logout"), ("GET",), self._logout),
            (re.compile(r"/cart/checkout"), ("POST",), self._checkout),
            (re.compile(r"/robots\.txt"), None, lambda v, m: SimResponse.text("User-agent: *\nDisallow: /")),
            (re.compile(r"/_healthz"), None, lambda v, m: SimResponse.text("ok")),
        )

    # -- entry point --------------------------------------------------------------------------

    def handle(self, request: SimRequest) -> SimResponse:
        cookies = _cookies(request.headers.get("cookie", ""))
        session = cookies.get(SESSION_COOKIE) or str(uuid.uuid4())
        visit = _Visit(request, _form(request), session, cookies.get(CURRENCY_COOKIE) or "USD")
        try:
            response = self._dispatch(visit)
        except StorefrontError as exc:
            response = self._error_page(visit, exc.status, exc.message)
        if SESSION_COOKIE not in cookies and "Set-Cookie" not in response.headers:
            response.headers["Set-Cookie"] = f"{SESSION_COOKIE}={session}; Max-Age={COOKIE_MAX_AGE}"
        if request.method == "HEAD":
            response.body = b""
        if self._knobs().get("latency"):
            time.sleep(float(self._knobs()["latency"]))
        traffic.ledger(self.world).served(response.status)  # the frontend's sidecar counts it (Prometheus)
        return response

    def _dispatch(self, visit: _Visit) -> SimResponse:
        path, method = visit.request.path, visit.request.method
        if path.startswith("/static/"):
            return _not_found()
        path_matched = False
        for pattern, methods, handler in self._routes:
            match = pattern.fullmatch(path)
            if not match:
                continue
            path_matched = True
            if methods is None or method in methods:
                self._injected_fault(method, path)
                return handler(visit, match)
        return SimResponse(405) if path_matched else _not_found()

    def _injected_fault(self, method: str, path: str) -> None:
        for key, status in (self._knobs().get("fail") or {}).items():
            key_method, _, key_path = key.rpartition(" ")
            if key_method and key_method.upper() != method:
                continue
            if path == key_path or (key_path != "/" and path.startswith(key_path.rstrip("/") + "/")):
                raise StorefrontError(int(status), _fault_message(method, path, int(status)))

    # -- pages ---------------------------------------------------------------------------------

    def _home(self, visit: _Visit, _: re.Match[str]) -> SimResponse:
        cards = "".join(self._card(item, visit.currency) for item in self._catalog())
        body = (f'<main role="main" class="home"><div class="container-fluid"><div class="row">'
                f'<div class="col-12"><h3>Hot Products</h3></div>{cards}</div></div>'
                f"{_ad(CATALOG[4])}</main>")
        return self._page(visit, body)

    def _card(self, item: Item, currency: str) -> str:
        return (f'<div class="col-md-4 hot-product-card"><a href="/product/{item.id}">'
                f'<img alt="" src="/static/img/products/{item.picture}"></a><div>'
                f'<div class="hot-product-card-name">{html.escape(item.name)}</div>'
                f'<div class="hot-product-card-price">{_money(item.usd_cents, currency)}</div>'
                f"</div></div>")

    def _product(self, visit: _Visit, match: re.Match[str]) -> SimResponse:
        item = self._item(match["id"], "could not retrieve product")
        options = "".join(f"<option>{n}</option>" for n in (1, 2, 3, 4, 5, 10))
        body = (f'<main role="main"><div class="h-product container"><div class="row">'
                f'<div class="col-md-6"><img class="product-image" alt="" '
                f'src="/static/img/products/{item.picture}"></div>'
                f'<div class="product-info col-md-5"><div class="product-wrapper">'
                f"<h2>{html.escape(item.name)}</h2>"
                f'<p class="product-price">{_money(item.usd_cents, visit.currency)}</p>'
                f"<p>{html.escape(item.description)}</p>"
                f'<form method="POST" action="/cart"><input type="hidden" name="product_id" '
                f'value="{item.id}"><select name="quantity" id="quantity">{options}</select>'
                f'<button type="submit" class="cymbal-button-primary">Add To Cart</button></form>'
                f"</div></div></div></div>{self._recommendations(exclude={item.id})}"
                f'<div class="ad">{_ad(item)}</div></main>')
        return self._page(visit, body)

    def _add_to_cart(self, visit: _Visit, _: re.Match[str]) -> SimResponse:
        product_id = visit.form.get("product_id", "")
        quantity = _uint(visit.form.get("quantity", ""))
        self._validate_add(product_id, quantity)
        item = self._item(product_id, "could not retrieve product")
        with self._lock:
            cart = self._carts.setdefault(visit.session, {})
            if self._knobs().get("carts") != "lost":
                cart[item.id] = cart.get(item.id, 0) + quantity
        return SimResponse(302, b"", {"Location": "/cart"})

    def _validate_add(self, product_id: str, quantity: int) -> None:
        if not self._validates():
            if not product_id or quantity == 0:
                raise StorefrontError(400, "invalid form input")
            return
        problems = []
        if quantity == 0:
            problems.append("Field 'Quantity' is invalid: required")
        elif quantity > 10:
            problems.append("Field 'Quantity' is invalid: lte")
        if not product_id:
            problems.append("Field 'ProductID' is invalid: required")
        if problems:
            raise StorefrontError(422, "\n".join(problems))

    def _view_cart(self, visit: _Visit, _: re.Match[str]) -> SimResponse:
        lines = self._cart_lines(visit.session)
        if not lines:
            body = ('<main role="main" class="cart-sections"><section class="empty-cart-section">'
                    "<h3>Your shopping cart is empty!</h3>"
                    "<p>Items you add to your shopping cart will appear here.</p>"
                    '<a class="cymbal-button-primary" href="/" role="button">Continue Shopping</a>'
                    f"</section>{self._recommendations(exclude=set())}</main>")
            return self._page(visit, body)
        size = sum(quantity for _, quantity in lines)
        total = sum(item.usd_cents * quantity for item, quantity in lines) + SHIPPING_USD_CENTS
        rows = "".join(_cart_row(item, quantity, visit.currency) for item, quantity in lines)
        body = (f'<main role="main" class="cart-sections"><section class="cart-summary-section">'
                f"<h3>Cart ({size})</h3>"
                '<form method="POST" action="/cart/empty"><button type="submit">Empty Cart</button>'
                f"</form>{rows}"
                f'<div class="row cart-summary-shipping-row"><div class="col">Shipping</div>'
                f'<div class="col text-right">{_money(SHIPPING_USD_CENTS, visit.currency)}</div></div>'
                f'<div class="row cart-summary-total-row"><div class="col">Total</div>'
                f'<div class="col text-right">{_money(total, visit.currency)}</div></div></section>'
                f"{_checkout_form()}</main>{self._recommendations(exclude={i.id for i, _ in lines})}")
        return self._page(visit, body)

    def _empty_cart(self, visit: _Visit, _: re.Match[str]) -> SimResponse:
        with self._lock:
            self._carts.pop(visit.session, None)
        return SimResponse(302, b"", {"Location": "/"})

    def _checkout(self, visit: _Visit, _: re.Match[str]) -> SimResponse:
        form = visit.form
        if self._validates():
            _validate_order(form)
        _charge(form.get("credit_card_number", ""), _int(form.get("credit_card_expiration_month", "")),
                _int(form.get("credit_card_expiration_year", "")))
        lines = self._cart_lines(visit.session)
        with self._lock:
            self._carts.pop(visit.session, None)      # checkoutservice empties the cart
        total = sum(item.usd_cents * quantity for item, quantity in lines) + SHIPPING_USD_CENTS
        order_id = str(uuid.uuid4())
        tracking = _tracking_id()
        body = ('<main role="main" class="order"><section class="container order-complete-section">'
                '<div class="row"><div class="col-12 text-center"><h3>Your order is complete!</h3>'
                "</div><div class=\"col-12 text-center\"><p>We've sent you a confirmation email.</p>"
                '</div></div><div class="row"><div class="col-6">Confirmation #</div>'
                f'<div class="col-6 text-right">{order_id}</div></div>'
                '<div class="row"><div class="col-6">Tracking #</div>'
                f'<div class="col-6 text-right">{tracking}</div></div>'
                '<div class="row"><div class="col-6">Total Paid</div>'
                f'<div class="col-6 text-right">{_money(total, visit.currency)}</div></div>'
                '<a class="cymbal-button-primary" href="/" role="button">Continue Shopping</a>'
                f"</section>{self._recommendations(exclude=set())}</main>")
        return self._page(visit, body, show_currency=False)

    def _set_currency(self, visit: _Visit, _: re.Match[str]) -> SimResponse:
        code = visit.form.get("currency_code", "")
        if self._validates() and not re.fullmatch(r"[A-Z]{3}", code):
            raise StorefrontError(422, "Field 'Currency' is invalid: " + ("iso4217" if code else "required"))
        headers = {"Location": visit.request.headers.get("referer") or "/"}
        if code:
            headers["Set-Cookie"] = f"{CURRENCY_COOKIE}={code}; Max-Age={COOKIE_MAX_AGE}"
        return SimResponse(302, b"", headers)

    def _logout(self, visit: _Visit, _: re.Match[str]) -> SimResponse:
        return SimResponse(302, b"", {"Location": "/",
                                      "Set-Cookie": f"{SESSION_COOKIE}={visit.session}; Max-Age=0"})

    # -- shared parts ---------------------------------------------------------------------------

    def _page(self, visit: _Visit, main: str, *, status: int = 200, show_currency: bool = True) -> SimResponse:
        size = sum(q for _, q in self._cart_lines(visit.session))
        currencies = "".join(
            f'<option value="{c}"{" selected" if c == visit.currency else ""}>{c}</option>' for c in RATES)
        selector = (f'<form method="POST" action="/setCurrency" id="currency_form">'
                    f'<select name="currency_code">{currencies}</select></form>') if show_currency else ""
        badge = f'<span class="cart-size-circle">{size}</span>' if size else ""
        document = ('<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8">'
                    "<title>Online Boutique</title></head><body><header><div class=\"navbar\">"
                    f'<a href="/" class="navbar-brand">Online Boutique</a>{selector}'
                    f'<a href="/cart" class="cart-link">Cart{badge}</a></div></header>'
                    f"{main}<footer><p>This website is hosted for demo purposes only.</p></footer>"
                    "</body></html>")
        return SimResponse.text(document, status, _HTML)

    def _error_page(self, visit: _Visit, status: int, message: str) -> SimResponse:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
        main = ('<main role="main"><div class="container"><h1>Uh, oh!</h1>'
                "<p>Something has failed. Below are some details for debugging.</p>"
                f"<p><strong>HTTP Status:</strong> {status} {reason}</p>"
                f'<pre class="border border-danger p-3">{html.escape(message)}</pre></div></main>')
        return self._page(visit, main, status=status, show_currency=False)

    def _recommendations(self, exclude: set[str]) -> str:
        picks = [item for item in self._catalog() if item.id not in exclude][:4]
        if not picks:
            return ""
        cards = "".join(f'<div class="col-md-3"><a href="/product/{i.id}"><img alt="" '
                        f'src="/static/img/products/{i.picture}"></a><h5>{html.escape(i.name)}</h5></div>'
                        for i in picks)
        return (f'<section class="recommendations"><div class="container"><h2>You May Also Like</h2>'
                f'<div class="row">{cards}</div></div></section>')

    def _cart_lines(self, session: str) -> list[tuple[Item, int]]:
        with self._lock:
            cart = dict(self._carts.get(session, {}))
        by_id = {item.id: item for item in CATALOG}
        return [(by_id[pid], quantity) for pid, quantity in cart.items() if pid in by_id]

    def _catalog(self) -> tuple[Item, ...]:
        wanted = self._knobs().get("products")
        if wanted is None:
            return CATALOG
        return tuple(item for item in CATALOG if item.id in set(wanted))

    def _item(self, product_id: str, what: str) -> Item:
        item = next((i for i in self._catalog() if i.id == product_id), None)
        if item is None:
            raise StorefrontError(500, f"{what}: rpc error: code = NotFound desc = "
                                       f"no product with ID {product_id}")
        return item

    def _validates(self) -> bool:
        """Whether this release validates form input itself (v0.10 and later)."""
        return release(self._knobs().get("version") or DEFAULT_VERSION) >= (0, 10, 0)

    def _knobs(self) -> dict[str, Any]:
        return self.world.knobs("storefront")


# ---------------------------------------------------------------------------------------------
# Helpers


def _cart_row(item: Item, quantity: int, currency: str) -> str:
    return (f'<div class="row cart-summary-item-row"><div class="col-md-4">'
            f'<a href="/product/{item.id}"><img class="img-fluid" alt="" '
            f'src="/static/img/products/{item.picture}"></a></div><div class="col-md-8">'
            f"<h4>{html.escape(item.name)}</h4><div>SKU #{item.id}</div>"
            f"<div class=\"col\">Quantity: {quantity}</div>"
            f"<strong>{_money(item.usd_cents * quantity, currency)}</strong></div></div>")


def _checkout_form() -> str:
    inputs = "".join(f'<label for="{name}">{label}</label><input type="text" id="{name}" name="{name}" '
                     f'value="{value}" required>' for name, label, value in (
                         ("email", "E-mail Address", "someone@example.com"),
                         ("street_address", "Street Address", "1600 Amphitheatre Parkway"),
                         ("zip_code", "Zip Code", "94043"), ("city", "City", "Mountain View"),
                         ("state", "State", "CA"), ("country", "Country", "United States"),
                         ("credit_card_number", "Credit Card Number", "4432801561520454"),
                         ("credit_card_cvv", "CVV", "672")))
    months = "".join(f'<option value="{m}">{m}</option>' for m in range(1, 13))
    years = "".join(f'<option value="{y}">{y}</option>' for y in range(2025, 2040))
    return ('<section class="container"><form action="/cart/checkout" method="POST">'
            f"<h3>Shipping Address</h3>{inputs}<h3>Payment Method</h3>"
            f'<select name="credit_card_expiration_month">{months}</select>'
            f'<select name="credit_card_expiration_year">{years}</select>'
            '<button class="cymbal-button-primary" type="submit">Place Order</button></form></section>')


def _ad(item: Item) -> str:
    return (f'<div class="container"><div role="alert" class="alert"><strong>Ad</strong> '
            f'<a href="/product/{item.id}" rel="nofollow" target="_blank" class="alert-link">'
            f"{html.escape(item.name)}: now at a better price.</a></div></div>")


def _validate_order(form: dict[str, str]) -> None:
    """The v0.10 frontend's PlaceOrderPayload rules; a failure answers 422."""
    checks = (
        ("Email", "required" if not form.get("email") else
         ("" if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", form["email"]) else "email")),
        ("StreetAddress", _required_max(form.get("street_address", ""), 512)),
        ("ZipCode", "" if _int(form.get("zip_code", "")) else "required"),
        ("City", _required_max(form.get("city", ""), 128)),
        ("State", _required_max(form.get("state", ""), 128)),
        ("Country", _required_max(form.get("country", ""), 128)),
        ("CcNumber", _card_tag(form.get("credit_card_number", ""))),
        ("CcMonth", _month_tag(_int(form.get("credit_card_expiration_month", "")))),
        ("CcYear", "" if _int(form.get("credit_card_expiration_year", "")) else "required"),
        ("CcCVV", "" if _int(form.get("credit_card_cvv", "")) else "required"),
    )
    problems = [f"Field '{name}' is invalid: {tag}" for name, tag in checks if tag]
    if problems:
        raise StorefrontError(422, "\n".join(problems))


def _required_max(value: str, limit: int) -> str:
    return "required" if not value else ("max" if len(value) > limit else "")


def _card_tag(number: str) -> str:
    if not number:
        return "required"
    digits = number.replace(" ", "")
    return "" if digits.isdigit() and 12 <= len(digits) <= 19 and _luhn(digits) else "credit_card"


def _month_tag(month: int) -> str:
    return "required" if month == 0 else ("" if 1 <= month <= 12 else ("gte" if month < 1 else "lte"))


def _charge(number: str, month: int, year: int) -> None:
    """paymentservice's card checks, surfacing as the frontend's 500 'failed to complete the order'."""
    digits = re.sub(r"[\s-]", "", number)
    problem = None
    if not (digits.isdigit() and _luhn(digits)):
        problem = "Credit card info is invalid"
    elif digits[0] not in "45":
        problem = "Sorry, we cannot process this credit card. Only VISA or MasterCard is accepted."
    else:
        today = datetime.date.today()
        if today.year * 12 + today.month > year * 12 + month:
            problem = f"Your credit card (ending {digits[-4:]}) expired on {month}/{year}"
    if problem:
        raise StorefrontError(500, "failed to complete the order: rpc error: code = Internal desc = "
                                   "failed to charge card: could not charge the card: rpc error: "
                                   f"code = Unknown desc = {problem}")


def _tracking_id() -> str:
    """A tracking id shaped like shippingservice's: two letters, then two groups of digits."""
    letters = "".join(random.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(2))
    return f"{letters}-{random.randint(10000, 99999)}-{random.randint(1000000, 9999999)}"


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _fault_message(method: str, path: str, status: int) -> str:
    if status < 500:
        return "invalid form input"
    what = {
        ("GET", "/"): "could not retrieve products",
        ("GET", "/cart"): "could not retrieve cart",
        ("POST", "/cart"): "failed to add to cart",
        ("POST", "/cart/checkout"): "failed to complete the order",
    }.get((method if method != "HEAD" else "GET", path))
    if what is None:
        what = "could not retrieve product" if path.startswith("/product/") else "request failed"
    return f"{what}: {_ENVOY_UNAVAILABLE}"


def _money(usd_cents: int, currency: str) -> str:
    """renderMoney: symbol, units, two decimals; a currency the shop cannot convert fails."""
    if currency not in RATES:
        raise StorefrontError(500, f"failed to convert currency: rpc error: code = Unknown desc = "
                                   f"unsupported currency {currency}")
    cents = round(usd_cents / RATES["USD"] * RATES[currency])
    return f"{SYMBOLS.get(currency, '')}{cents // 100}.{cents % 100:02d}"


def _not_found() -> SimResponse:
    response = SimResponse.text("404 page not found\n")
    response.status = 404
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _cookies(header: str) -> dict[str, str]:
    pairs = (part.strip().split("=", 1) for part in header.split(";") if "=" in part)
    return {name.strip(): value.strip().strip('"') for name, value in pairs}


def _form(request: SimRequest) -> dict[str, str]:
    """Go's FormValue: the urlencoded body first, then the query string."""
    form: dict[str, str] = {}
    content_type = request.headers.get("content-type", "")
    if request.method == "POST" and "multipart" not in content_type:
        for name, values in parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True).items():
            form[name] = values[0]
    for name, values in request.query.items():
        form.setdefault(name, values[0] if values else "")
    return form


def _uint(text: str) -> int:
    return int(text) if text.isdigit() else 0


def _int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        return 0
