"""meshcheck: a conformance suite for Online Boutique on Istio, and a simulated cluster to prove it.

The package is layered so that each part can be used without pytest:
``layers`` and ``profile`` describe what is expected, ``kube`` and ``endpoints`` are the only
doors to a cluster, ``addons`` parse what the add-ons answer, ``checks`` turn what was read into
``CheckResult``s, and ``plugin`` wires it all into pytest. ``sim`` is the simulated cluster that
the project's own tests run the suite against.
"""
