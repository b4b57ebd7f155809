"""``executemany`` runs as one batch with a single Sync (puff-postgres/src/batch.rs); what
it leaves in the database, the error it raises and its rowcount must still be psycopg2's,
which runs one statement (and, in autocommit, one commit) at a time. Each scenario runs
through ``puff.psycopg2`` and through the real psycopg2 on the same server; the outcomes
are compared."""

from __future__ import annotations

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


def _outcome(
    module: Any, table: str, rows: list[tuple[int, str]], autocommit: bool
) -> dict:
    """Run one executemany on a fresh table; what it raised or counted, and the table after
    a commit (or a rollback after an error, as an application would)."""
    conn = module.connect(os.environ["PUFF_DEFAULT_POSTGRES_URL"])
    try:
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(
            f"CREATE TABLE {table} (id int PRIMARY KEY CHECK (id >= 0), note text)"
        )
        cur.execute(
            f"INSERT INTO {table} VALUES (1, 'one'), (2, 'two'), (3, 'x'), (4, 'y')"
        )
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
