"""The suite's own load: a Locust user shaped like a shopper, run headless in a process of its own.

Locust patches the standard library with gevent when it is imported, so nothing in the suite's
process imports it: ``shopper`` is the locustfile Locust loads, ``run`` starts Locust and reads its
CSV, ``connection`` hands Locust how to reach the storefront (the same way the suite did).
"""
