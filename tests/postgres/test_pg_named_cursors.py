"""Named (server-side) cursors of ``puff.psycopg2``: ``connection.cursor(name=...)`` DECLAREs
a server cursor and FETCHes ``itersize`` rows at a time, so iterating 200,000 wide rows keeps
the process's RSS growth far below the size of the result; rows equal the unnamed cursor's
and the real psycopg2's on the same statements; WITH HOLD cursors keep their pooled
connection until closed, and a pooled connection goes back without leftover cursors."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import in_use_settles_at, on_every_pooled_connection, real_connect, rss_mb

import puff.psycopg2 as shim
from puff import postgres

ROWS = 200_000
RSS_LIMIT_MB = 50


@pytest.fixture(params=["puff", "psycopg2"])
def either(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A connection of the shim, then of the real psycopg2: the same test runs on both."""
    c = shim.connect() if request.param == "puff" else real_connect()
    yield c
    c.close()


SERIES = "SELECT g, g::text, g * 0.5 FROM generate_series(1, %s) g WHERE g > %s"


def test_fetch_methods_as_psycopg2(either: Any) -> None:
    cur = either.cursor("walk")
    assert (cur.name, cur.withhold, cur.scrollable, cur.itersize) == ("walk", False, None, 2000)
    cur.execute(SERIES, (10, 2))
    assert cur.description is None  # psycopg2: known after the first FETCH
    assert cur.fetchone() == (3, "3", 1.5)
    assert [c.name for c in cur.description] == ["g", "g", "?column?"]
    assert cur.fetchmany(3) == [(4, "4", 2.0), (5, "5", 2.5), (6, "6", 3.0)]
    cur.scroll(1)
    assert cur.fetchall() == [(8, "8", 4.0), (9, "9", 4.5), (10, "10", 5.0)]
    assert (cur.fetchone(), cur.fetchmany(2), cur.fetchall()) == (None, [], [])
    with pytest.raises(either.ProgrammingError, match="more than once"):
        cur.execute("SELECT 1")
    cur.close()
    assert cur.closed
    either.rollback()


def test_iteration_uses_itersize(either: Any) -> None:
    cur = either.cursor("it")
    cur.itersize = 3
    cur.execute(SERIES, (7, 0))
    assert [r[0] for r in cur] == list(range(1, 8))
    either.rollback()


def test_scrollable(either: Any) -> None:
    cur = either.cursor("sc", scrollable=True)
    cur.itersize = 1  # each fetchone a FETCH, so scroll() has to MOVE the server cursor
    cur.execute("SELECT generate_series(1, 5)")
    assert cur.fetchone() == (1,)
    cur.scroll(2)
    assert cur.fetchone() == (4,)
    cur.scroll(0, "absolute")
    assert cur.fetchone() == (1,)
    cur.scroll(-1)
    assert cur.fetchone() == (1,)
    either.rollback()


def test_misuse_as_psycopg2(either: Any) -> None:
    cur = either.cursor("bad")
    with pytest.raises(either.ProgrammingError, match="executemany"):
        cur.executemany("SELECT %s", [(1,), (2,)])
    either.rollback()
    either.autocommit = True
    with pytest.raises(either.ProgrammingError, match="outside of transactions"):
        either.cursor("auto").execute("SELECT 1")
    either.autocommit = False
    cur = either.cursor("gone")
    cur.execute("SELECT 1")
    either.commit()
    # The server cursor ended with its transaction: FETCH fails (psycopg2 says so itself).
    with pytest.raises(either.ProgrammingError):
        cur.fetchall()
    either.rollback()


def test_declare_binds_parameters_and_quotes_the_name(either: Any) -> None:
    cur = either.cursor('we"ird name')
    cur.execute("SELECT %s::text || %s", ("a'b", "c"))
    assert cur.fetchall() == [("a'bc",)]
    inner = either.cursor()
    inner.execute("SELECT name FROM pg_cursors WHERE name <> ''")
    assert inner.fetchall() == [('we"ird name',)]
    either.rollback()


