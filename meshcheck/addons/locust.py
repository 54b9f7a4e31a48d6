"""Reading Locust: its console statistics table (the in-cluster load generator's log) and its CSV.

Online Boutique's ``loadgenerator`` runs ``locust --headless`` with no run-time limit
(GoogleCloudPlatform/microservices-demo src/loadgenerator/Dockerfile), so its log holds no end-of-run
summary: only the table Locust's ``stats_printer`` prints every two seconds
(``CONSOLE_STATS_INTERVAL_SEC``) through the ``locust.stats_logger`` logger, whose handler prints the
bare message (locust/log.py, formatter "plain"). Two layouts exist (locustio/locust locust/stats.py):

- before 2.9 (``print_stats`` and ``StatsEntry.to_string`` in 1.x to 2.8):
  ``" %-60s %7s %12s  | %7s %7s %7s %7s  | %7s %7s"`` headed ``Name # reqs # fails | Avg Min Max Median |
  req/s failures/s`` (the name column is 80 wide from 2.0), the method inside the name (``" GET /cart"``),
  a separator of dashes only;
- from 2.9 (``get_stats_summary`` and ``to_string`` up to today's 2.4x):
  ``"%-8s %-76s %7s %12s |%7s %7s %7s%7s | %7s %11s"`` headed ``Type Name # reqs # fails | Avg Min Max
  Med | req/s failures/s``, the method in its own ``Type`` column, separators of dashes and ``|``.

Both end each table with the ``Aggregated`` row (``RequestStats.total``, no method) and print
``# fails`` as ``"%d(%.2f%%)"``, e.g. ``11(3.86%)``. Columns are found by their headers and rows by
their label, never by fixed positions: a name column's width depends on the release and, before
2.9, on the terminal. With ``timestamps=true`` the Kubernetes log API starts each line with the
kubelet's RFC 3339 time and one space; that prefix dates each table.

The CSV is what ``locust --csv PREFIX`` writes for our own load (``StatsCSV`` in locust/stats.py,
stable since 1.x): ``PREFIX_stats.csv`` with ``Type,Name,Request Count,Failure Count,Median Response
Time,Average Response Time,...,95%,...`` per entry and a last ``Aggregated`` row, and
``PREFIX_failures.csv`` with ``Method,Name,Error,Occurrences``.

Nothing here imports Locust: it patches the standard library with gevent on import, so it only ever
runs in a process of its own.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime, timezone

AGGREGATED = "Aggregated"
NEW_LAYOUT = "Type … Med (Locust 2.9 or later)"
OLD_LAYOUT = "Name … Median (Locust before 2.9)"
CSV_LAYOUT = "CSV (locust --csv)"

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d) (.*)$")
_HEADER_TOKEN = re.compile(r"#\s?reqs|#\s?fails|failures/s|req/s|[^\s|]+")
_COUNTS = re.compile(r"^(?P<label>.*?)\s+(?P<reqs>\d+)\s+(?P<fails>\d+)\((?P<pct>[\d.]+|nan|inf)%\)\s*$")
_VERSION = re.compile(r"Starting Locust (\S+)")
_WEB_UI = "Starting web interface at"


@dataclass(frozen=True)
class Row:
    """One entry of a Locust table: the requests of one method and name, or the ``Aggregated`` total."""

    method: str                  # "GET", "POST"...; "" for Aggregated
    name: str
    requests: int
    failures: int
    median_ms: float | None = None
    average_ms: float | None = None
    p95_ms: float | None = None  # the CSV's 95% column; the console table has none
    rps: float | None = None

    @property
    def label(self) -> str:
        return f"{self.method} {self.name}".strip()

    @property
    def failure_ratio(self) -> float:
        return self.failures / self.requests if self.requests else (1.0 if self.failures else 0.0)

    @property
    def aggregated(self) -> bool:
        return not self.method and self.name == AGGREGATED


@dataclass(frozen=True)
class Table:
    """One complete statistics table: its entries and its ``Aggregated`` row."""

    rows: tuple[Row, ...]
    total: Row
    layout: str
    at: datetime | None = None   # when its Aggregated line was logged, with timestamps=true

    def worst(self, limit: int = 3) -> tuple[Row, ...]:
        """The entries with the most failures, most first (none without failures)."""
        failing = sorted((r for r in self.rows if r.failures), key=lambda r: (-r.failures, -r.failure_ratio, r.label))
        return tuple(failing[:limit])


@dataclass(frozen=True)
class LogReading:
    """What one read of the generator's log showed."""

    tables: tuple[Table, ...]      # complete tables, oldest first
    lines: int
    version: str | None = None     # from "Starting Locust X", when the read reached the start
    web_ui: bool = False           # Locust started its web UI: not headless, it prints no table
    last_line: str = ""
    problems: tuple[str, ...] = ()  # lines inside a table that did not read as a row

    @property
    def latest(self) -> Table | None:
        return self.tables[-1] if self.tables else None

    @property
    def earliest(self) -> Table | None:
        return self.tables[0] if self.tables else None


# --- the console table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Header:
    segments: tuple[tuple[str, ...], ...]   # column names per "|"-separated segment

    @property
    def layout(self) -> str:
        return NEW_LAYOUT if "Type" in self.segments[0] else OLD_LAYOUT


