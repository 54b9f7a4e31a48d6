"""A deterministic layered layout of a call graph: callers left of their callees, columns by call depth.

The classic layered drawing (Sugiyama's), small enough to own: a picture in a report needs the same
drawing for the same graph on every run and no Graphviz binary, and for a dozen services a few
hundred lines beat a dependency. The pure-Python options weigh more than they give here: networkx
has no layered layout of its own (``multipartite_layout`` needs the layers given and does not order
them), grandalf is unmaintained since 2023.

1. Columns: each node's column is the longest call chain that reaches it from an entry (a node no
   call reaches: ``loadgenerator``, or ``frontend`` without it), so every call goes rightwards; a call
   that closes a cycle (found by a depth-first walk in a fixed order) is drawn as a back edge.
2. Waypoints: a call that skips columns passes through a waypoint in each column between, so it can
   bend around the nodes there instead of crossing them.
3. Order in each column: by the mean position of the neighbours in the column before (then after),
   swept both ways a few times, keeping the order with the fewest crossings; ties keep the earlier
   order, which starts as the order the edges were given in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

Edge = tuple[str, str]

WAYPOINT = "\x00"           # waypoint slots start with NUL, which no name can hold (XML cannot carry it)
SWEEPS = 8


@dataclass(frozen=True)
class Layering:
    column: Mapping[str, int]               # every node's column; 0 holds the entries
    columns: tuple[tuple[str, ...], ...]    # each column's slots top to bottom: nodes and waypoints
    waypoints: Mapping[Edge, tuple[str, ...]]   # the waypoint slots a forward edge passes, left to right
    back: frozenset[Edge]                   # edges drawn against the flow: they close a cycle or stay in a column

    @staticmethod
    def is_waypoint(slot: str) -> bool:
        return slot.startswith(WAYPOINT)


def layered(edges: Sequence[Edge], nodes: Sequence[str] = ()) -> Layering:
    """Lay out the graph of ``edges`` (plus any lone ``nodes``); the same input gives the same layout."""
    names = list(dict.fromkeys([*nodes, *(n for e in edges for n in e)]))
    pairs = list(dict.fromkeys((a, b) for a, b in edges if a != b))
    forward = _acyclic(names, pairs)
    column = _columns(names, forward)
    back = frozenset(e for e in pairs if e not in forward or column[e[0]] >= column[e[1]])
    slots: list[list[str]] = [[] for _ in range(max(column.values(), default=0) + 1)]
    for name in names:
        slots[column[name]].append(name)
    links: list[Edge] = []          # slot-to-slot links between adjacent columns
    waypoints: dict[Edge, tuple[str, ...]] = {}
    for a, b in pairs:
        if (a, b) in back:
            continue
        chain = tuple(f"{WAYPOINT}{a}{WAYPOINT}{b}{WAYPOINT}{c}" for c in range(column[a] + 1, column[b]))
        for c, slot in zip(range(column[a] + 1, column[b]), chain, strict=True):
            slots[c].append(slot)
        waypoints[(a, b)] = chain
        hops = (a, *chain, b)
        links += list(pairwise(hops))
    ordered = _order(slots, links)
    return Layering(column, tuple(tuple(c) for c in ordered), waypoints, back)


def _acyclic(names: list[str], pairs: list[Edge]) -> set[Edge]:
    """The edges left once a depth-first walk (entries first, then in the given order) drops back edges."""
    outgoing: dict[str, list[str]] = {n: [] for n in names}
    for a, b in pairs:
        outgoing[a].append(b)
    called = {b for _, b in pairs}
    starts = [n for n in names if n not in called] + [n for n in names if n in called]
    state: dict[str, int] = {}      # 1: on the walk's stack, 2: done
    kept: set[Edge] = set()
    for start in starts:
        if start in state:
            continue
        stack = [(start, iter(outgoing[start]))]
        state[start] = 1
        while stack:
            node, rest = stack[-1]
            nxt = next(rest, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                continue
            if state.get(nxt) == 1:
                continue            # back edge: it closes a cycle
            kept.add((node, nxt))
            if nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(outgoing[nxt])))
    return kept


def _columns(names: list[str], forward: set[Edge]) -> dict[str, int]:
    """Longest path from the entries, over an acyclic set of edges."""
    incoming: dict[str, list[str]] = {n: [] for n in names}
    for a, b in forward:
        incoming[b].append(a)
    column: dict[str, int] = {}

    def depth(name: str) -> int:
        todo = [name]
        while todo:
            node = todo[-1]
            pending = [p for p in incoming[node] if p not in column]
            if pending:
                todo.extend(pending)
                continue
            todo.pop()
            column[node] = max((column[p] + 1 for p in incoming[node]), default=0)
        return column[name]

    for name in names:
        depth(name)
    return column


def _order(slots: list[list[str]], links: list[Edge]) -> list[list[str]]:
    """Barycentre ordering, swept down and up, keeping the order with the fewest crossings."""
    before: dict[str, list[str]] = {}
    after: dict[str, list[str]] = {}
    for a, b in links:
        after.setdefault(a, []).append(b)
        before.setdefault(b, []).append(a)
    current = [list(c) for c in slots]
    best, best_crossings = [list(c) for c in current], _crossings(current, links)
    for sweep in range(SWEEPS):
        down = sweep % 2 == 0
        indices = range(1, len(current)) if down else range(len(current) - 2, -1, -1)
        for i in indices:
            fixed = current[i - 1] if down else current[i + 1]
            where = {slot: pos for pos, slot in enumerate(fixed)}
            neighbours = before if down else after
            current[i] = _by_barycentre(current[i], neighbours, where)
        crossings = _crossings(current, links)
        if crossings < best_crossings:
            best, best_crossings = [list(c) for c in current], crossings
    return best


def _by_barycentre(column: list[str], neighbours: Mapping[str, list[str]], where: Mapping[str, int]) -> list[str]:
    def key(item: tuple[int, str]) -> tuple[float, int]:
        pos, slot = item
        placed = [where[n] for n in neighbours.get(slot, ()) if n in where]
        return (sum(placed) / len(placed) if placed else float(pos), pos)
    return [slot for _, slot in sorted(enumerate(column), key=key)]


def _crossings(columns: list[list[str]], links: list[Edge]) -> int:
    position = {slot: (c, pos) for c, column in enumerate(columns) for pos, slot in enumerate(column)}
    by_column: dict[int, list[tuple[int, int]]] = {}
    for a, b in links:
        (ca, pa), (_, pb) = position[a], position[b]
        by_column.setdefault(ca, []).append((pa, pb))
    total = 0
    for spans in by_column.values():
        for i, (a1, b1) in enumerate(spans):
            for a2, b2 in spans[i + 1:]:
                if (a1 - a2) * (b1 - b2) < 0:
                    total += 1
    return total
