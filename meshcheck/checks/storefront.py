"""Checks of the storefront layer: a shopper's trip through the gateway, judged step by step.

Each check takes what ``meshcheck.addons.storefront`` saw (a page, the ``AddonError`` of a
transport failure, or ``Blocked`` when an earlier step failed) and a ``ShopContext`` saying which
route was used and where the boutique runs, so every message names the route and every
remediation names the command to run. Status codes and page texts follow the real frontend
(GoogleCloudPlatform/microservices-demo ``src/frontend/handlers.go``: errors render "Uh, oh!" with
500, invalid form input 400 before v0.10 and 422 from v0.10 via ``validator/validator.go``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from meshcheck.addons.storefront import (
    AddToCart,
    Blocked,
    CartPage,
    HomePage,
    OrderPage,
    ProductPage,
    Visit,
)
from meshcheck.checks.refs import named
from meshcheck.errors import AddonError
from meshcheck.results import CheckResult, fail, listing, ok

HOME = "storefront.home_lists_products"
PRODUCT = "storefront.product_page_renders"
ADD = "storefront.add_to_cart_redirects"
CART = "storefront.cart_shows_item"
CHECKOUT = "storefront.checkout_completes"
# The step a Blocked names (addons.storefront.ShoppingTrip) -> its own check: a later step is "blocked by" it
# when that check failed in the same run, and fails in its own right when it did not run (-k checkout).
STEP_CHECKS = {"home page": HOME, "product page": PRODUCT, "add-to-cart": ADD, "cart": CART}


@dataclass(frozen=True)
class ShopContext:
    """Which route the shopper took and where the boutique runs, for messages and remediations."""

    via: str
    namespace: str
    title: str = "Online Boutique"
    containers: Mapping[str, str] = field(default_factory=dict)  # Deployment -> main container

    def deployments(self, *names: str | None) -> tuple[str, ...]:
        """The Deployments a failure points at, for reports: "Deployment/<namespace>/<name>"."""
        return named("Deployment", self.namespace, *(n for n in names if n))

    def logs(self, deployment: str) -> str:
        container = self.containers.get(deployment, "server")
        return f"kubectl -n {self.namespace} logs deploy/{deployment} -c {container}"


def home_lists_products(home: HomePage | AddonError, shop: ShopContext) -> CheckResult:
    """The home page answers 200, is Online Boutique's, and lists products."""
    early = _not_reached(HOME, "the home page", home, shop)
    if early:
        return early
    assert isinstance(home, HomePage)
    visit = home.visit
    failed = _answer_failed(HOME, "the home page", visit, shop)
    if failed:
        return failed
    if shop.title.lower() not in visit.title.lower():
        return fail(
            HOME,
            f"GET / through {shop.via} answered 200 with title {visit.title!r}, not {shop.title!r}",
            f"the route does not lead to Online Boutique's frontend: check that the gateway's "
            f"VirtualService (or HTTPRoute) sends / to Service frontend in {shop.namespace}",
            title=visit.title,
        )
    if not home.products:
        return fail(
            HOME,
            f"GET / through {shop.via} rendered the home page but it lists no products (no links to /product/<id>)",
            f"the product catalog is empty: check productcatalogservice "
            f"({shop.logs('productcatalogservice')}) and the catalog it loads",
            objects=shop.deployments("productcatalogservice"),
        )
    names = [p.name or p.id for p in home.products]
    return ok(
        HOME,
        f"GET / through {shop.via} lists {len(names)} products: {listing(names)}",
        products=[p.id for p in home.products],
    )


def product_page_renders(page: ProductPage | AddonError | Blocked, shop: ShopContext) -> CheckResult:
    """A product page answers 200 with the product's name and an add-to-cart form."""
    early = _not_reached(PRODUCT, "the product page", page, shop)
    if early:
        return early
    assert isinstance(page, ProductPage)
    failed = _answer_failed(PRODUCT, "a product page", page.visit, shop)
    if failed:
        return failed
    where = f"GET /product/{page.product_id} through {shop.via}"
    if not page.name:
        return fail(
            PRODUCT,
            f"{where} answered 200 without the product's name (no <h2>)",
            f"the frontend did not render its product template: check {shop.logs('frontend')}",
            objects=shop.deployments("frontend"),
            product=page.product_id,
        )
    if not page.form_product_id:
        return fail(
            PRODUCT,
            f"{where} shows {page.name!r} without an add-to-cart form (POST …/cart with product_id)",
            f"the frontend did not render its product template: check {shop.logs('frontend')}",
            objects=shop.deployments("frontend"),
            product=page.product_id,
        )
    return ok(PRODUCT, f"{where} renders {page.name!r} with an add-to-cart form", product=page.product_id)


def add_to_cart_redirects(added: AddToCart | AddonError | Blocked, shop: ShopContext) -> CheckResult:
    """POST /cart answers 302 to /cart, as the frontend does once cartservice stored the item."""
    early = _not_reached(ADD, "add-to-cart", added, shop)
    if early:
        return early
    assert isinstance(added, AddToCart)
    if added.redirected_to_cart:
        return ok(
            ADD,
            f"POST /cart (product_id={added.product_id}, quantity={added.quantity}) "
            f"through {shop.via} redirected to /cart",
            product=added.product_id,
        )
    visit = added.visit
    if visit.error is not None or visit.status >= 400:
        return _answer_failed(ADD, "add-to-cart", visit, shop, expected=302, backend="cartservice")
    return fail(
        ADD,
        f"POST /cart (product_id={added.product_id}) through {shop.via} {visit.observed}, not a 302 redirect to /cart",
        f"something between the gateway and the frontend changed the answer: check the route's "
        f"rewrites and redirects, and {shop.logs('frontend')}",
        objects=shop.deployments("frontend"),
        status=visit.status,
    )


