"""Storefront: page parsers on pages shaped like the real releases, checks, and the simulator round trip.

The OLD pages follow the 2018 templates of GoogleCloudPlatform/microservices-demo (jumbotron cards
with ``h5.card-title``, "SKU: #", "Qty:", "Order Confirmation ID:"), the NEW ones the v0.3+ design
as v0.10 renders it (``hot-product-card-name``, "SKU #", "Quantity:", "Confirmation #", links under
``BASE_URL`` or rewritten under the API server's proxy prefix).
"""

from __future__ import annotations

import threading
from http.client import HTTPMessage
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from meshcheck.addons import storefront as client
from meshcheck.addons.storefront import (
    AddToCart,
    Blocked,
    CartItem,
    CartPage,
    HomePage,
    OrderPage,
    Product,
    ProductPage,
    Shopper,
    ShoppingTrip,
    Visit,
)
from meshcheck.checks import storefront as checks
from meshcheck.endpoints import Endpoint
from meshcheck.errors import AddonError
from meshcheck.sim.protocol import SimRequest
from meshcheck.sim.storefront import CATALOG, Storefront
from meshcheck.sim.world import World

PROXY = "/api/v1/namespaces/istio-system/services/istio-ingressgateway:80/proxy"
CHECKOUT = {
    "email": "someone@example.com", "street_address": "1600 Amphitheatre Parkway", "zip_code": "94043",
    "city": "Mountain View", "state": "CA", "country": "United States",
    "credit_card_number": "4432801561520454", "credit_card_expiration_month": "1",
    "credit_card_expiration_year": "2039", "credit_card_cvv": "672",
}
SHOP = checks.ShopContext(via="gateway 192.0.2.10", namespace="online-boutique",
                          containers={"frontend": "server", "redis-cart": "redis"})

# ---------------------------------------------------------------------------------------------
# Pages as the releases render them

HEAD_OLD = """<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8">
<title>Online Boutique</title></head><body><header><div class="navbar">
<div class="h-free-shipping">Free shipping with $75 purchase! &nbsp;&nbsp;</div>
<form method="POST" class="controls-form" action="/setCurrency" id="currency_form">
<select name="currency_code"><option value="USD" selected="selected">USD</option></select></form>
</div><div class="navbar sub-navbar"><a href="/" class="navbar-brand"><img src="/static/icons/Hipster_NavLogo.svg"
alt="logo" class="logo" /></a><div class="controls"><a href="/cart"><span>Cart</span></a></div></div></header>"""

HOME_OLD = HEAD_OLD + """<main role="main"><section class="jumbotron text-center mb-0"><div class="container">
<h1 class="jumbotron-heading">One-stop for Hipster Fashion &amp; Style Online</h1></div></section>
<div class="py-5 bg-light"><div class="container"><div class="row">
<div class="col-md-4"><div class="card mb-4 box-shadow"><a href="/product/OLJCESPC7Z">
<img class="card-img-top" alt ="" src="/static/img/products/typewriter.jpg"></a>
<div class="card-body"><h5 class="card-title">Vintage Typewriter</h5>
<div class="d-flex"><div class="btn-group"><a href="/product/OLJCESPC7Z"><button type="button"
class="btn btn-sm btn-outline-secondary">Buy</button></a></div><small class="text-muted">$67.99</small>
</div></div></div></div>
<div class="col-md-4"><div class="card mb-4 box-shadow"><a href="/product/66VCHSJNUP">
<img class="card-img-top" alt ="" src="/static/img/products/camera-lens.jpg"></a>
<div class="card-body"><h5 class="card-title">Antique Camera</h5></div></div></div>
</div><div class="row"><div class="container"><div class="alert alert-dark" role="alert">
<strong>Advertisement:</strong><a href="/product/2ZYFJ3GM2N" rel="nofollow" target="_blank"
class="alert-link">Film camera for sale. 50% off.</a></div></div></div></div></div></main>
<footer class="py-5 px-5"><div class="container"><p>&copy; 2018 Google Inc</p></div></footer></body></html>"""

