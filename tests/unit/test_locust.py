# ruff: noqa: E501 -- Locust's tables are quoted verbatim, as wide as Locust prints them
"""Reading Locust: the console table in both layouts (as locustio/locust locust/stats.py prints them before
and from 2.9), with and without its Aggregated row, garbled, dated by the kubelet's timestamps; its CSV; and
the simulated generator's tables, which must read the same way. When Locust is installed, a table printed
by Locust itself is read too, in a process of its own (Locust patches the standard library on import)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from meshcheck.addons import locust as lc
from meshcheck.load.run import locust_installed
from meshcheck.sim import loadgen

# Locust 2.9+ (get_stats_summary): "%-8s %-76s %7s %12s |%7s %7s %7s%7s | %7s %11s".
NEW = """\
Type     Name                                                                          # reqs      # fails |    Avg     Min     Max    Med |   req/s  failures/s
--------|----------------------------------------------------------------------------|-------|-------------|-------|-------|-------|-------|--------|-----------
GET      /                                                                                789     0(0.00%) |     43      12     304     38 |    0.07        0.00
POST     /cart                                                                           2368    94(3.97%) |     40      11     280     35 |    0.22        0.01
POST     /cart/checkout                                                                   789  276(34.98%) |    110      32     768     96 |    0.07        0.03
--------|----------------------------------------------------------------------------|-------|-------------|-------|-------|-------|-------|--------|-----------
         Aggregated                                                                      3946   370(9.38%) |     38       7     768     29 |    1.70        0.04
"""

# Locust 1.x (print_stats, STATS_NAME_WIDTH 60): " %-60s %7s %12s  | %7s %7s %7s %7s  | %7s %7s".
OLD = """\
 Name                                                          # reqs      # fails  |     Avg     Min     Max  Median  |   req/s failures/s
--------------------------------------------------------------------------------------------------------------------------------------------
 GET /                                                            120     0(0.00%)  |      43      12     304      38  |    0.07    0.00
 GET /cart                                                        360    11(3.06%)  |      35      10     248      31  |    0.22    0.01
--------------------------------------------------------------------------------------------------------------------------------------------
 Aggregated                                                       480    11(2.29%)  |      37      10     304      33  |    0.29    0.01