def cart_shows_item(cart: CartPage | AddonError | Blocked, product_id: str | None, shop: ShopContext) -> CheckResult:
    """After add-to-cart, the cart page lists the product (cart kept for the session cookie)."""
    early = _not_reached(CART, "the cart", cart, shop)
    if early:
        return early
    assert isinstance(cart, CartPage)
    failed = _answer_failed(CART, "the cart", cart.visit, shop, backend="cartservice")
    if failed:
        return failed
    where = f"GET /cart through {shop.via}"
    item = cart.item(product_id) if product_id else None
    if item:
        quantity = f" × {item.quantity}" if item.quantity is not None else ""
        return ok(CART, f"{where} shows {item.name or item.id} ({item.id}){quantity}", product=item.id)
    seen = "an empty cart" if not cart.items else f"only {listing(i.id for i in cart.items)}"
    return fail(
        CART,
        f"{where} shows {seen} after adding {product_id}",
        f"the cart was not kept for this shopper: check that the route passes the "
        f"shop_session-id cookie through, and cartservice and redis-cart "
        f"({shop.logs('cartservice')})",
        objects=shop.deployments("cartservice", "redis-cart", "frontend"),
        items=[i.id for i in cart.items],
    )


def checkout_completes(order: OrderPage | AddonError | Blocked, shop: ShopContext) -> CheckResult:
    """POST /cart/checkout with the profile's form renders the order confirmation."""
    early = _not_reached(CHECKOUT, "checkout", order, shop)
    if early:
        return early
    assert isinstance(order, OrderPage)
    visit = order.visit
    where = f"POST /cart/checkout through {shop.via}"
    if visit.status == 422:
        return fail(
            CHECKOUT,
            f"{where} {visit.observed}",
            "the frontend (v0.10+) rejected the checkout form: correct storefront.checkout in "
            "the profile (a valid e-mail, a card number that passes the Luhn check, "
            "month 1-12)",
            status=422,
        )
    failed = _answer_failed(CHECKOUT, "checkout", visit, shop, backend="checkoutservice")
    if failed:
        return failed
    if not order.complete:
        return fail(
            CHECKOUT,
            f'{where} answered 200 without "Your order is complete!"',
            f"the frontend did not render its order template: check {shop.logs('frontend')}",
            objects=shop.deployments("frontend"),
        )
    return ok(
        CHECKOUT,
        f"{where} completed order {order.order_id or '(id not shown)'}",
        order=order.order_id,
        tracking=order.tracking_id,
    )


# ---------------------------------------------------------------------------------------------
# Shared judgements


def _not_reached(check: str, what: str, outcome: object, shop: ShopContext) -> CheckResult | None:
    """A failure when the step was blocked by an earlier one, or its request never got an answer."""
    if isinstance(outcome, Blocked):
        return fail(
            check,
            f"{what} cannot be checked through {shop.via}: {outcome.step} failed ({outcome.reason})",
            f"fix the {outcome.step} step first; its own check says how",
            blocked_by_check=STEP_CHECKS.get(outcome.step, ""),
        )
    if isinstance(outcome, AddonError):
        return fail(
            check,
            f"{what} got no answer through {shop.via}: {outcome}",
            "check that the gateway's address is reachable from here and the "
            "istio-ingressgateway pods are ready (the gateway layer checks both)",
            settled=False,
        )
    return None


def _answer_failed(
    check: str, what: str, visit: Visit, shop: ShopContext, *, expected: int = 200, backend: str | None = None
) -> CheckResult | None:
    """A failure when the answer is not the expected status, with the remediation its kind calls for."""
    if visit.succeeded(expected):
        return None
    message = f"{visit.method} {visit.path} through {shop.via} {visit.observed}"
    diagnostics: dict[str, object] = {"status": visit.status}
    if visit.error:
        diagnostics["error"] = visit.error
    if visit.error is not None:
        return fail(
            check, message, _frontend_error_remedy(visit, shop, backend), settled=visit.status < 500,
            objects=shop.deployments("frontend", backend if visit.status not in (400, 422) else None), **diagnostics
        )
    if visit.status in (401, 403):
        return fail(
            check,
            message,
            "the route refused the shopper: through the API server the "
            "kubeconfig user needs get on services/proxy in the gateway's "
            "namespace; otherwise check the gateway's AuthorizationPolicy",
            **diagnostics,
        )
    if visit.status == 404:
        return fail(
            check,
            message,
            "the gateway has no route for this path: check that the Gateway "
            "and its VirtualService (or HTTPRoute) send every path on port 80 "
            f"to Service frontend in {shop.namespace}",
            **diagnostics,
        )
    if visit.status in (502, 503, 504):
        return fail(
            check,
            message,
            "the gateway reached no ready frontend: check "
            f"kubectl -n {shop.namespace} get pods -l app=frontend and "
            f"{shop.logs('frontend')}",
            settled=False,
            objects=shop.deployments("frontend"),
            **diagnostics,
        )
    return fail(
        check,
        message,
        f"expected {expected} from the frontend while loading {what}: check {shop.logs('frontend')}",
        settled=visit.status < 500,
        objects=shop.deployments("frontend", backend if visit.status >= 500 else None),
        **diagnostics,
    )


def _frontend_error_remedy(visit: Visit, shop: ShopContext, backend: str | None) -> str:
    """What to do about an "Uh, oh!" page: the frontend failed, often in a service it called."""
    remedy = f"check the frontend pod logs ({shop.logs('frontend')})"
    if visit.status in (400, 422):
        return f"the frontend rejected the form it was sent; {remedy}"
    if backend:
        remedy += f" and {backend}'s ({shop.logs(backend)})"
    return remedy
