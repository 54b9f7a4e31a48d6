"""Pictures for the reports: the call graph as Kiali observed it, and screenshots in a headless browser.

Where a person would rather look than read: ``callgraph_svg`` draws the expected call graph beside
Kiali's (missing, failing and unexpected calls marked) as a self-contained SVG to inline in an HTML
report, from the same rows (``compare``) a report can list as a table; ``screenshot`` takes a PNG of a
page (the storefront, the report itself) in the system's Chromium, or says why it could not.
"""

from meshcheck.pictures.browser import Screenshot, Skipped, screenshot
from meshcheck.pictures.callgraph import (
    FAILING,
    HEALTHY,
    MISSING,
    STATES,
    UNEXPECTED,
    CallEdge,
    ObservedCall,
    compare,
    counts,
    observed_calls,
)
from meshcheck.pictures.callgraph_svg import callgraph_svg, render

__all__ = [
    "FAILING",
    "HEALTHY",
    "MISSING",
    "STATES",
    "UNEXPECTED",
    "CallEdge",
    "ObservedCall",
    "Screenshot",
    "Skipped",
    "callgraph_svg",
    "compare",
    "counts",
    "observed_calls",
    "render",
    "screenshot",
]
