"""Storefront: one shopper's trip through the gateway — home, a product, add to cart, cart, checkout.

One ``ShoppingTrip`` serves the whole module, so the steps follow one another with the same
cookies (five requests on a healthy cluster); a step whose predecessor failed reports that
instead of failing in a confusing way of its own. Page reads that cannot change anything are
waited for (the frontend may still be starting); steps that change the cart run once.
"""

from __future__ import annotations

import pytest

from meshcheck.addons.storefront import Shopper, ShoppingTrip
from meshcheck.checks import storefront as checks


@pytest.fixture(scope="module")
def trip(storefront, profile) -> ShoppingTrip:
    return ShoppingTrip(Shopper(storefront), profile.storefront.get("checkout", {}))


@pytest.fixture(scope="module")
def shop(storefront, profile, boutique_namespace) -> checks.ShopContext:
    return checks.ShopContext(via=storefront.via, namespace=boutique_namespace,
                              title=profile.storefront.get("title", "Online Boutique"),
                              containers=profile.workloads)


def test_storefront_home_page_lists_products(trip, shop, wait, require):
    require(wait(lambda: checks.home_lists_products(trip.home(), shop)))


def test_storefront_product_page_renders(trip, shop, wait, require):
    require(wait(lambda: checks.product_page_renders(trip.product(), shop)))


def test_storefront_add_to_cart_redirects_to_cart(trip, shop, require):
    require(checks.add_to_cart_redirects(trip.add_to_cart(), shop))


def test_storefront_cart_shows_added_product(trip, shop, require):
    require(checks.cart_shows_item(trip.cart(), trip.product_id, shop))


def test_storefront_checkout_completes_with_order_confirmation(trip, shop, require):
    require(checks.checkout_completes(trip.checkout(), shop))
