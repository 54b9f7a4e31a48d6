"""A shopper for Online Boutique's storefront: the HTML pages a person sees, read through the gateway.

The storefront has no API: the suite shops the way a browser does, with one ``requests.Session``
that keeps the site's cookies (``shop_session-id`` ties the cart to the shopper,
``shop_currency`` the prices) and with relative requests through ``Endpoint.request``, so the
same code works through the gateway's EXTERNAL-IP and through the API server's service proxy
(which moves absolute links and ``Location`` headers under its own prefix). Redirects are not
followed: the 302 of add-to-cart is itself something the suite checks.

What the parsers key on was read from the real frontend, GoogleCloudPlatform/microservices-demo
``src/frontend`` (``main.go``: routes, cookie names; ``handlers.go``: 302 ``Location: /cart`` after
add-to-cart, 422 from ``validator/validator.go`` in v0.10 where older releases answered 400/500;
``middleware.go``: the session cookie) and the templates of the 2018 design and of the v0.3+
redesign (``templates/header.html``, ``home.html``, ``product.html``, ``cart.html``,
``order.html``, ``error.html``, ``ad.html``, ``recommendations.html``). Only cues common to all
of them are used:

- every page: ``<title>`` holding "Online Boutique"; errors render an "Uh, oh!" heading with the
  error in a ``<pre>``;
- home: product links ``/product/<ID>`` (prefixed by ``BASE_URL`` in v0.10), with the name in a
  ``*-name`` / ``card-title`` element or an ``h5``; the text ad links to ``/product/<ID>`` too
  (class ``alert-link``) and is not a listed product;
- product page: the name in the first ``<h2>``, a POST form to ``…/cart`` carrying ``product_id``;
- cart: one "SKU #<ID>" (older: "SKU: #<ID>") per line item, "Quantity: N" (2018: "Qty: N"),
  "Your shopping cart is empty!" when empty; recommendations carry no SKU;
- order: "Your order is complete!", then "Confirmation #" (older: "Order Confirmation ID:")
  followed by the order id.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests

from meshcheck.endpoints import Endpoint
from meshcheck.errors import AddonError

_PRODUCT_PATH = re.compile(r"(?:^|/)product/([A-Za-z0-9]+)/?$")
_SKU = re.compile(r"SKU:?\s*#\s*([A-Za-z0-9]+)")
_QUANTITY = re.compile(r"\b(?:Quantity|Qty):\s*(\d+)")
_CONFIRMATION = re.compile(r"\bConfirmation\s*(?:ID|#)\s*:?\s*(\S*)")
_TRACKING = re.compile(r"\bTracking\s*(?:ID|#)\s*:?\s*(\S*)")
_ORDER_COMPLETE = "your order is complete"
_CART_EMPTY = "your shopping cart is empty"
_ERROR_HEADING = "Uh, oh!"
# Class tokens of the parts of a page that link to products without listing them.
_NOT_LISTED = frozenset({"ad", "alert", "alert-link", "recommendations"})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "param", "source", "track", "wbr"})


# ---------------------------------------------------------------------------------------------
# What one request showed


@dataclass(frozen=True)
class Visit:
    """One request and the answer, reduced to what messages and checks need."""

    method: str
    path: str
    status: int
    title: str = ""
    error: str | None = None      # the detail of an "Uh, oh!" page, or None
    snippet: str = ""             # the start of a body that is not a storefront page
    location: str | None = None   # the Location header of a redirect

    def succeeded(self, expected: int = 200) -> bool:
        return self.status == expected and self.error is None

    @property
    def observed(self) -> str:
        """What the answer was, in a few words: 'answered 500 'Uh, oh! could not …''."""
        if self.error is not None:
            return f"answered {self.status} {_quote(_ERROR_HEADING + ' ' + self.error)}"
        if self.location:
            return f"answered {self.status} redirecting to {self.location}"
        if self.snippet:
            return f"answered {self.status} {_quote(self.snippet)}"
        return f"answered {self.status} with an empty body"


@dataclass(frozen=True)
class Product:
    id: str
    name: str = ""


@dataclass(frozen=True)
class HomePage:
    visit: Visit
    products: tuple[Product, ...] = ()


@dataclass(frozen=True)
class ProductPage:
    visit: Visit
    product_id: str
    name: str = ""
    form_product_id: str | None = None   # the product_id of the add-to-cart form, if the page has one


@dataclass(frozen=True)
class AddToCart:
    visit: Visit
    product_id: str
    quantity: int

    @property
    def redirected_to_cart(self) -> bool:
        location = urlsplit(self.visit.location or "").path.rstrip("/")
        return self.visit.status in (301, 302, 303) and location.endswith("/cart")


@dataclass(frozen=True)
class CartItem:
    id: str
    name: str = ""
    quantity: int | None = None


@dataclass(frozen=True)
class CartPage:
    visit: Visit
    items: tuple[CartItem, ...] = ()
    empty: bool = False     # the page said the cart is empty

    def item(self, product_id: str) -> CartItem | None:
        return next((i for i in self.items if i.id == product_id), None)


@dataclass(frozen=True)
class OrderPage:
    visit: Visit
    complete: bool = False
    order_id: str | None = None
    tracking_id: str | None = None


@dataclass(frozen=True)
class Blocked:
    """A step that was not tried because an earlier step failed: which one, and how."""

    step: str
    reason: str


# ---------------------------------------------------------------------------------------------
# The shopper


class Shopper:
    """Shops through ``endpoint`` with its session, so the site's cookies carry the cart along.

    Each method sends one request and returns what the page showed; only transport problems
    (no connection, timeout) raise ``AddonError``. Judging the answer is the checks' job.
    """

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    def home(self) -> HomePage:
        visit, text = self._send("GET", "/")
        return HomePage(visit, parse_home(text))

    def product(self, product_id: str) -> ProductPage:
        visit, text = self._send("GET", f"/product/{product_id}")
        name, form_product_id = parse_product(text)
        return ProductPage(visit, product_id, name, form_product_id)

    def add_to_cart(self, product_id: str, quantity: int = 1) -> AddToCart:
        form = {"product_id": product_id, "quantity": str(quantity)}
        visit, _ = self._send("POST", "/cart", data=form)
        return AddToCart(visit, product_id, quantity)

    def cart(self) -> CartPage:
        visit, text = self._send("GET", "/cart")
        items, empty = parse_cart(text)
        return CartPage(visit, items, empty)

    def checkout(self, form: Mapping[str, Any]) -> OrderPage:
        data = {name: str(value) for name, value in form.items()}
        visit, text = self._send("POST", "/cart/checkout", data=data)
        complete, order_id, tracking_id = parse_order(text)
        return OrderPage(visit, complete, order_id, tracking_id)

    def set_currency(self, currency_code: str) -> Visit:
        """Choose the currency as the header's selector does (the answer sets ``shop_currency``)."""
        visit, _ = self._send("POST", "/setCurrency", data={"currency_code": currency_code})
        return visit

    def _send(self, method: str, path: str, **kwargs: Any) -> tuple[Visit, str]:
        response = self.endpoint.request(method, path, allow_redirects=False,
                                         headers={"Accept": "text/html"}, **kwargs)
        return visit_of(method, path, response), response.text