HOME_NEW = """<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8"><title>
        Online Boutique
    </title></head><body><header><div class="navbar sub-navbar"><div class="container">
<a href="/shop/" class="navbar-brand"><img src="/shop/static/icons/Hipster_NavLogo.svg" alt=""></a>
<div class="controls"><a href="/shop/cart" class="cart-link"><img src="/shop/static/icons/Hipster_CartIcon.svg"
alt="Cart icon" class="logo" title="Cart" /></a></div></div></div></header>
<div class="local"><span class="platform-flag">local</span></div>
<main role="main" class="home"><div class="home-mobile-hero-banner d-lg-none"></div>
<div class="container-fluid"><div class="row"><div class="col-12 col-lg-8">
<div class="row hot-products-row px-xl-6"><div class="col-12"><h3>Hot Products</h3></div>
<div class="col-md-4 hot-product-card"><a href="/shop/product/OLJCESPC7Z"><img alt=""
src="/shop/static/img/products/sunglasses.jpg"><div class="hot-product-card-img-overlay"></div></a>
<div><div class="hot-product-card-name">Sunglasses</div><div class="hot-product-card-price">$19.99</div></div></div>
<div class="col-md-4 hot-product-card"><a href="/shop/product/66VCHSJNUP"><img alt=""
src="/shop/static/img/products/tank-top.jpg"><div class="hot-product-card-img-overlay"></div></a>
<div><div class="hot-product-card-name">Tank Top</div><div class="hot-product-card-price">$18.99</div></div></div>
<div class="col-md-4 hot-product-card"><a href="/shop/product/LS4PSXUNUM"><img alt=""
src="/shop/static/img/products/salt-and-pepper-shakers.jpg"></a>
<div><div class="hot-product-card-name">Salt &amp; Pepper Shakers</div></div></div>
</div></div></div></div></main><footer class="py-5"><div class="footer-top"><p>This website is hosted
for demo purposes only.</p></div></footer></body></html>"""

PRODUCT_OLD = HEAD_OLD + """<main role="main"><div class="h-product"><div class="row"><div class="col">
<img src="/static/img/products/typewriter.jpg" /></div><div class="product-info col"><div class="product-wrapper">
<h2>Vintage Typewriter</h2><p class="text-muted">$67.99</p><div><h6>Product Description:</h6>
This typewriter looks good in your living room.</div>
<form method="POST" action="/cart" class="form-inline"><input type="hidden" name="product_id" value="OLJCESPC7Z" />
<select name="quantity" id="quantity"><option>1</option><option>2</option></select>
<button type="submit" class="btn btn-info btn-lg ml-3">Add to Cart</button></form></div></div></div></div>
<div class="container py-3 px-lg-5 py-lg-5"><h5>Other Products You Might Light</h5><div class="row">
<div class="col-md-3"><a href="/product/66VCHSJNUP"><img class="card-img-top" src="x.jpg"></a>
<h5>Antique Camera</h5></div></div></div></main></body></html>"""

PRODUCT_NEW = HEAD_OLD.replace('"/', f'"{PROXY}/') + f"""<main role="main"><div class="h-product container">
<div class="row"><div class="col-md-6"><img class="product-image" alt="" src="{PROXY}/static/img/products/mug.jpg" />
</div><div class="product-info col-md-5"><div class="product-wrapper"><h2>Mug</h2>
<p class="product-price">$8.99</p><p>A simple mug with a mustard interior.</p>
<form method="POST" action="{PROXY}/cart"><input type="hidden" name="product_id" value="6E92ZMYYFZ" />
<div class="product-quantity-dropdown"><select name="quantity" id="quantity"><option>1</option></select></div>
<button type="submit" class="cymbal-button-primary">Add To Cart</button></form></div></div></div></div>
<div><section class="recommendations"><div class="container"><div class="row"><div class="col-xl-10">
<h2>You May Also Like</h2><div class="row"><div class="col-md-3"><div><a href="{PROXY}/product/9SIQT8TOJO">
<img alt="" src="x.jpg"></a><div><h5>Bamboo Glass Jar</h5></div></div></div></div></div></div></div></section>
</div></main></body></html>"""

