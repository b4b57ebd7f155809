"""``executemany`` runs as one batch with a single Sync (puff-postgres/src/batch.rs); what
it leaves in the database, the error it raises and its rowcount must still be psycopg2's,
which runs one statement (and, in autocommit, one commit) at a time. Each scenario runs
through ``puff.psycopg2`` and through the real psycopg2 on the same server; the outcomes
are compared."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

import puff.postgres
import puff.psycopg2
from conftest import real_psycopg2

INSERT = "INSERT INTO {t} (id, note) VALUES (%s, %s)"

# (name, parameter sets) - rows 1..4 are in the table before each run.
SCENARIOS = [
    ("all rows fine", [(10 + i, f"n{i}") for i in range(50)]),
    ("duplicate key in the middle", [(10, "a"), (11, "b"), (2, "dup"), (12, "c")]),
    ("duplicate key first", [(3, "dup"), (20, "a")]),
    ("duplicate key last", [(30, "a"), (31, "b"), (4, "dup")]),
    ("check constraint", [(40, "a"), (-1, "negative"), (41, "b")]),
    ("duplicate within the batch", [(50, "a"), (51, "b"), (50, "again")]),
    # Many rows: the answers span many socket reads before the failure.
    (
        "failure after 3000 rows",
        [(100 + i, "x" * 40) for i in range(3000)] + [(1, "dup")],
    ),
    # More than two chunks: later chunks are sent while the first ones run.
    (
        "failure in the first chunk of many",
        [(10, "a"), (2, "dup")] + [(100 + i, "y") for i in range(2000)],
    ),
    (
        "other parameter types after 1000 rows",
        [(100 + i, "z") for i in range(1000)] + [(2000 + i, i) for i in range(700)],
    ),
]

SUCCEEDING = {"all rows fine", "other parameter types after 1000 rows"}


@pytest.fixture
def tables() -> Iterator[tuple[str, str]]:
    base = f"execmany_{os.getpid()}_{time.monotonic_ns()}"
    yield base + "_puff", base + "_real"
    c = puff.postgres.connect()
    c.autocommit = True
    for name in (base + "_puff", base + "_real"):
        c.cursor().execute(f"DROP TABLE IF EXISTS {name}")
    c.close()


def _fresh_table(module: Any, table: str, columns: str) -> tuple[Any, Any]:
    """A connection of ``module`` in autocommit and a cursor, with ``table`` created anew."""
    conn = module.connect(os.environ["PUFF_DEFAULT_POSTGRES_URL"])
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute(f"DROP TABLE IF EXISTS {table}")
    cur.execute(f"CREATE TABLE {table} ({columns})")
    return conn, cur


def _outcome(module: Any, table: str, rows: list[tuple[int, str]], autocommit: bool) -> dict:
    """Run one executemany on a fresh table; what it raised or counted, and the table after
    a commit (or a rollback after an error, as an application would)."""
    conn, cur = _fresh_table(module, table, "id int PRIMARY KEY CHECK (id >= 0), note text")
    try:
        cur.execute(f"INSERT INTO {table} VALUES (1, 'one'), (2, 'two'), (3, 'x'), (4, 'y')")
        conn.autocommit = autocommit
        result: dict[str, Any] = {}
        try:
            cur.executemany(INSERT.format(t=table), rows)
            result["rowcount"] = cur.rowcount
            if not autocommit:
                conn.commit()
        except module.Error as e:
            result["error"] = (type(e).__name__, e.pgcode, str(e).splitlines()[0])
            if not autocommit:
                conn.rollback()
        conn.autocommit = True
        cur.execute(f"SELECT id, note FROM {table} ORDER BY id")
        result["table"] = cur.fetchall()
        return result
    finally:
        conn.close()


@pytest.mark.parametrize("autocommit", [True, False], ids=["autocommit", "transaction"])
@pytest.mark.parametrize(("name", "rows"), SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_executemany_leaves_the_database_as_psycopg2(
    tables: tuple[str, str], name: str, rows: list[tuple[int, str]], autocommit: bool
) -> None:
    real = real_psycopg2()
    ours = _outcome(puff.psycopg2, tables[0], rows, autocommit)
    theirs = _outcome(real, tables[1], rows, autocommit)
    if "error" in ours:
        # The constraint names contain the table's name.
        kind, code, message = ours["error"]
        ours["error"] = (kind, code, message.replace(tables[0], tables[1]))
    assert ours == theirs
    # Not vacuous: the failing scenarios fail, and autocommit keeps the rows before it.
    assert ("error" in theirs) == (name not in SUCCEEDING)


def test_executemany_rows_affected_of_updates(conn: Any, table: str) -> None:
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table} (id int, v int)")
    cur.execute(f"INSERT INTO {table} SELECT i % 3, 0 FROM generate_series(1, 9) AS i")
    cur.executemany(f"UPDATE {table} SET v = v + 1 WHERE id = %s", [(0,), (1,), (7,)])
    assert cur.rowcount == 6
    cur.execute(f"SELECT sum(v) FROM {table}")
    assert cur.fetchone() == (6,)


def _statuses(module: Any, table: str) -> list[Any]:
    """``get_transaction_status()`` along a transaction with a failed statement, a failed
    executemany and a savepoint rolled back to."""
    conn = module.connect(os.environ["PUFF_DEFAULT_POSTGRES_URL"])
    seen: list[Any] = []
    try:
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, note text)")
        seen.append(conn.get_transaction_status())
        conn.autocommit = False
        cur.execute(f"INSERT INTO {table} VALUES (1, 'a')")
        seen.append(conn.get_transaction_status())
        cur.execute("SAVEPOINT s")
        for run in (
            lambda: cur.execute(f"INSERT INTO {table} VALUES (1, 'dup')"),
            lambda: cur.executemany(INSERT.format(t=table), [(2, "b"), (1, "dup")]),
        ):
            try:
                run()
            except module.Error as e:
                seen.append(e.pgcode)
            seen.append(conn.get_transaction_status())
            try:
                cur.execute("SELECT 1")
            except module.Error as e:
                seen.append(e.pgcode)
            seen.append(conn.get_transaction_status())
            cur.execute("ROLLBACK TO SAVEPOINT s")
            seen.append(conn.get_transaction_status())
        conn.commit()
        seen.append(conn.get_transaction_status())
        cur.execute(f"INSERT INTO {table} VALUES (1, 'dup')")
    except module.Error as e:
        seen.append(e.pgcode)
        seen.append(conn.get_transaction_status())
        conn.rollback()
        seen.append(conn.get_transaction_status())
    finally:
        conn.close()
    return seen


def test_transaction_status_after_a_failed_statement_is_psycopg2s(
    tables: tuple[str, str],
) -> None:
    real = real_psycopg2()
    ours = _statuses(puff.psycopg2, tables[0])
    theirs = _statuses(real, tables[1])
    assert ours == theirs
    # Not vacuous: the failures put the transaction in error (3) and were rolled back.
    assert theirs.count(real.extensions.TRANSACTION_STATUS_INERROR) == 5


# Ints and floats inserted as whole VALUES items are sent in their int8 / float8 column's
# type (puff-postgres/src/insert_types.rs); what is stored must stay what psycopg2's
# literals store, in every column type and at the edges.
TYPED_COLUMNS = "i8 int8, i4 int4, i2 int2, f8 float8, f4 float4, n numeric, t text"
TYPED_INSERT = "INSERT INTO {t} (i8, i4, i2, f8, f4, n, t) VALUES (%s, %s, %s, %s, %s, %s, %s)"
TYPED_ROWS: list[tuple[Any, ...]] = [
    (x, 1, 1, y, y if 1e-30 < abs(y) < 1e30 else 1.25, y, x)  # float4: within its range
    for x, y in [
        (0, 0.1),
        (5, 1 / 3),
        (-(2**31), 1e300),
        (2**31 - 1, -0.0),
        (2**40, 5e-324),
        (-(2**63), 2.5),
        (7, float("nan")),
        (8, float("inf")),
        (9, 0.0),
        (10, 123456789.123456789),
    ]
] + [(1, 2**31 - 1, 7, 3, 2**53 + 1, 2**70, 1.5)]


def _stored(module: Any, table: str, rows: list[tuple[Any, ...]]) -> Any:
    conn, cur = _fresh_table(module, table, TYPED_COLUMNS)
    try:
        conn.autocommit = False
        try:
            cur.executemany(TYPED_INSERT.format(t=table), rows)
            conn.commit()
        except module.Error as e:
            conn.rollback()
            return (type(e).__name__, e.pgcode)
        cur.execute(f"SELECT i8, i4, i2, f8::text, f4::text, n::text, t FROM {table}")
        return sorted(cur.fetchall(), key=repr)
    finally:
        conn.close()


@pytest.mark.parametrize(
    "rows",
    [
        TYPED_ROWS,
        # One batch: every set typed alike once retyped (ints as int4 and int8 in the int8
        # column, no NaN/inf (float8-typed as psycopg2 writes them), no -0.0).
        [r for r in TYPED_ROWS[:-1] if math.isfinite(r[3]) and repr(r[3]) != "-0.0"] * 300,
        TYPED_ROWS + [(1, 1, 2**15, 1.0, 1.0, 1.0, "x")],
    ],
    ids=["stored", "batched", "int2 overflow"],
)
def test_retyped_values_store_what_psycopg2_stores(
    tables: tuple[str, str], rows: list[tuple[Any, ...]]
) -> None:
    ours = _stored(puff.psycopg2, tables[0], rows)
    theirs = _stored(real_psycopg2(), tables[1], rows)
    assert ours == theirs
    assert isinstance(theirs, list) == (rows[-1][2] != 2**15)  # not vacuous


def test_streamed_executemany_waits_without_blocking_other_greenlets(table: str) -> None:
    """A long executemany converts its parameter sets while Tokio sends them, at most a few
    chunks ahead (puff-postgres/src/python.rs, CHUNKS_AHEAD). When the statements cannot
    run, here behind a table lock that another greenlet holds, the converting greenlet
    must wait the way a query waits: the lock holder and a ticker keep running, the lock
    is released, and every row lands."""
    setup = puff.postgres.connect()
    setup.autocommit = True
    setup.cursor().execute(f"CREATE TABLE {table} (id int8 PRIMARY KEY, note text)")
    holder = puff.postgres.connect()
    holder.cursor().execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    ticks: list[float] = []
    released: list[float] = []

    def ticker() -> None:
        while not released:
            ticks.append(time.monotonic())
            puff.sleep_ms(10)

    def release_later() -> None:
        puff.sleep_ms(300)
        released.append(time.monotonic())
        holder.rollback()

    rows = [(i, f"row {i}") for i in range(20_000)]
    conn = puff.postgres.connect()
    # Were this thread blocked, the holder could not release: fail instead of hanging.
    conn.cursor().execute("SET lock_timeout = '5s'")
    tick = puff.spawn(ticker)
    release = puff.spawn(release_later)
    started = time.monotonic()
    conn.cursor().executemany(INSERT.format(t=table), rows)
    conn.commit()
    release.join()
    tick.join()
    # It waited for the lock, and the greenlets ran meanwhile (a tick every ~10 ms).
    assert released and released[0] - started >= 0.25
    assert len([t for t in ticks if t > started]) >= 10, len(ticks)
    cur = setup.cursor()
    cur.execute(f"SELECT count(*), sum(id) FROM {table}")
    assert cur.fetchone() == (20_000, sum(range(20_000)))
    for c in (conn, holder, setup):
        c.close()


def test_plain_rows_accepts_exactly_what_the_native_module_binds() -> None:
    """The check (puff-postgres/src/plain_rows.rs) that lets ``executemany`` hand its rows
    over unconverted: exact tuples or lists of the right width whose values are of exactly
    the natively bound types; anything else goes through Python's binding (adapters,
    psycopg2's errors)."""
    import collections
    import decimal
    import enum

    from puff.postgres import _NATIVE_TYPES, _plain_rows

    class Flag(enum.IntEnum):
        ON = 1

    pair = collections.namedtuple("pair", "a b")
    native = [(1, "x"), [2.5, None], (True, b"y"), (decimal.Decimal("1.5"), "z")]
    assert _plain_rows(native, 2)
    assert _plain_rows([], 2)
    for odd in ([(1,)], [(1, 2, 3)], [pair(1, 2)], [{1, 2}], [(Flag.ON, 1)], [(1, {"k": 1})]):
        assert not _plain_rows(native + odd, 2), odd
        # The type seen first in a column is remembered: a later odd one is still caught.
        assert not _plain_rows(odd + native, 2), odd
    assert int in _NATIVE_TYPES and dict not in _NATIVE_TYPES