"""


def stamped(text: str, second: int = 45) -> str:
    return "".join(f"2026-05-01T12:00:{second:02d}.{n:06d}123Z {line}\n" for n, line in enumerate(text.splitlines()))


def test_new_layout_reads_type_name_counts_and_med_by_header():
    reading = lc.parse_log(NEW)
    table = reading.latest
    assert table is not None and table.layout == lc.NEW_LAYOUT and len(reading.tables) == 1
    assert [r.label for r in table.rows] == ["GET /", "POST /cart", "POST /cart/checkout"]
    assert (table.total.name, table.total.method, table.total.requests, table.total.failures) == \
        ("Aggregated", "", 3946, 370)
    assert table.rows[2].median_ms == 96 and table.rows[2].average_ms == 110 and table.total.rps == 1.70
    assert [r.label for r in table.worst()] == ["POST /cart/checkout", "POST /cart"]


def test_old_layout_reads_the_method_inside_the_name_and_median():
    table = lc.parse_log(OLD).latest
    assert table is not None and table.layout == lc.OLD_LAYOUT
    assert [(r.method, r.name, r.requests, r.failures, r.median_ms) for r in table.rows] == [
        ("GET", "/", 120, 0, 38), ("GET", "/cart", 360, 11, 31)]
    assert table.total.aggregated and round(table.total.failure_ratio, 4) == 0.0229


def test_timestamps_date_each_table_and_the_latest_complete_one_wins():
    log = stamped("[2026-05-01 12:00:40,001] lg/INFO/locust.main: Starting Locust 2.15.1", 40) + stamped(OLD, 43) \
        + stamped(NEW, 45) + stamped(NEW.splitlines()[0] + "\n" + NEW.splitlines()[2], 47)  # a table being printed
    reading = lc.parse_log(log)
    assert reading.version == "2.15.1" and len(reading.tables) == 2
    assert reading.earliest is not None and reading.earliest.layout == lc.OLD_LAYOUT
    assert reading.latest is not None and reading.latest.total.requests == 3946
    assert reading.latest.at is not None and reading.latest.at.second == 45 and reading.latest.at.tzinfo is not None


def test_a_stretch_without_aggregated_row_has_no_table():
    cut = "\n".join(NEW.splitlines()[2:5])  # tailLines cut the header off, and the table's end is not there yet
    assert lc.parse_log(cut).tables == ()
    assert lc.parse_log(NEW.rsplit("\n", 2)[0]).tables == ()  # the header but no Aggregated row


def test_garbled_rows_are_kept_as_problems_not_taken_for_an_empty_table():
    garbled = NEW.replace("   789     0(0.00%) |     43", "   789     zero |     43", 1).replace(
        "3946   370(9.38%)", "3946   370 9.38%")
    reading = lc.parse_log(garbled)
    assert reading.tables == () and len(reading.problems) == 2 and "zero" in reading.problems[0]


def test_web_ui_and_other_log_lines():
    reading = lc.parse_log("[2026-05-01 12:00:00,100] lg/INFO/locust.main: Starting web interface at "
                           "http://0.0.0.0:8089 (accepting connections from all network interfaces)\n"
                           "[2026-05-01 12:00:00,101] lg/INFO/locust.main: Starting Locust 2.25.0\n")
    assert reading.web_ui and reading.tables == () and reading.version == "2.25.0" and reading.lines == 2
    assert lc.parse_log("").lines == 0 and lc.parse_log("").latest is None


def test_split_timestamp_reads_rfc3339nano_and_leaves_other_lines():
    at, rest = lc.split_timestamp("2026-05-01T12:00:45.5Z hello")
    assert rest == "hello" and at is not None and at.microsecond == 500000
    assert lc.split_timestamp("hello") == (None, "hello")


@pytest.mark.parametrize("version, layout", [("1.6.0", lc.OLD_LAYOUT), ("2.8.6", lc.OLD_LAYOUT),
                                             ("2.9.0", lc.NEW_LAYOUT), ("2.43.0", lc.NEW_LAYOUT)])
def test_the_simulated_generator_prints_tables_the_parser_reads(version, layout):
    lines = loadgen.table(version, 600.0, {"POST /cart/checkout": 0.5})
    table = lc.parse_log("\n".join(lines)).latest
    assert table is not None and table.layout == layout
    assert table.total.requests == sum(r.requests for r in table.rows) == int(sum(
        int(share * loadgen.LOAD_RATE * 599) for *_, share, _ in loadgen.ENTRIES))
    checkout = next(r for r in table.rows if r.label == "POST /cart/checkout")
    assert checkout.failures == checkout.requests // 2 and table.worst()[0] is checkout


STATS_CSV = """Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,\
Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%
GET,/,4,0,10,21.2,4,54,6000,1.36,0.0,10,36,36,54,54,54,54,54,54,54,54
POST,/cart/checkout,2,1,300,310.0,290,330,3000,0.6,0.3,300,330,330,330,330,330,330,330,330,330,330
,Aggregated,6,1,12,117.5,4,330,5000,1.96,0.3,12,54,300,300,330,330,330,330,330,330,330
"""


def test_stats_csv_reads_entries_the_aggregated_row_and_its_p95():
    table = lc.parse_stats_csv(STATS_CSV)
    assert [(r.label, r.requests, r.failures, r.p95_ms) for r in table.rows] == [
        ("GET /", 4, 0, 54), ("POST /cart/checkout", 2, 1, 330)]
    assert table.total.aggregated and table.total.p95_ms == 330 and table.layout == lc.CSV_LAYOUT


def test_stats_csv_without_aggregated_or_with_other_columns_is_an_error():
    with pytest.raises(ValueError, match="no Aggregated row"):
        lc.parse_stats_csv(STATS_CSV.rsplit("\n", 2)[0])
    with pytest.raises(ValueError, match="not Locust's stats CSV"):
        lc.parse_stats_csv("a,b\n1,2\n")


def test_failures_csv_lists_errors_most_frequent_first():
    failures = lc.parse_failures_csv('Method,Name,Error,Occurrences\nGET,/cart,HTTPError 500,2\n'
                                     'POST,/cart/checkout,"CatchResponseError(\'HTTP 500\')",7\n')
    assert [(f.method, f.name, f.occurrences) for f in failures] == [("POST", "/cart/checkout", 7), ("GET", "/cart", 2)]


@pytest.mark.skipif(not locust_installed(), reason="Locust is not installed (pip install 'meshcheck[load]')")
def test_a_table_printed_by_the_installed_locust_reads_the_same():
    """Locust's own get_stats_summary (2.9+) or print_stats (older), in a process of its own."""
    script = textwrap.dedent("""
        from locust.stats import RequestStats
        import locust.stats as stats
        s = RequestStats()
        for i in range(50):
            s.log_request("GET", "/cart", 40 + i, 1000)
        for i in range(7):
            s.log_request("POST", "/cart/checkout", 120 + i, 100)
            if i < 2:
                s.log_error("POST", "/cart/checkout", "HTTPError 500")
        if hasattr(stats, "get_stats_summary"):
            print("\\n".join(stats.get_stats_summary(s, current=False)))
        else:
            for row in [stats.StatsEntry.to_string(e, current=False) for e in s.entries.values()]:
                print(row)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    table = lc.parse_log(done.stdout).latest
    assert table is not None and table.layout == lc.NEW_LAYOUT
    assert [(r.label, r.requests, r.failures) for r in table.rows] == [("GET /cart", 50, 0),
                                                                       ("POST /cart/checkout", 7, 2)]
    assert (table.total.requests, table.total.failures) == (57, 2)