CART_OLD = HEAD_OLD + """<main role="main"><div class="py-5"><div class="container bg-light py-3 px-lg-5 py-lg-5">
<div class="row mb-3 py-2"><div class="col"><h3>1 item in your Shopping Cart</h3></div>
<div class="col text-right"><form method="POST" action="/cart/empty"><button class="btn btn-secondary"
type="submit">Empty cart</button></form></div></div><hr>
<div class="row pt-2 mb-2"><div class="col text-right"><a href="/product/OLJCESPC7Z"><img class="img-fluid"
src="/static/img/products/typewriter.jpg" /></a></div><div class="col align-middle">
<strong>Vintage Typewriter</strong><br/><small class="text-muted">SKU: #OLJCESPC7Z</small></div>
<div class="col text-left">Qty: 3<br/><strong>$203.97</strong></div></div>
<div class="row pt-2 my-3"><div class="col text-center"><p class="text-muted my-0">Shipping Cost:
<strong>$8.99</strong></p>Total Cost: <strong>$212.96</strong></div></div>
<form action="/cart/checkout" method="POST"><input type="email" name="email" value="someone@example.com"></form>
<hr/><h5>Other Products You Might Light</h5><div class="row"><div class="col-md-3">
<a href="/product/66VCHSJNUP"><img src="x.jpg"></a><h5>Antique Camera</h5></div></div></div></div></main>
</body></html>"""

CART_NEW = HEAD_OLD + """<main role="main" class="cart-sections"><section class="container">
<div class="row"><div class="col-lg-6 col-xl-5 offset-xl-1 cart-summary-section">
<div class="row mb-3 py-2"><div class="col-4 pl-md-0"><h3>Cart (3)</h3></div><div class="col-8 pr-md-0 text-right">
<form method="POST" action="/cart/empty"><button class="cymbal-button-secondary cart-summary-empty-cart-button"
type="submit">Empty Cart</button><a class="cymbal-button-primary" href="/" role="button">Continue Shopping</a>
</form></div></div>
<div class="row cart-summary-item-row"><div class="col-md-4 pl-md-0"><a href="/product/OLJCESPC7Z">
<img class="img-fluid" alt="" src="/static/img/products/sunglasses.jpg" /></a></div>
<div class="col-md-8 pr-md-0"><div class="row"><div class="col"><h4>Sunglasses</h4></div></div>
<div class="row cart-summary-item-row-item-id-row"><div class="col">SKU #OLJCESPC7Z</div></div>
<div class="row"><div class="col">Quantity: 1</div><div class="col pr-md-0 text-right"><strong>$19.99</strong>
</div></div></div></div>
<div class="row cart-summary-item-row"><div class="col-md-4 pl-md-0"><a href="/product/6E92ZMYYFZ">
<img class="img-fluid" alt="" src="/static/img/products/mug.jpg" /></a></div>
<div class="col-md-8 pr-md-0"><div class="row"><div class="col"><h4>Mug</h4></div></div>
<div class="row cart-summary-item-row-item-id-row"><div class="col">SKU #6E92ZMYYFZ</div></div>
<div class="row"><div class="col">Quantity: 2</div><div class="col pr-md-0 text-right"><strong>$17.98</strong>
</div></div></div></div>
<div class="row cart-summary-shipping-row"><div class="col pl-md-0">Shipping</div>
<div class="col pr-md-0 text-right">$8.99</div></div></div>
<div class="col-lg-5 offset-lg-1 col-xl-4"><form class="cart-checkout-form" action="/cart/checkout" method="POST">
<div class="row"><div class="col"><h3>Shipping Address</h3></div></div>
<input type="email" id="email" name="email" value="someone@example.com" required>
<button class="cymbal-button-primary" type="submit">Place Order</button></form></div></div></section>
<section class="recommendations"><div class="container"><h2>You May Also Like</h2><div class="row">
<div class="col-md-3"><a href="/product/9SIQT8TOJO"><img alt="" src="x.jpg"></a><div><h5>Bamboo Glass Jar</h5>
</div></div></div></div></section></main></body></html>"""

CART_EMPTY_NEW = HEAD_OLD + """<main role="main" class="cart-sections"><section class="empty-cart-section">
<h3>Your shopping cart is empty!</h3><p>Items you add to your shopping cart will appear here.</p>
<a class="cymbal-button-primary" href="/" role="button">Continue Shopping</a></section>
<section class="recommendations"><div class="container"><h2>You May Also Like</h2>
<a href="/product/9SIQT8TOJO"><img alt="" src="x.jpg"></a><h5>Bamboo Glass Jar</h5></div></section></main>
</body></html>"""

