"""A tiny PromQL evaluator: just enough of the language for what the suite asks Prometheus.

The simulated Prometheus must answer the suite's real queries with real results, and must refuse
everything else the way Prometheus refuses a query it cannot parse, so that a suite which starts
sending a new expression fails loudly here instead of passing against a lenient fake. The subset:

- instant vector selectors: ``metric``, ``metric{label="v", ...}``, ``{__name__="metric"}`` with
  the matchers ``=``, ``!=``, ``=~`` and ``!~`` (regexes fully anchored, as in PromQL);
- optionally wrapped in ``sum`` or ``count`` with a ``by (label, ...)`` clause written before or
  after the parenthesised argument.

Grammar and semantics read from the Prometheus documentation (prometheus/prometheus
docs/querying/basics.md: "Instant vector selectors", "Time series selectors"; and
docs/querying/operators.md: "Aggregation operators"); the error text follows the parser's
"<line>:<column>: parse error: ..." form, which the HTTP API wraps as
``invalid parameter "query": ...`` (prometheus/prometheus web/api/v1/api.go, invalidParamError).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

Labels = dict[str, str]
Series = tuple[Labels, float]

_AGGREGATIONS = ("sum", "count")
_OPERATORS = ("=~", "!~", "!=", "=")
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


class PromQLError(ValueError):
    """A query the simulator cannot evaluate, worded as Prometheus words a parse error."""

    def __init__(self, column: int, message: str) -> None:
        super().__init__(f"1:{column}: parse error: {message}")


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str

    def matches(self, labels: Labels) -> bool:
        """Apply the matcher; a missing label reads as the empty string, as in PromQL."""
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found


@dataclass(frozen=True)
class Selector:
    matchers: tuple[Matcher, ...]

    def select(self, series: Iterable[Series]) -> list[Series]:
        return [(labels, value) for labels, value in series
                if all(m.matches(labels) for m in self.matchers)]


@dataclass(frozen=True)
class Aggregation:
    op: str
    by: tuple[str, ...]
    inner: Selector


@dataclass(frozen=True)
class _Token:
    kind: str          # ident, string, punct, op, end; bad: a character the subset does not use
    text: str
    column: int


def _tokens(expr: str) -> list[_Token]:
    """Split an expression into tokens; a character the subset has no use for is refused where met."""
    found: list[_Token] = []
    i = 0
    while i < len(expr):
        char = expr[i]
        if char.isspace():
            i += 1
            continue
        column = i + 1
        ident = _IDENT.match(expr, i)
        if ident:
            found.append(_Token("ident", ident.group(), column))
            i = ident.end()
        elif char in "\"'`":
            text, i = _string(expr, i)
            found.append(_Token("string", text, column))
        elif char in "{}(),":
            found.append(_Token("punct", char, column))
            i += 1
        else:
            op = next((o for o in _OPERATORS if expr.startswith(o, i)), None)
            found.append(_Token("op", op, column) if op else _Token("bad", char, column))
            i += len(op) if op else 1
    found.append(_Token("end", "", len(expr) + 1))
    return found


def _string(expr: str, start: int) -> tuple[str, int]:
    """Read a quoted string; double and single quotes take backslash escapes, backticks do not."""
    quote = expr[start]
    out: list[str] = []
    i = start + 1
    escapes = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}
    while i < len(expr):
        char = expr[i]
        if char == quote:
            return "".join(out), i + 1
        if char == "\\" and quote != "`" and i + 1 < len(expr):
            nxt = expr[i + 1]
            out.append(escapes.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(char)
        i += 1
    raise PromQLError(start + 1, "unterminated quoted string")


class _Parser:
    def __init__(self, expr: str) -> None:
        self.tokens = _tokens(expr)
        self.pos = 0

    def peek(self, offset: int = 0) -> _Token:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def take(self, kind: str, text: str | None = None) -> _Token:
        token = self.peek()
        if token.kind == "bad":
            raise PromQLError(token.column, f"unexpected character: {token.text!r}")
        if token.kind != kind or (text is not None and token.text != text):
            wanted = repr(text) if text else kind
            got = "end of input" if token.kind == "end" else repr(token.text)
            raise PromQLError(token.column, f"unexpected {got}, expected {wanted}")
        self.pos += 1
        return token

    def parse(self) -> Selector | Aggregation:
        node = self.expression()
        end = self.peek()
        if end.kind == "bad":
            raise PromQLError(end.column, f"unexpected character: {end.text!r}")
        if end.kind != "end":
            raise PromQLError(end.column, f"unexpected {end.text!r} after the expression")
        return node

    def expression(self) -> Selector | Aggregation:
        first = self.peek()
        if first.kind == "ident" and first.text in _AGGREGATIONS and self.peek(1).text in ("(", "by"):
            return self.aggregation()
        if first.kind == "ident" and self.peek(1).text == "(":
            raise PromQLError(first.column, f"unexpected function or aggregation {first.text!r}")
        return self.selector()

    def aggregation(self) -> Aggregation:
        op = self.take("ident").text
        by = self.by_clause()
        self.take("punct", "(")
        inner = self.selector()
        self.take("punct", ")")
        if self.peek().text == "by":
            if by:
                raise PromQLError(self.peek().column, "unexpected 'by': grouping given twice")
            by = self.by_clause()
        return Aggregation(op, by, inner)

    def by_clause(self) -> tuple[str, ...]:
        if self.peek().text != "by":
            return ()
        self.take("ident", "by")
        self.take("punct", "(")
        labels: list[str] = []
        while self.peek().text != ")":
            token = self.take("ident")
            if not _LABEL.fullmatch(token.text):
                raise PromQLError(token.column, f"invalid label name {token.text!r}")
            labels.append(token.text)
            if self.peek().text != ",":
                break
            self.take("punct", ",")
        self.take("punct", ")")
        return tuple(labels)

    def selector(self) -> Selector:
        start = self.peek()
        matchers: list[Matcher] = []
        if start.kind == "ident":
            self.pos += 1
            matchers.append(Matcher("__name__", "=", start.text))
        if self.peek().text == "{":
            matchers.extend(self.matchers())
        if not matchers:
            raise PromQLError(start.column, f"unexpected {start.text or 'end of input'!r}, expected a selector")
        if not any(not m.matches({}) for m in matchers):
            raise PromQLError(start.column, "vector selector must contain at least one non-empty matcher")
        return Selector(tuple(matchers))

    def matchers(self) -> list[Matcher]:
        self.take("punct", "{")
        found: list[Matcher] = []
        while self.peek().text != "}":
            name = self.take("ident")
            op = self.take("op")
            value = self.take("string")
            if op.text in ("=~", "!~"):
                try:
                    re.compile(value.text)
                except re.error as exc:
                    raise PromQLError(value.column, f"error parsing regexp: {exc}") from None
            found.append(Matcher(name.text, op.text, value.text))
            if self.peek().text != ",":
                break
            self.take("punct", ",")
        self.take("punct", "}")
        return found


def parse(expr: str) -> Selector | Aggregation:
    """Parse an expression of the subset, or raise ``PromQLError`` worded like Prometheus."""
    return _Parser(expr).parse()


def evaluate(expr: str, series: Iterable[Series]) -> list[Series]:
    """The instant vector an expression yields over the given series (label set, value)."""
    node = parse(expr)
    if isinstance(node, Selector):
        return sorted(node.select(series), key=lambda s: sorted(s[0].items()))
    groups: dict[tuple[str, ...], list[float]] = {}
    for labels, value in node.inner.select(series):
        key = tuple(labels.get(name, "") for name in node.by)
        groups.setdefault(key, []).append(value)
    result: list[Series] = []
    for key, values in sorted(groups.items()):
        labels = {name: value for name, value in zip(node.by, key, strict=True) if value}
        result.append((labels, float(sum(values)) if node.op == "sum" else float(len(values))))
    return result


def format_value(value: float) -> str:
    """A sample value as Prometheus prints it: the shortest form, without an exponent for integers."""
    if value != value:
        return "NaN"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)
