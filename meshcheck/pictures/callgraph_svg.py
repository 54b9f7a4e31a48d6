"""The call graph as a picture: Kiali's graph as observed beside the profile's, as one SVG string.

People see a missing or failing call faster in a drawing than in a list of arrows. The SVG is
self-contained (no scripts, stylesheets, fonts or links: presentation attributes only) so a report can
inline it as it is, and every name in it is escaped, so a hostile workload name stays text. Its
``class``/``data-*`` attributes say what each element is (``mc-edge mc-missing``, ``data-source``,
``data-target``, ``data-state``) for tests and for a report's own styling; the ids it defines start
with a prefix drawn from its content, so two pictures in one page do not collide.

Two panels share one layout (``meshcheck.pictures.layout``): on the left the expected call graph,
on the right what Kiali observed, each expected edge coloured by its state (``compare``): healthy
green, failing orange (red from Kiali's 20% line, or when nothing answered), missing dashed red,
and calls the profile does not list in grey. A legend counts each state, and the edges that are not
healthy are listed with what was seen.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from meshcheck.addons.kiali import ObservedEdge
from meshcheck.pictures.callgraph import (
    FAILING,
    HEALTHY,
    MISSING,
    UNEXPECTED,
    CallEdge,
    Edge,
    compare,
    counts,
)
from meshcheck.pictures.layout import Layering, layered

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif"
FONT_SIZE = 12
CHAR_WIDTH = 6.9            # a generous average glyph width at FONT_SIZE, to size boxes without a font
MAX_LABEL = 30              # longer names are cut (the tooltip keeps them whole)
NODE_HEIGHT = 28
NODE_GAP = 16               # between nodes of a column
WAYPOINT_HEIGHT = 12        # the room a call passing through a column takes
COLUMN_GAP = 80             # room for a label on the call into the next column
PANEL_PAD = 16
PANEL_GAP = 24
HEADER = 34                 # the picture's title
PANEL_HEADER = 26
LEGEND_ROW = 22
NOTE_ROW = 17
MAX_NOTES = 10
FIT_WIDTH = 1240            # panels side by side only within this width (a report's column, unscaled)
MIN_WIDTH = 560             # room for the legend on two lines, however small the graph

INK = "#263238"
MUTED = "#78909c"
PANEL_FILL = "#fafbfc"
PANEL_STROKE = "#dde3e8"


@dataclass(frozen=True)
class Stroke:
    colour: str
    width: float
    dash: str = ""
    label: str = ""             # written on the edge; "" for none


EXPECTED_STROKE = Stroke("#546e7a", 1.5)
STROKES = {
    HEALTHY: Stroke("#2e7d32", 1.7),
    FAILING: Stroke("#ef6c00", 2.6),
    "failing-severe": Stroke("#c62828", 2.6),
    MISSING: Stroke("#c62828", 2.0, "7 5", "missing"),
    UNEXPECTED: Stroke("#9e9e9e", 1.7, "", "unexpected"),
}
LEGEND = (
    (HEALTHY, "healthy: answered, no errors"),
    (FAILING, "failing: some requests fail"),
    ("failing-severe", "failing: ≥20% errors or no answer"),
    (MISSING, "missing from Kiali's graph"),
    (UNEXPECTED, "not in the profile"),
)


def callgraph_svg(
    expected: Iterable[Edge],
    observed: Iterable[ObservedEdge],
    title: str,
    *,
    side_by_side: bool | None = None,
    expected_panel: bool = True,
) -> str:
    """The expected call graph beside Kiali's observed one, as a self-contained SVG document string.

    ``expected``: the profile's caller→callee edges (``Profile.edges``). ``observed``: the calls in
    Kiali's graph, ``observed_calls(graph_document, namespace)`` (with their error rates) or the plain
    ``ObservedEdge`` records of ``meshcheck.addons.kiali.observed_edges``; empty means Kiali drew none.
    The two panels stand side by side when both fit in ``FIT_WIDTH`` pixels, else the expected one
    above the observed one (``side_by_side`` forces either); ``expected_panel=False`` draws the
    observed panel alone, which shows the missing edges too.
    """
    rows = compare(expected, observed)
    return render(rows, title, side_by_side=side_by_side, expected_panel=expected_panel)


def render(rows: Sequence[CallEdge], title: str, *, side_by_side: bool | None = None,
           expected_panel: bool = True) -> str:
    """The picture of rows already compared (``compare``), for a report that has them at hand."""
    drawing = _Drawing(rows, title, side_by_side, expected_panel)
    return drawing.svg()


# --- geometry -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Box:
    x: float                    # left
    y: float                    # centre
    width: float

    @property
    def right(self) -> float:
        return self.x + self.width


class _Drawing:
    def __init__(self, rows: Sequence[CallEdge], title: str, side_by_side: bool | None,
                 expected_panel: bool) -> None:
        self.rows = list(rows)
        self.title = title
        self.expected_panel = expected_panel
        self.prefix = "mc-cg-" + hashlib.sha256(
            repr((title, side_by_side, expected_panel, [(r.source, r.target, r.state, r.detail) for r in rows]))
            .encode()
        ).hexdigest()[:10]
        expected_nodes = [n for r in rows if r.expected for n in (r.source, r.target)]
        observed_nodes = [n for r in rows if r.state != MISSING for n in (r.source, r.target)]
        self.expected_nodes = set(expected_nodes)
        self.observed_nodes = set(observed_nodes)
        self.layering: Layering = layered([(r.source, r.target) for r in rows], expected_nodes)
        longest = max((len(_short(n)) for n in self.layering.column), default=8)
        self.node_width = max(104.0, min(longest, MAX_LABEL) * CHAR_WIDTH + 22)
        self.slots = self._place()
        columns = max(len(self.layering.columns), 1)
        self.graph_width = columns * self.node_width + (columns - 1) * COLUMN_GAP
        self.graph_height = max((y for y in (s.y for s in self.slots.values())), default=0) + NODE_HEIGHT / 2
        for a, b in self.layering.back:         # arcs under the boxes
            self.graph_height = max(self.graph_height, self._back_low(self.slots[a], self.slots[b]) + 4)
        self.panel_width = self.graph_width + 2 * PANEL_PAD
        self.panel_height = PANEL_HEADER + self.graph_height + PANEL_PAD
        wide = 2 * PANEL_PAD + 2 * self.panel_width + PANEL_GAP
        self.side_by_side = expected_panel and (wide <= FIT_WIDTH if side_by_side is None else side_by_side)
        self.width = wide if self.side_by_side else 2 * PANEL_PAD + self.panel_width
        self.width = max(self.width, MIN_WIDTH)
        stacked = expected_panel and not self.side_by_side
        self.panels_height = self.panel_height * (2 if stacked else 1) + (PANEL_GAP if stacked else 0)
        order = {"severe": 0, FAILING: 1, MISSING: 0, UNEXPECTED: 2}
        self.notes = sorted((r for r in self.rows if r.state != HEALTHY),   # the worst first, else in graph order
                            key=lambda r: order["severe" if r.severe else r.state])
        shown = min(len(self.notes), MAX_NOTES) + (1 if len(self.notes) > MAX_NOTES else 0)
        self.legend_top = HEADER + self.panels_height + 14
        self.legend = self._legend_items()
        legend_rows = max((row for *_, row in self.legend), default=0) + 1
        self.notes_top = LEGEND_ROW * (legend_rows + 1) + 8
        self.height = self.legend_top + self.notes_top - 8 + (shown * NOTE_ROW + 8 if shown else 0) + PANEL_PAD

    def _place(self) -> dict[str, _Box]:
        """Each slot's box in graph coordinates: columns left to right, each centred vertically."""
        heights = []
        for column in self.layering.columns:
            heights.append(sum(self._slot_height(s) for s in column) + NODE_GAP * max(len(column) - 1, 0))
        tallest = max(heights, default=0)
        boxes = {}
        for c, column in enumerate(self.layering.columns):
            x = c * (self.node_width + COLUMN_GAP)
            y = (tallest - heights[c]) / 2
            for slot in column:
                h = self._slot_height(slot)
                boxes[slot] = _Box(x, y + h / 2, self.node_width)
                y += h + NODE_GAP
        return boxes

    @staticmethod
    def _slot_height(slot: str) -> float:
        return WAYPOINT_HEIGHT if Layering.is_waypoint(slot) else NODE_HEIGHT

    # --- document

    def svg(self) -> str:
        w, h = _n(self.width), _n(self.height)
        counted = counts(self.rows)
        summary = ", ".join(f"{n} {state}" for state, n in counted.items())
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="meshcheck-callgraph" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}" role="img" aria-labelledby="{self.prefix}-title {self.prefix}-desc" '
            f'font-family="{_a(FONT)}" font-size="{FONT_SIZE}" style="max-width:100%;height:auto">',
            f'<title id="{self.prefix}-title">{_t(self.title)}</title>',
            f'<desc id="{self.prefix}-desc">{_t("Call graph edges: " + summary)}</desc>',
            self._defs(),
            f'<rect width="{w}" height="{h}" fill="#ffffff"/>',
            f'<text class="mc-title" x="{PANEL_PAD}" y="23" font-size="15" font-weight="600" fill="{INK}">'
            f'{_t(_fit(self.title, self.width - 2 * PANEL_PAD, 15))}</text>',
        ]
        x, y = PANEL_PAD, HEADER
        if self.expected_panel:
            parts.append(self._panel("expected", x, y, "Expected call graph (profile)"))
            if self.side_by_side:
                x += self.panel_width + PANEL_GAP
            else:
                y += self.panel_height + PANEL_GAP
        parts.append(self._panel("observed", x, y, "Observed in Kiali's graph"))
        parts.append(self._legend(counted))
        parts.append("</svg>")
        return "\n".join(parts) + "\n"

    def _defs(self) -> str:
        markers = []
        for name, stroke in [("expected", EXPECTED_STROKE), *STROKES.items()]:
            markers.append(
                f'<marker id="{self.prefix}-arrow-{name}" viewBox="0 0 10 10" refX="9" refY="5" '
                f'markerWidth="7" markerHeight="7" markerUnits="userSpaceOnUse" orient="auto">'
                f'<path d="M0,0 L10,5 L0,10 z" fill="{stroke.colour}"/></marker>'
            )
        return "<defs>" + "".join(markers) + "</defs>"

    # --- panels

    def _panel(self, kind: str, x: float, y: float, heading: str) -> str:
        out = [
            f'<g class="mc-panel mc-panel-{kind}" transform="translate({_n(x)},{_n(y)})">',
            f'<rect width="{_n(self.panel_width)}" height="{_n(self.panel_height)}" rx="8" '
            f'fill="{PANEL_FILL}" stroke="{PANEL_STROKE}"/>',
            f'<text x="{PANEL_PAD}" y="18" font-weight="600" fill="{INK}">{_t(heading)}</text>',
            f'<g transform="translate({PANEL_PAD},{PANEL_HEADER})">',
        ]
        if kind == "expected":
            rows = [r for r in self.rows if r.expected]
            nodes = [n for n in self.layering.column if n in self.expected_nodes]
        else:
            rows = self.rows
            nodes = list(self.layering.column)
        ports = self._ports(rows)
        labels = []
        for row in rows:
            edge, label = self._edge(row, kind, ports)
            out.append(edge)
            labels.append(label)
        out += [label for label in labels if label]          # labels over every edge
        out += [self._node(name, kind) for name in nodes]
        out.append("</g></g>")
        return "\n".join(out)

    def _ports(self, rows: Sequence[CallEdge]) -> dict[tuple[Edge, str], float]:
        """Where each edge leaves its caller and enters its callee: spread along the box's side by the
        height of the other end, so arrows into one node do not meet at one point."""
        leaving: dict[str, list[tuple[float, Edge]]] = {}
        entering: dict[str, list[tuple[float, Edge]]] = {}
        for row in rows:
            pair = (row.source, row.target)
            if pair in self.layering.back:
                continue
            chain = self.layering.waypoints.get(pair, ())
            first = self.slots[chain[0] if chain else row.target]
            last = self.slots[chain[-1] if chain else row.source]
            leaving.setdefault(row.source, []).append((first.y, pair))
            entering.setdefault(row.target, []).append((last.y, pair))
        ports: dict[tuple[Edge, str], float] = {}
        for side, groups in (("out", leaving), ("in", entering)):
            for node, ends in groups.items():
                ends.sort()
                step = min(5.0, (NODE_HEIGHT - 10) / max(len(ends) - 1, 1))
                centre = self.slots[node].y
                for i, (_, pair) in enumerate(ends):
                    ports[(pair, side)] = centre + (i - (len(ends) - 1) / 2) * step
        return ports

    def _stroke(self, row: CallEdge, kind: str) -> tuple[str, Stroke]:
        if kind == "expected":
            return "expected", EXPECTED_STROKE
        name = "failing-severe" if row.state == FAILING and row.severe else row.state
        return name, STROKES[name]

    def _edge(self, row: CallEdge, kind: str, ports: dict[tuple[Edge, str], float]) -> tuple[str, str]:
        pair = (row.source, row.target)
        name, stroke = self._stroke(row, kind)
        d, middle = self._path(pair, ports)
        state = "expected" if kind == "expected" else row.state
        dash = f' stroke-dasharray="{stroke.dash}"' if stroke.dash else ""
        tip = f"{row.source} → {row.target}" + ("" if kind == "expected" else f": {row.state}; {row.detail}")
        edge = (
            f'<g class="mc-edge mc-{state}{" mc-severe" if kind != "expected" and row.severe else ""}" '
            f'data-source="{_a(row.source)}" data-target="{_a(row.target)}" data-state="{_a(state)}">'
            f"<title>{_t(tip)}</title>"
            f'<path d="{d}" fill="none" stroke="{stroke.colour}" stroke-width="{stroke.width}"{dash} '
            f'stroke-linecap="round" marker-end="url(#{self.prefix}-arrow-{name})"/></g>'
        )
        text = stroke.label if kind != "expected" else ""
        if kind != "expected" and row.state == FAILING:
            text = "no answer" if row.detail.startswith("requests sent, no workload") else (
                f"{_percent(row.error_percent)} errors" if row.error_percent is not None else "errors")
        if not text:
            return edge, ""
        x, y = middle
        label = (
            f'<text class="mc-edge-label mc-{state}" data-source="{_a(row.source)}" data-target="{_a(row.target)}" '
            f'x="{_n(x)}" y="{_n(y + 4)}" text-anchor="middle" font-size="11" font-weight="600" '
            f'fill="{stroke.colour}" stroke="#ffffff" stroke-width="3.5" stroke-linejoin="round" '
            f'paint-order="stroke">{_t(text)}</text>'
        )
        return edge, label

    def _path(self, pair: Edge, ports: dict[tuple[Edge, str], float]) -> tuple[str, tuple[float, float]]:
        """The path's ``d`` and the point where its label goes."""
        source, target = self.slots[pair[0]], self.slots[pair[1]]
        if pair in self.layering.back:
            return self._back_path(source, target)
        points = [(source.right, ports[(pair, "out")])]
        for slot in self.layering.waypoints.get(pair, ()):
            box = self.slots[slot]
            points += [(box.x, box.y), (box.right, box.y)]
        points.append((target.x - 1.5, ports[(pair, "in")]))
        d = [f"M{_n(points[0][0])},{_n(points[0][1])}"]
        segments = []
        for (x0, y0), (x1, y1) in pairwise(points):
            if y0 == y1:
                d.append(f"L{_n(x1)},{_n(y1)}")
            else:
                bend = (x1 - x0) / 2
                d.append(f"C{_n(x0 + bend)},{_n(y0)} {_n(x1 - bend)},{_n(y1)} {_n(x1)},{_n(y1)}")
            segments.append(((x0 + x1) / 2, (y0 + y1) / 2))
        # a label sits on the gap into the callee (the last segment): near the arrow it names
        return " ".join(d), segments[-1]

    def _back_path(self, source: _Box, target: _Box) -> tuple[str, tuple[float, float]]:
        """A call against the flow: an arc under both boxes, from the caller's bottom to the callee's."""
        x0, y0 = source.x + source.width / 2, source.y + NODE_HEIGHT / 2
        x1, y1 = target.x + target.width / 2 + 8, target.y + NODE_HEIGHT / 2 + 1.5
        low = self._back_low(source, target)
        d = f"M{_n(x0)},{_n(y0)} C{_n(x0)},{_n(low)} {_n(x1)},{_n(low)} {_n(x1)},{_n(y1)}"
        return d, ((x0 + x1) / 2, (y0 + y1) / 8 + low * 3 / 4)

    @staticmethod
    def _back_low(source: _Box, target: _Box) -> float:
        """The control points' depth of a back arc (the curve itself reaches three quarters of the way)."""
        return max(source.y, target.y) + NODE_HEIGHT / 2 + 34 + abs(source.x - target.x) / 8

    def _node(self, name: str, kind: str) -> str:
        box = self.slots[name]
        if kind == "expected":
            state, fill, stroke, dash, ink = "expected", "#ffffff", "#90a4ae", "", INK
            tip = name
        elif name not in self.expected_nodes:
            state, fill, stroke, dash, ink = "unexpected", "#eeeeee", "#9e9e9e", "", "#616161"
            tip = f"{name}: not in the profile's call graph"
        elif name not in self.observed_nodes:
            state, fill, stroke, dash, ink = "absent", "#ffffff", "#c62828", ' stroke-dasharray="4 3"', "#b71c1c"
            tip = f"{name}: no call to or from it in Kiali's graph"
        else:
            state, fill, stroke, dash, ink = "present", "#ffffff", "#90a4ae", "", INK
            tip = name
        top = box.y - NODE_HEIGHT / 2
        return (
            f'<g class="mc-node mc-node-{state}" data-name="{_a(name)}">'
            f"<title>{_t(tip)}</title>"
            f'<rect x="{_n(box.x)}" y="{_n(top)}" width="{_n(box.width)}" height="{NODE_HEIGHT}" rx="6" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="1.2"{dash}/>'
            f'<text x="{_n(box.x + box.width / 2)}" y="{_n(box.y + 4)}" text-anchor="middle" fill="{ink}">'
            f"{_t(_short(name))}</text></g>"
        )

    # --- legend and notes

    def _legend_items(self) -> list[tuple[str, str, float, int]]:
        """Each legend entry (style, words with its count, x, row), wrapped to the picture's width."""
        counted = counts(self.rows)
        severe = sum(1 for r in self.rows if r.state == FAILING and r.severe)
        per_style = {HEALTHY: counted[HEALTHY], FAILING: counted[FAILING] - severe, "failing-severe": severe,
                     MISSING: counted[MISSING], UNEXPECTED: counted[UNEXPECTED]}
        room = self.width - 2 * PANEL_PAD
        items, x, row = [], 0.0, 0
        for name, words in LEGEND:
            text = f"{words} ({per_style[name]})"
            span = 38 + len(text) * CHAR_WIDTH
            if x and x + span > room:
                x, row = 0.0, row + 1
            items.append((name, text, x, row))
            x += span + 22
        return items

    def _legend(self, counted: dict[str, int]) -> str:
        out = [f'<g class="mc-legend" transform="translate({PANEL_PAD},{_n(self.legend_top)})">']
        for name, text, x, row in self.legend:
            stroke = STROKES[name]
            dash = f' stroke-dasharray="{stroke.dash}"' if stroke.dash else ""
            count = text.rsplit("(", 1)[1].rstrip(")")
            out.append(
                f'<g class="mc-legend-item mc-{name}" data-count="{count}" '
                f'transform="translate({_n(x)},{row * LEGEND_ROW})">'
                f'<line x1="0" y1="0" x2="30" y2="0" stroke="{stroke.colour}" stroke-width="{stroke.width}"{dash} '
                f'marker-end="url(#{self.prefix}-arrow-{name})"/>'
                f'<text x="38" y="4" fill="{INK}">{_t(text)}</text></g>'
            )
        expected = sum(1 for r in self.rows if r.expected)
        seen = expected - counted[MISSING]
        words = [f"{expected} calls expected, {seen} of them in Kiali's graph"]
        if counted[UNEXPECTED]:
            words.append(f"{counted[UNEXPECTED]} more that the profile does not list")
        if self.expected_nodes - self.observed_nodes:
            words.append("dashed red boxes: services no call reaches or leaves in Kiali's graph")
        line = _fit("; ".join(words), self.width - 2 * PANEL_PAD)
        out.append(f'<text class="mc-summary" y="{_n(self.notes_top - LEGEND_ROW + 2)}" fill="{MUTED}">'
                   f"{_t(line)}</text>")
        y = self.notes_top + 4
        room = self.width - 2 * PANEL_PAD
        for row in self.notes[:MAX_NOTES]:
            _, stroke = self._stroke(row, "observed")
            note = f"{row.arrow}: {row.state}: {row.detail}"
            out.append(f'<text class="mc-note mc-{row.state}" data-source="{_a(row.source)}" '
                       f'data-target="{_a(row.target)}" y="{_n(y)}" fill="{INK}">'
                       f'<tspan fill="{stroke.colour}" font-weight="600">■ </tspan>{_t(_fit(note, room - 16))}</text>')
            y += NOTE_ROW
        if len(self.notes) > MAX_NOTES:
            more = f"and {len(self.notes) - MAX_NOTES} more"
            out.append(f'<text y="{_n(y)}" fill="{MUTED}">{_t(more)}</text>')
        out.append("</g>")
        return "\n".join(out)


# --- text -----------------------------------------------------------------------------------------


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _clean(text: str) -> str:
    """Characters XML 1.0 cannot carry (control characters, lone surrogates) become U+FFFD."""
    return _NOT_XML.sub("\ufffd", str(text))


def _t(text: str) -> str:
    """Text content, escaped."""
    return html.escape(_clean(text), quote=False)


def _a(text: str) -> str:
    """An attribute value (written between double quotes), escaped."""
    return html.escape(_clean(text), quote=True)


def _short(name: str) -> str:
    return name if len(name) <= MAX_LABEL else name[: MAX_LABEL - 1] + "…"


def _fit(text: str, room: float, size: float = FONT_SIZE) -> str:
    chars = int(room / (CHAR_WIDTH * size / FONT_SIZE))
    return text if len(text) <= chars else text[: max(chars - 1, 1)] + "…"


def _n(value: float) -> str:
    """A coordinate, short: 12, 12.5."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _percent(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:.0f}%" if value >= 10 or value == int(value) else f"{value:.2g}%"