ORDER_OLD = HEAD_OLD + """<main role="main"><div class="py-5"><div class="container bg-light py-3 px-lg-5">
<div class="row mt-5 py-2"><div class="col"><h3>Your order is complete!</h3><p>
Order Confirmation ID: <strong>5d4d7a0c-2f64-11ee-be56-0242ac120002</strong><br>
Shipping Tracking ID: <strong>YD-30541-6214387</strong></p><p>Shipping Cost: <strong>$8.99</strong><br>
Total Paid: <strong>$76.98</strong></p><a class="btn btn-primary" href="/" role="button">Browse other products
&rarr; </a></div></div><hr/></div></div></main></body></html>"""

ORDER_NEW = HEAD_OLD + """<div class="local"><span class="platform-flag">local</span></div>
<main role="main" class="order"><section class="container order-complete-section"><div class="row">
<div class="col-12 text-center"><h3>Your order is complete!</h3></div><div class="col-12 text-center">
<p>We've sent you a confirmation email.</p></div></div><div class="row border-bottom-solid padding-y-24">
<div class="col-6 pl-md-0">Confirmation #</div><div class="col-6 pr-md-0 text-right">
c3a4d6f2-9a8b-4a43-9d0e-6a6a0f5c2a11</div></div><div class="row border-bottom-solid padding-y-24">
<div class="col-6 pl-md-0">Tracking #</div><div class="col-6 pr-md-0 text-right">LF-33311-3343452</div></div>
<div class="row padding-y-24"><div class="col-6 pl-md-0">Total Paid</div><div class="col-6 pr-md-0 text-right">
$28.98</div></div></section></main></body></html>"""

ERROR_PAGE = HEAD_OLD + """<main role="main"><div class="py-5"><div class="container bg-light py-3 px-lg-5 py-lg-5">
<h1>Uh, oh!</h1><p>Something has failed. Below are some details for debugging.</p>
<p><strong>HTTP Status:</strong> 500 Internal Server Error</p>
<pre class="border border-danger p-3" style="white-space: pre-wrap; word-break: keep-all;">
could not retrieve products: rpc error: code = Unavailable desc = connection error
main.(*frontendServer).homeHandler
	/src/handlers.go:62</pre></div></div></main></body></html>"""


# ---------------------------------------------------------------------------------------------
# Parsers


def test_parse_home_old_release_lists_cards_not_the_ad():
    assert client.parse_home(HOME_OLD) == (Product("OLJCESPC7Z", "Vintage Typewriter"),
                                          Product("66VCHSJNUP", "Antique Camera"))


def test_parse_home_new_release_under_base_url():
    products = client.parse_home(HOME_NEW)
    assert [p.id for p in products] == ["OLJCESPC7Z", "66VCHSJNUP", "LS4PSXUNUM"]
    assert products[2].name == "Salt & Pepper Shakers"


def test_parse_home_empty_catalog_lists_nothing():
    assert client.parse_home(HEAD_OLD + "<main><h3>Hot Products</h3></main>") == ()


def test_parse_product_both_releases():
    assert client.parse_product(PRODUCT_OLD) == ("Vintage Typewriter", "OLJCESPC7Z")
    assert client.parse_product(PRODUCT_NEW) == ("Mug", "6E92ZMYYFZ")


def test_parse_product_without_form():
    assert client.parse_product(HEAD_OLD + "<main><h2>Mug</h2></main>") == ("Mug", None)


def test_parse_cart_old_release():
    items, empty = client.parse_cart(CART_OLD)
    assert items == (CartItem("OLJCESPC7Z", "Vintage Typewriter", 3),) and not empty


def test_parse_cart_new_release_ignores_recommendations():
    items, empty = client.parse_cart(CART_NEW)
    assert items == (CartItem("OLJCESPC7Z", "Sunglasses", 1), CartItem("6E92ZMYYFZ", "Mug", 2))
    assert not empty


def test_parse_cart_empty():
    assert client.parse_cart(CART_EMPTY_NEW) == ((), True)


def test_parse_order_both_releases():
    assert client.parse_order(ORDER_OLD) == (True, "5d4d7a0c-2f64-11ee-be56-0242ac120002", "YD-30541-6214387")
    assert client.parse_order(ORDER_NEW) == (True, "c3a4d6f2-9a8b-4a43-9d0e-6a6a0f5c2a11", "LF-33311-3343452")


def test_parse_order_not_an_order_page():
    assert client.parse_order(CART_NEW) == (False, None, None)


def test_visit_of_error_page_keeps_first_line_of_the_error():
    visit = client.visit_of("GET", "/", _response(500, ERROR_PAGE))
    assert visit.title == "Online Boutique"
    assert visit.error == "could not retrieve products: rpc error: code = Unavailable desc = connection error"
    assert visit.observed.startswith("answered 500 'Uh, oh! could not retrieve products")