def split_timestamp(line: str) -> tuple[datetime | None, str]:
    """A log line without the kubelet's RFC 3339 prefix (``timestamps=true``), and that time."""
    match = _STAMP.match(line)
    if match is None:
        return None, line
    fraction = (match[2] or "0")[:6].ljust(6, "0")
    zone = "+00:00" if match[3] == "Z" else match[3]
    try:
        return datetime.fromisoformat(f"{match[1]}.{fraction}{zone}"), match[4]
    except ValueError:
        return None, line


def _header(text: str) -> _Header | None:
    segments = tuple(tuple(_normal(t) for t in _HEADER_TOKEN.findall(part)) for part in text.split("|"))
    first = segments[0]
    if "Name" not in first or first[-2:] != ("# reqs", "# fails"):
        return None
    return _Header(segments)


def _normal(token: str) -> str:
    return re.sub(r"#\s?", "# ", token) if token.startswith("#") else token


def _separator(text: str) -> bool:
    stripped = text.strip()
    return bool(stripped) and set(stripped) <= {"-", "|"}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _row(text: str, header: _Header) -> Row | None:
    """A table line as a ``Row``, or None when it is not one of this header's rows."""
    parts = text.split("|")
    if len(parts) != len(header.segments):
        return None
    counts = _COUNTS.match(parts[0].rstrip())
    if counts is None:
        return None
    label = counts["label"]
    if header.layout == NEW_LAYOUT:
        # "%-8s %-Ns": an empty Type (the Aggregated row) leaves the line starting with blanks.
        method, _, name = ("", "", label.strip()) if label[:1].isspace() else label.strip().partition(" ")
    else:
        words = label.split()
        method, name = (words[0], " ".join(words[1:])) if len(words) > 1 else ("", " ".join(words))
    values: dict[str, float | None] = {}
    for names, part in zip(header.segments[1:], parts[1:], strict=True):
        found = part.split()
        if len(found) != len(names):
            return None
        values.update({n: _number(v) for n, v in zip(names, found, strict=True)})
    return Row(method=method.strip(), name=name.strip(), requests=int(counts["reqs"]), failures=int(counts["fails"]),
               median_ms=values.get("Median", values.get("Med")), average_ms=values.get("Avg"),
               rps=values.get("req/s"))


def parse_log(text: str) -> LogReading:
    """Every complete table in a stretch of Locust's log (oldest first), whichever layout it prints.

    A table starts at its header and is complete at its ``Aggregated`` row; a stretch that starts
    inside a table (``tailLines`` cut its header off) skips that table. Log lines of other loggers
    between tables are ignored; a line inside a table that has the table's ``|`` columns but does
    not read as a row is kept in ``problems``, so a garbled table is reported, not taken for empty.
    """
    tables: list[Table] = []
    problems: list[str] = []
    header: _Header | None = None
    rows: list[Row] = []
    version, web_ui, lines, last = None, False, 0, ""
    for raw in text.splitlines():
        at, line = split_timestamp(raw)
        if not line.strip():
            continue
        lines += 1
        last = line.strip()
        found = _VERSION.search(line)
        if found:
            version = found[1]
        web_ui = web_ui or _WEB_UI in line
        head = _header(line)
        if head is not None:
            header, rows = head, []
            continue
        if header is None or _separator(line):
            continue
        row = _row(line, header)
        if row is None:
            if "|" in line:
                problems.append(line.strip()[:160])
            continue
        if row.aggregated:
            tables.append(Table(tuple(rows), row, header.layout, at))
            header, rows = None, []
        else:
            rows.append(row)
    return LogReading(tuple(tables), lines, version, web_ui and not tables, last, tuple(problems))


# --- the CSV of our own run ------------------------------------------------------------------------


def parse_stats_csv(text: str) -> Table:
    """``PREFIX_stats.csv``: one row per entry, then ``Aggregated``; a file without it is an error."""
    reader = csv.DictReader(io.StringIO(text))
    needed = {"Name", "Request Count", "Failure Count"}
    if reader.fieldnames is None or not needed <= set(reader.fieldnames):
        raise ValueError(f"not Locust's stats CSV: columns {reader.fieldnames or '(none)'}")
    rows: list[Row] = []
    total: Row | None = None
    for item in reader:
        row = Row(
            method=(item.get("Type") or item.get("Method") or "").strip(),
            name=(item.get("Name") or "").strip(),
            requests=int(float(item["Request Count"] or 0)),
            failures=int(float(item["Failure Count"] or 0)),
            median_ms=_number(item.get("Median Response Time") or ""),
            average_ms=_number(item.get("Average Response Time") or ""),
            p95_ms=_number(item.get("95%") or ""),
            rps=_number(item.get("Requests/s") or ""),
        )
        if row.aggregated:
            total = row
        else:
            rows.append(row)
    if total is None:
        raise ValueError("Locust's stats CSV has no Aggregated row")
    return Table(tuple(rows), total, CSV_LAYOUT, datetime.now(timezone.utc))


@dataclass(frozen=True)
class Failure:
    method: str
    name: str
    error: str
    occurrences: int


def parse_failures_csv(text: str) -> tuple[Failure, ...]:
    """``PREFIX_failures.csv``: which errors each entry met, most frequent first."""
    found = [
        Failure((item.get("Method") or "").strip(), (item.get("Name") or "").strip(),
                " ".join((item.get("Error") or "").split())[:200], int(float(item.get("Occurrences") or 0)))
        for item in csv.DictReader(io.StringIO(text))
    ]
    return tuple(sorted(found, key=lambda f: -f.occurrences))