def visit_of(method: str, path: str, response: requests.Response) -> Visit:
    """Reduce a response to a ``Visit``: status, title, error page detail, redirect target."""
    text = response.text
    doc = parse_document(text) if "<" in text else None
    title = doc.title if doc else ""
    error = doc.error_detail() if doc else None
    snippet = "" if (title or error is not None) else _body_snippet(text)
    location = response.headers.get("Location") if 300 <= response.status_code < 400 else None
    return Visit(method, path, response.status_code, title, error, snippet, location)


# ---------------------------------------------------------------------------------------------
# One shopper's trip, step after step

T = TypeVar("T")
Outcome = Any   # a page dataclass, an AddonError (transport) or a Blocked


class ShoppingTrip:
    """Home → product → add to cart → cart → checkout, each step remembered for the next.

    A step asks for the steps it rests on (running them if they have not run), so any step
    can be checked alone (``pytest -k checkout``). When an earlier step failed, a later one is
    not tried and answers ``Blocked`` naming the step that failed first and how, so a report
    says "checkout cannot be checked: add-to-cart failed (…)" instead of a second, confusing
    failure. Transport errors are returned, not raised, for the same reason.
    """

    def __init__(self, shopper: Shopper, checkout_form: Mapping[str, Any], quantity: int = 1) -> None:
        self.shopper = shopper
        self.checkout_form = dict(checkout_form)
        self.quantity = quantity
        self.outcomes: dict[str, Outcome] = {}

    @property
    def product_id(self) -> str | None:
        """The product this trip puts in its cart: the first one the home page listed."""
        home = self.outcomes.get("home")
        if isinstance(home, HomePage) and home.products:
            return home.products[0].id
        return None

    def home(self) -> HomePage | AddonError:
        return self._run("home", self.shopper.home)

    def product(self) -> ProductPage | AddonError | Blocked:
        blocked = self._blocked_by_home()
        if blocked:
            return self._record("product", blocked)
        return self._run("product", lambda: self.shopper.product(self.product_id or ""))

    def add_to_cart(self) -> AddToCart | AddonError | Blocked:
        blocked = self._blocked_by("product", "product page", _product_problem)
        if blocked:
            return self._record("add_to_cart", blocked)
        return self._run("add_to_cart", lambda: self.shopper.add_to_cart(self.product_id or "",
                                                                         self.quantity))

    def cart(self) -> CartPage | AddonError | Blocked:
        blocked = self._blocked_by("add_to_cart", "add-to-cart", _add_problem)
        if blocked:
            return self._record("cart", blocked)
        return self._run("cart", self.shopper.cart)

    def checkout(self) -> OrderPage | AddonError | Blocked:
        blocked = self._blocked_by("cart", "cart", lambda cart: _cart_problem(cart, self.product_id))
        if blocked:
            return self._record("checkout", blocked)
        return self._run("checkout", lambda: self.shopper.checkout(self.checkout_form))

    def _blocked_by_home(self) -> Blocked | None:
        return self._blocked_by("home", "home page", _home_problem)

    def _blocked_by(self, name: str, label: str, problem: Callable[[Any], str | None]) -> Blocked | None:
        earlier = self.outcomes.get(name)
        if earlier is None:
            earlier = getattr(self, name)()
        if isinstance(earlier, Blocked):
            return earlier
        if isinstance(earlier, AddonError):
            return Blocked(label, str(earlier))
        reason = problem(earlier)
        return Blocked(label, reason) if reason else None

    def _run(self, name: str, action: Callable[[], T]) -> T | AddonError:
        try:
            return self._record(name, action())
        except AddonError as exc:
            return self._record(name, exc)

    def _record(self, name: str, outcome: T) -> T:
        self.outcomes[name] = outcome
        return outcome