def test_visit_of_envoy_and_api_server_answers():
    envoy = client.visit_of("GET", "/", _response(503, "no healthy upstream", "text/plain"))
    assert (envoy.error, envoy.snippet) == (None, "no healthy upstream")
    status = ('{"kind":"Status","apiVersion":"v1","status":"Failure","message":"no endpoints available '
              'for service \\"istio-ingressgateway\\"","reason":"ServiceUnavailable","code":503}')
    api = client.visit_of("GET", "/", _response(503, status, "application/json"))
    assert api.snippet == 'no endpoints available for service "istio-ingressgateway"'
    empty = client.visit_of("GET", "/", _response(404, ""))
    assert empty.observed == "answered 404 with an empty body"


def test_add_to_cart_redirect_through_the_proxy():
    added = AddToCart(Visit("POST", "/cart", 302, location=f"https://api:6443{PROXY}/cart"), "OLJCESPC7Z", 1)
    assert added.redirected_to_cart
    assert not AddToCart(Visit("POST", "/cart", 200), "OLJCESPC7Z", 1).redirected_to_cart


def _response(status: int, body: str, content_type: str = "text/html; charset=utf-8",
              headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body.encode()
    response.headers = CaseInsensitiveDict({"Content-Type": content_type, **(headers or {})})
    response.encoding = "utf-8"
    return response


# ---------------------------------------------------------------------------------------------
# Checks

OK_VISIT = Visit("GET", "/", 200, "Online Boutique")
ERROR_500 = Visit("GET", "/", 500, "Online Boutique", error="could not retrieve products: rpc error")


def test_home_check_passes_and_names_products():
    result = checks.home_lists_products(HomePage(OK_VISIT, (Product("OLJCESPC7Z", "Sunglasses"),)), SHOP)
    assert result.passed and "gateway 192.0.2.10" in result.message and "Sunglasses" in result.message


def test_home_check_fails_on_error_page_with_frontend_logs():
    result = checks.home_lists_products(HomePage(ERROR_500), SHOP)
    assert not result.passed and not result.settled
    assert result.message.startswith("GET / through gateway 192.0.2.10 answered 500 'Uh, oh! could not")
    assert "kubectl -n online-boutique logs deploy/frontend -c server" in result.remediation


def test_home_check_fails_on_wrong_title():
    result = checks.home_lists_products(HomePage(Visit("GET", "/", 200, "Welcome to nginx!")), SHOP)
    assert not result.passed and result.settled and "'Welcome to nginx!'" in result.message
    assert "Service frontend in online-boutique" in result.remediation


def test_home_check_fails_without_products():
    result = checks.home_lists_products(HomePage(OK_VISIT, ()), SHOP)
    assert not result.passed and result.settled and "lists no products" in result.message
    assert "productcatalogservice" in result.remediation


def test_home_check_fails_on_gateway_answers():
    not_found = checks.home_lists_products(HomePage(Visit("GET", "/", 404)), SHOP)
    assert not not_found.passed and not_found.settled and "VirtualService" in not_found.remediation
    unavailable = checks.home_lists_products(
        HomePage(Visit("GET", "/", 503, snippet="no healthy upstream")), SHOP)
    assert not unavailable.passed and not unavailable.settled
    assert "answered 503 'no healthy upstream'" in unavailable.message
    forbidden = checks.home_lists_products(HomePage(Visit("GET", "/", 403, snippet="forbidden")), SHOP)
    assert not forbidden.passed and "services/proxy" in forbidden.remediation


def test_home_check_fails_when_unreachable():
    error = AddonError("storefront cannot be reached for GET / (gateway 192.0.2.10): Connection refused")
    result = checks.home_lists_products(error, SHOP)
    assert not result.passed and not result.settled and "Connection refused" in result.message


def test_product_check_passes_and_fails():
    good = ProductPage(Visit("GET", "/product/OLJCESPC7Z", 200, "Online Boutique"), "OLJCESPC7Z",
                       "Sunglasses", "OLJCESPC7Z")
    assert checks.product_page_renders(good, SHOP).passed
    no_name = ProductPage(good.visit, "OLJCESPC7Z")
    assert "without the product's name" in checks.product_page_renders(no_name, SHOP).message
    no_form = ProductPage(good.visit, "OLJCESPC7Z", "Sunglasses")
    assert "without an add-to-cart form" in checks.product_page_renders(no_form, SHOP).message
    blocked = checks.product_page_renders(Blocked("home page", "it listed no products"), SHOP)
    assert blocked.message == ("the product page cannot be checked through gateway 192.0.2.10: home page "
                               "failed (it listed no products)") and blocked.settled


def test_add_to_cart_check_passes_and_fails():
    good = AddToCart(Visit("POST", "/cart", 302, location="/cart"), "OLJCESPC7Z", 1)
    assert checks.add_to_cart_redirects(good, SHOP).passed
    failed = AddToCart(Visit("POST", "/cart", 500, "Online Boutique", error="failed to add to cart: x"),
                       "OLJCESPC7Z", 1)
    result = checks.add_to_cart_redirects(failed, SHOP)
    assert not result.passed and "answered 500 'Uh, oh! failed to add to cart" in result.message
    assert "deploy/cartservice" in result.remediation
    followed = AddToCart(Visit("POST", "/cart", 200, "Online Boutique"), "OLJCESPC7Z", 1)
    assert "not a 302 redirect to /cart" in checks.add_to_cart_redirects(followed, SHOP).message


def test_cart_check_passes_and_fails():
    visit = Visit("GET", "/cart", 200, "Online Boutique")
    cart = CartPage(visit, (CartItem("OLJCESPC7Z", "Sunglasses", 1),))
    assert checks.cart_shows_item(cart, "OLJCESPC7Z", SHOP).message.endswith("Sunglasses (OLJCESPC7Z) × 1")
    empty = checks.cart_shows_item(CartPage(visit, (), True), "OLJCESPC7Z", SHOP)
    assert not empty.passed and "shows an empty cart after adding OLJCESPC7Z" in empty.message
    assert "shop_session-id" in empty.remediation
    other = checks.cart_shows_item(cart, "6E92ZMYYFZ", SHOP)
    assert not other.passed and "only OLJCESPC7Z" in other.message
    blocked = checks.cart_shows_item(Blocked("add-to-cart", "answered 500"), None, SHOP)
    assert blocked.message == ("the cart cannot be checked through gateway 192.0.2.10: add-to-cart failed "
                               "(answered 500)")


def test_checkout_check_passes_and_fails():
    done = OrderPage(Visit("POST", "/cart/checkout", 200, "Online Boutique"), True, "abc", "XY-1-2")
    assert checks.checkout_completes(done, SHOP).message.endswith("completed order abc")
    invalid = OrderPage(Visit("POST", "/cart/checkout", 422, "Online Boutique",
                              error="Field 'CcNumber' is invalid: credit_card"))
    result = checks.checkout_completes(invalid, SHOP)
    assert not result.passed and result.settled and "storefront.checkout" in result.remediation
    broken = OrderPage(Visit("POST", "/cart/checkout", 500, "Online Boutique",
                             error="failed to complete the order: rpc error"))
    result = checks.checkout_completes(broken, SHOP)
    assert not result.passed and not result.settled and "deploy/checkoutservice" in result.remediation
    blank = OrderPage(Visit("POST", "/cart/checkout", 200, "Online Boutique"))
    assert "without \"Your order is complete!\"" in checks.checkout_completes(blank, SHOP).message


# ---------------------------------------------------------------------------------------------
# The simulator, round trip through a real requests.Session


class SimAdapter(BaseAdapter):
    """Hands requests to the simulated frontend; with a prefix, behaves like the API server's proxy."""

    def __init__(self, storefront: Storefront, prefix: str = "") -> None:
        super().__init__()
        self.storefront = storefront
        self.prefix = prefix
        self.requests = 0

    def send(self, request, **kwargs):
        self.requests += 1
        parts = urlsplit(request.url)
        path = parts.path[len(self.prefix):] or "/"
        headers = {k.lower(): v for k, v in request.headers.items()}
        body = request.body.encode() if isinstance(request.body, str) else (request.body or b"")
        answer = self.storefront.handle(SimRequest(request.method, path, parse_qs(parts.query), headers, body))
        response_headers = dict(answer.headers)
        if self.prefix and response_headers.get("Location", "").startswith("/"):
            response_headers["Location"] = self.prefix + response_headers["Location"]
        response = _response(answer.status, answer.body.decode(), response_headers.get("Content-Type", ""),
                             response_headers)
        response.url, response.request = request.url, request
        message = HTTPMessage()
        for name, value in response_headers.items():
            message[name] = value
        response.raw = SimpleNamespace(_original_response=SimpleNamespace(msg=message))
        return response

    def close(self) -> None:
        pass


def _world(**knobs) -> World:
    return World(namespace="online-boutique", istio_namespace="istio-system", istio_version="1.22.1",
                 workloads=("frontend",), edges=(), addons={"storefront": knobs})


def _endpoint(storefront: Storefront, proxied: bool = False) -> tuple[Endpoint, SimAdapter]:
    prefix = PROXY if proxied else ""
    host = "https://apiserver.test:6443" if proxied else "http://192.0.2.10"
    adapter = SimAdapter(storefront, prefix)
    session = requests.Session()
    session.mount(host, adapter)
    via = "the API server's service proxy" if proxied else "gateway 192.0.2.10"
    return Endpoint("storefront", host + prefix, via, session=session), adapter


def _trip(proxied: bool = False, form: dict[str, str] | None = None, **knobs) -> tuple[ShoppingTrip, SimAdapter]:
    endpoint, adapter = _endpoint(Storefront(_world(**knobs)), proxied)
    return ShoppingTrip(Shopper(endpoint), form or CHECKOUT), adapter


def _shop(trip: ShoppingTrip) -> checks.ShopContext:
    return checks.ShopContext(via=trip.shopper.endpoint.via, namespace="online-boutique")


def _judge(trip: ShoppingTrip) -> list:
    shop = _shop(trip)
    return [checks.home_lists_products(trip.home(), shop), checks.product_page_renders(trip.product(), shop),
            checks.add_to_cart_redirects(trip.add_to_cart(), shop),
            checks.cart_shows_item(trip.cart(), trip.product_id, shop),
            checks.checkout_completes(trip.checkout(), shop)]


@pytest.mark.parametrize("proxied", [False, True])
def test_sim_healthy_trip_passes_every_check_in_five_requests(proxied):
    trip, adapter = _trip(proxied)
    results = _judge(trip)
    assert [r.passed for r in results] == [True] * 5, [r.text() for r in results]
    assert adapter.requests == 5
    assert len(trip.outcomes["home"].products) == len(CATALOG)
    assert trip.outcomes["cart"].item(trip.product_id).quantity == 1
    cookie_names = {c.name for c in trip.shopper.endpoint.session.cookies}
    assert "shop_session-id" in cookie_names


def test_sim_checkout_fault_fails_only_checkout():
    trip, _ = _trip(fail={"/cart/checkout": 500})
    results = _judge(trip)
    assert [r.passed for r in results] == [True, True, True, True, False]
    assert "answered 500 'Uh, oh! failed to complete the order" in results[-1].message
    assert "gateway 192.0.2.10" in results[-1].message


def test_sim_empty_catalog_fails_home_and_blocks_the_rest():
    trip, adapter = _trip(products=[])
    results = _judge(trip)
    assert not any(r.passed for r in results)
    assert "lists no products" in results[0].message
    assert results[4].message == ("checkout cannot be checked through gateway 192.0.2.10: home page failed "
                                  "(it listed no products)")
    assert adapter.requests == 1


def test_sim_add_to_cart_fault_blocks_cart_and_checkout():
    trip, _ = _trip(fail={"POST /cart": 503})
    results = _judge(trip)
    assert [r.passed for r in results] == [True, True, False, False, False]
    assert results[3].message.startswith("the cart cannot be checked through gateway 192.0.2.10: add-to-cart "
                                         "failed (answered 503 'Uh, oh!")


def test_sim_lost_carts_fail_the_cart_check_after_a_good_add():
    trip, _ = _trip(carts="lost")
    results = _judge(trip)
    assert [r.passed for r in results] == [True, True, True, False, False]
    assert f"shows an empty cart after adding {trip.product_id}" in results[3].message
    assert "shop_session-id cookie" in results[3].remediation


def test_sim_invalid_checkout_422_from_v0_10_and_500_before():
    bad = {**CHECKOUT, "credit_card_number": "4432801561520455"}
    new_trip, _ = _trip(form=bad, version="v0.10.1")
    new = _judge(new_trip)[-1]
    assert not new.passed and "answered 422" in new.message
    assert "Uh, oh! Field 'CcNumber' is invalid: credit_card" in new.message
    old_trip, _ = _trip(form=bad, version="v0.8.0")
    old = _judge(old_trip)[-1]
    assert not old.passed and "answered 500" in old.message and "Credit card info is invalid" in old.message


def test_sim_carts_are_kept_per_session():
    storefront = Storefront(_world())
    first, _ = _endpoint(storefront)
    second, _ = _endpoint(storefront)
    Shopper(first).home()
    Shopper(second).home()
    Shopper(first).add_to_cart("6E92ZMYYFZ", 2)
    assert Shopper(first).cart().items == (CartItem("6E92ZMYYFZ", "Mug", 2),)
    assert Shopper(second).cart().empty


def test_sim_is_thread_safe_under_concurrent_adds():
    storefront = Storefront(_world())
    session = {"cookie": "shop_session-id=shared"}
    body = b"product_id=OLJCESPC7Z&quantity=1"

    def add() -> None:
        for _ in range(50):
            storefront.handle(SimRequest("POST", "/cart", {}, {**session, "content-type":
                                         "application/x-www-form-urlencoded"}, body))

    threads = [threading.Thread(target=add) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cart = client.parse_cart(storefront.handle(SimRequest("GET", "/cart", {}, session)).body.decode())[0]
    assert cart == (CartItem("OLJCESPC7Z", "Sunglasses", 200),)


def test_sim_set_currency_cookie_changes_prices():
    endpoint, _ = _endpoint(Storefront(_world()))
    shopper = Shopper(endpoint)
    shopper.home()
    visit = shopper.set_currency("EUR")
    assert visit.status == 302 and visit.location == "/"
    assert endpoint.session.cookies.get("shop_currency") == "EUR"
    assert "€" in endpoint.session.get("http://192.0.2.10/").text


def test_sim_upstream_answers_for_other_routes():
    storefront = Storefront(_world())
    healthz = storefront.handle(SimRequest("GET", "/_healthz"))
    assert (healthz.status, healthz.body) == (200, b"ok")
    missing = storefront.handle(SimRequest("GET", "/static/img/none.jpg"))
    assert (missing.status, missing.body) == (404, b"404 page not found\n")
    assert storefront.handle(SimRequest("GET", "/nowhere")).status == 404
    assert storefront.handle(SimRequest("DELETE", "/cart")).status == 405
    head = storefront.handle(SimRequest("HEAD", "/"))
    assert head.status == 200 and head.body == b"" and "shop_session-id=" in head.headers["Set-Cookie"]
    assert "Max-Age=172800" in head.headers["Set-Cookie"] and "Path" not in head.headers["Set-Cookie"]
    unknown = storefront.handle(SimRequest("GET", "/product/NOPE"))
    assert unknown.status == 500 and b"no product with ID NOPE" in unknown.body


def test_sim_add_to_cart_validation_by_version():
    form = {"content-type": "application/x-www-form-urlencoded"}
    new = Storefront(_world()).handle(SimRequest("POST", "/cart", {}, form, b"product_id=OLJCESPC7Z&quantity=0"))
    assert new.status == 422 and b"Field &#x27;Quantity&#x27; is invalid: required" in new.body
    old = Storefront(_world(version="v0.5.0")).handle(SimRequest("POST", "/cart", {}, form, b"quantity=1"))
    assert old.status == 400 and b"invalid form input" in old.body


def test_sim_api_server_proxy_moves_links_and_redirects_under_its_path(tmp_path, request):
    """Like kube-apiserver's service proxy, the simulated one rewrites same-host absolute links in HTML
    and Location headers; the shopper still finds the products and follows the cart redirect."""
    from meshcheck import kube
    from tests.unit.simhttp import start_sim

    sim = start_sim("healthy", tmp_path, request)
    endpoint = kube.Cluster.connect(str(sim.kubeconfig)).service_proxy("storefront", "istio-system",
                                                                        "istio-ingressgateway", 80)
    prefix = "/api/v1/namespaces/istio-system/services/istio-ingressgateway:80/proxy"
    page = endpoint.get("/").text
    assert f'href="{prefix}/product/OLJCESPC7Z"' in page and 'href="/product/' not in page
    trip = ShoppingTrip(Shopper(endpoint), CHECKOUT)
    results = _judge(trip)
    assert all(r.passed for r in results), [r.text() for r in results]
    assert trip.outcomes["add_to_cart"].visit.location == f"{prefix}/cart"