def test_withhold_in_autocommit_keeps_the_pooled_connection() -> None:
    assert in_use_settles_at(0)
    before = 0
    conn = shim.connect()
    conn.autocommit = True
    cur = conn.cursor("held", withhold=True)
    cur.execute("SELECT generate_series(1, 10)")
    assert postgres.pool_status()["in_use"] == before + 1
    assert cur.fetchmany(4) == [(1,), (2,), (3,), (4,)]
    probe = conn.cursor()
    probe.execute("SELECT name, is_holdable FROM pg_cursors WHERE name <> ''")
    assert probe.fetchall() == [("held", True)]
    pid = conn.get_backend_pid()
    assert [r[0] for r in cur] == [5, 6, 7, 8, 9, 10]
    cur.close()
    assert in_use_settles_at(before)
    probe.execute("SELECT pg_backend_pid(), array(SELECT name FROM pg_cursors WHERE name <> '')")
    assert probe.fetchone()[1] == [], (pid, probe.query)
    conn.close()


def test_a_forgotten_cursor_does_not_reach_the_next_user() -> None:
    """An unclosed WITH HOLD cursor dies with its DB-API connection: the pooled connection
    runs CLOSE ALL before anyone else gets it (the pool here has connections to spare, so
    look at every one of them)."""
    conn = shim.connect()
    conn.autocommit = True
    cur = conn.cursor("forgotten", withhold=True)
    cur.execute("SELECT 1")
    pid = conn.get_backend_pid()
    conn.close()
    sql = "SELECT pg_backend_pid(), array(SELECT name FROM pg_cursors WHERE name <> '')"
    for got_pid, cursors in on_every_pooled_connection(sql):
        assert cursors == [], f"backend {got_pid} (was {pid}) still has a cursor"


def _digest(rows: Iterator[tuple[Any, ...]]) -> tuple[int, str]:
    h = hashlib.sha256()
    n = 0
    for row in rows:
        h.update(repr(row).encode())
        n += 1
    return n, h.hexdigest()


def test_rows_stream_in_bounded_memory() -> None:
    """200,000 rows of ~400 bytes (about 90 MB as Python objects) stream with the RSS
    growing by less than 50 MB (tests/django/test_streaming.py does 1,000,000 rows through
    Django's QuerySet.iterator())."""
    conn = shim.connect()
    sql = "SELECT g, repeat(md5(g::text), 12) || g FROM generate_series(1, %s) g ORDER BY g"
    cur = conn.cursor("wide")
    cur.execute(sql, (ROWS,))
    base = rss_mb()
    peak = base
    h = hashlib.sha256()
    n = 0
    for row in cur:
        h.update(repr(row).encode())
        n += 1
        if n % 50_000 == 0:
            peak = max(peak, rss_mb())
    cur.close()
    streamed = (n, h.hexdigest())
    growth = peak - base
    print(f"\nnamed cursor, {n} rows: RSS growth {growth:.1f} MB")
    assert n == ROWS
    assert growth < RSS_LIMIT_MB, f"RSS grew {growth:.1f} MB while streaming {n} rows"
    # The same rows as the unnamed cursor, which fetches them all at once.
    plain = conn.cursor()
    plain.execute(sql, (ROWS,))
    everything = plain.fetchall()
    # The bound means something: holding the whole result takes more than it.
    assert rss_mb() - base > RSS_LIMIT_MB
    assert _digest(iter(everything)) == streamed
    conn.rollback()
    conn.close()


def test_pg_cursors_lists_the_named_cursors_only(either: Any) -> None:
    """A query of ``pg_cursors`` sees the open named cursors and not itself: psycopg2 sends
    a statement without parameters as a simple query, whose portal ``pg_cursors`` hides
    (Django's server-side cursor tests count these rows)."""
    cur = either.cursor("listed")
    cur.execute(SERIES, (5, 0))
    cur.fetchone()
    plain = either.cursor()
    plain.execute("SELECT name, is_holdable, is_binary FROM pg_cursors;")
    assert plain.fetchall() == [("listed", False, False)]
    cur.close()
    plain.execute("SELECT count(*) FROM pg_cursors")
    assert plain.fetchone() == (0,)
    either.rollback()