def _home_problem(home: HomePage) -> str | None:
    if not home.visit.succeeded():
        return home.visit.observed
    return None if home.products else "it listed no products"


def _product_problem(page: ProductPage) -> str | None:
    if not page.visit.succeeded():
        return page.visit.observed
    return None if page.form_product_id else "it has no add-to-cart form"


def _add_problem(added: AddToCart) -> str | None:
    return None if added.redirected_to_cart else added.visit.observed


def _cart_problem(cart: CartPage, product_id: str | None) -> str | None:
    if not cart.visit.succeeded():
        return cart.visit.observed
    if product_id and cart.item(product_id) is None:
        return f"it did not show product {product_id} after add-to-cart"
    return None


# ---------------------------------------------------------------------------------------------
# Parsing the pages (functions of the HTML text, so tests can feed recorded pages)


def parse_home(html: str) -> tuple[Product, ...]:
    """The products the home page lists, in page order, without the ad's product link."""
    found: dict[str, str] = {}
    pending: str | None = None     # the product whose card we are in, waiting for its name
    for event in parse_document(html).events:
        if isinstance(event, _Link):
            product_id = _product_of_link(event)
            if product_id:
                found.setdefault(product_id, "")
                pending = product_id if not found[product_id] else None
        elif pending and event.is_name():
            found[pending] = event.text
            pending = None
    return tuple(Product(pid, name) for pid, name in found.items())


def parse_product(html: str) -> tuple[str, str | None]:
    """The product page's name (first ``h2`` outside recommendations) and its form's product_id."""
    doc = parse_document(html)
    name = next((t.text for t in doc.texts() if t.tag == "h2" and not (t.context & _NOT_LISTED)), "")
    form_product_id = next((f.fields.get("product_id") for f in doc.forms
                            if f.method == "post" and urlsplit(f.action).path.rstrip("/").endswith("/cart")
                            and f.fields.get("product_id")), None)
    return name, form_product_id


def parse_cart(html: str) -> tuple[tuple[CartItem, ...], bool]:
    """The cart's line items (id, name, quantity) and whether the page says the cart is empty."""
    items: list[dict[str, Any]] = []
    name_candidate = ""
    empty = False
    for text in parse_document(html).texts():
        empty = empty or _CART_EMPTY in text.text.lower()
        sku = _SKU.search(text.text)
        quantity = _QUANTITY.search(text.text)
        if sku:
            items.append({"id": sku.group(1), "name": name_candidate, "quantity": None})
        elif quantity and items and items[-1]["quantity"] is None:
            items[-1]["quantity"] = int(quantity.group(1))
        elif text.tag in ("h4", "strong") and not (text.context & _NOT_LISTED):
            name_candidate = text.text
    return tuple(CartItem(i["id"], i["name"], i["quantity"]) for i in items), empty


def parse_order(html: str) -> tuple[bool, str | None, str | None]:
    """Whether the order-confirmation page rendered, with the order and tracking ids it shows."""
    texts = [t.text for t in parse_document(html).texts()]
    complete = any(_ORDER_COMPLETE in t.lower() for t in texts)
    return complete, _value_after(texts, _CONFIRMATION), _value_after(texts, _TRACKING)


def _value_after(texts: list[str], label: re.Pattern[str]) -> str | None:
    """The value that follows a label, in the same text ("ID: x") or as the next text."""
    for index, text in enumerate(texts):
        match = label.search(text)
        if match:
            if match.group(1):
                return match.group(1)
            return texts[index + 1] if index + 1 < len(texts) else None
    return None


def _product_of_link(link: _Link) -> str | None:
    if link.context & _NOT_LISTED or "nofollow" in link.rel:
        return None
    match = _PRODUCT_PATH.search(urlsplit(link.href).path)
    return match.group(1) if match else None


def _body_snippet(text: str, limit: int = 120) -> str:
    """The start of a body that is not a storefront page (Envoy's text, an API server Status)."""
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("message"), str):
        text = payload["message"]
    text = " ".join(text.split())
    return text[:limit] + ("…" if len(text) > limit else "")


def _quote(text: str, limit: int = 180) -> str:
    """Quote a one-line text; a long one keeps its start (what failed) and its end (the root cause)."""
    text = " ".join(text.split())
    if len(text) > limit:
        head = limit // 2
        text = text[:head] + " … " + text[-(limit - head - 3):]
    return repr(text)


# ---------------------------------------------------------------------------------------------
# A small, forgiving HTML reader (stdlib html.parser): texts and links in page order, forms


@dataclass(frozen=True)
class _Text:
    text: str
    tag: str                      # the innermost open element
    classes: frozenset[str]       # its class tokens
    context: frozenset[str]       # class tokens of it and every ancestor

    def is_name(self) -> bool:
        """Whether this text looks like a product card's name (``*-name``, ``card-title``, h4/h5)."""
        return (self.tag in ("h4", "h5")
                or any(c.endswith("-name") or c == "card-title" for c in self.classes))


@dataclass(frozen=True)
class _Link:
    href: str
    rel: str
    context: frozenset[str]


@dataclass
class _Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class _Document:
    title: str = ""
    events: list[_Text | _Link] = field(default_factory=list)
    forms: list[_Form] = field(default_factory=list)
    pre: list[str] = field(default_factory=list)

    def texts(self) -> list[_Text]:
        return [e for e in self.events if isinstance(e, _Text)]

    def error_detail(self) -> str | None:
        """The error of Online Boutique's error page ("Uh, oh!" + ``<pre>``), or None."""
        if not any(t.text == _ERROR_HEADING for t in self.texts()):
            return None
        lines = [line.strip() for block in self.pre for line in block.splitlines() if line.strip()]
        return lines[0] if lines else ""


def parse_document(html: str) -> _Document:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.doc


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.doc = _Document()
        self._stack: list[tuple[str, frozenset[str]]] = []
        self._form: _Form | None = None
        self._title: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        classes = frozenset(values.get("class", "").split())
        if tag == "a" and "href" in values:
            self.doc.events.append(_Link(values["href"], values.get("rel", ""),
                                         self._context() | classes))
        elif tag == "form":
            self._form = _Form(values.get("action", ""), values.get("method", "get").lower())
            self.doc.forms.append(self._form)
        elif tag == "input" and self._form is not None and values.get("name"):
            self._form.fields.setdefault(values["name"], values.get("value", ""))
        if tag not in _VOID:
            self._stack.append((tag, classes))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID and self._stack and self._stack[-1][0] == tag:
            self._stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        if tag == "title":
            self.doc.title = " ".join(" ".join(self._title).split())
        for depth in range(len(self._stack) - 1, -1, -1):
            if self._stack[depth][0] == tag:
                del self._stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        tags = [t for t, _ in self._stack]
        if "script" in tags or "style" in tags:
            return
        if tags and tags[-1] == "title":
            self._title.append(data)
            return
        if "pre" in tags:
            self.doc.pre.append(data)
        text = " ".join(data.split())
        if text:
            tag, classes = self._stack[-1] if self._stack else ("", frozenset())
            self.doc.events.append(_Text(text, tag, classes, self._context()))

    def _context(self) -> frozenset[str]:
        return frozenset().union(*(classes for _, classes in self._stack))
