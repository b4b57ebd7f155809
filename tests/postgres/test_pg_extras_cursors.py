"""``psycopg2.extras`` cursors and batch helpers of ``puff.psycopg2``, each compared with
the real psycopg2 (psycopg2-binary) running the same statements on the same server:
``DictCursor``, ``RealDictCursor``, ``NamedTupleCursor`` (through ``cursor_factory=`` on
``connect`` and on ``cursor``, on plain and named cursors), the ``*Connection`` classes,
``execute_batch`` and ``execute_values``."""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import puff.psycopg2 as shim
import puff.psycopg2.extras as shim_extras

try:  # the real one, from psycopg2-binary (requirements-dev.txt)
    import psycopg2 as real_psycopg2
    import psycopg2.extras as real_extras
except ImportError:  # pragma: no cover
    real_psycopg2 = real_extras = None

QUERY = "SELECT g AS id, 'n' || g AS name, g * 1.5::float8 AS \"score x\", g AS id FROM generate_series(1, 4) g"


def both() -> list[tuple[Any, Any]]:
    """(module, extras) of the shim and of the real psycopg2."""
    if real_psycopg2 is None or real_psycopg2 is shim:
        pytest.fail("psycopg2-binary is not installed: run `cargo xtask setup`", pytrace=False)
    return [(shim, shim_extras), (real_psycopg2, real_extras)]


def connect(module: Any, **kwargs: Any) -> Any:
    if module is shim:
        return shim.connect(**kwargs)
    return module.connect(os.environ["PUFF_DEFAULT_POSTGRES_URL"], **kwargs)


def on_both(run: Callable[[Any, Any], Any], **connect_kwargs: Any) -> tuple[Any, Any]:
    """``run(connection, extras)`` on the shim and on psycopg2: both outcomes."""
    out = []
    for module, extras in both():
        factory = connect_kwargs.get("cursor_factory")
        kwargs = dict(connect_kwargs)
        if isinstance(factory, str):
            kwargs["cursor_factory"] = getattr(extras, factory)
        conn = connect(module, **kwargs)
        try:
            out.append(run(conn, extras))
        finally:
            conn.rollback()
            conn.close()
    return out[0], out[1]


def rows_of(factory: str, named: bool) -> Callable[[Any, Any], Any]:
    def run(conn: Any, extras: Any) -> Any:
        cur = conn.cursor("rows" if named else None, cursor_factory=getattr(extras, factory))
        cur.execute(QUERY)
        one = cur.fetchone()
        many = cur.fetchmany(2)
        rest = cur.fetchall()
        return one, many, rest

    return run


@pytest.mark.parametrize("named", [False, True], ids=["plain", "named"])
def test_dict_cursor(named: bool) -> None:
    ours, theirs = on_both(rows_of("DictCursor", named))
    assert ours == theirs
    one = ours[0]
    assert isinstance(one, shim_extras.DictRow) and isinstance(one, list)
    # By position and by name (a repeated name is its last column), as mappings do.
    assert (one[0], one["name"], one["score x"], one["id"]) == (1, "n1", 1.5, 1)
    assert list(one.keys()) == ["id", "name", "score x"]
    assert list(one.items()) == [("id", 1), ("name", "n1"), ("score x", 1.5)]
    assert "name" in one and "nope" not in one and one.get("nope", 7) == 7
    assert one.copy() == {"id": 1, "name": "n1", "score x": 1.5}
    back = pickle.loads(pickle.dumps(one))
    assert back == one and back["name"] == "n1"


@pytest.mark.parametrize("named", [False, True], ids=["plain", "named"])
def test_real_dict_cursor(named: bool) -> None:
    ours, theirs = on_both(rows_of("RealDictCursor", named))
    assert ours == theirs
    assert ours[0] == {"id": 1, "name": "n1", "score x": 1.5}
    assert isinstance(ours[0], dict)


@pytest.mark.parametrize("named", [False, True], ids=["plain", "named"])
def test_named_tuple_cursor(named: bool) -> None:
    def run(conn: Any, extras: Any) -> Any:
        cur = conn.cursor("nt" if named else None, cursor_factory=extras.NamedTupleCursor)
        cur.execute("SELECT 1 AS a, 2 AS \"b c\", 3 AS _d, 4 AS \"9e\"")
        row = cur.fetchone()
        return row, type(row).__name__, row._fields

    ours, theirs = on_both(run)
    assert ours == theirs
    assert ours[0].a == 1 and ours[0].b_c == 2


@pytest.mark.parametrize("factory", ["DictCursor", "RealDictCursor", "NamedTupleCursor"])
def test_cursor_factory_on_connect_and_iteration(factory: str) -> None:
    def run(conn: Any, extras: Any) -> Any:
        cur = conn.cursor()
        assert isinstance(cur, getattr(extras, factory))
        cur.execute(QUERY.removesuffix(", g AS id FROM generate_series(1, 4) g") + " FROM generate_series(1, 4) g")
        return [tuple(r.values()) if isinstance(r, dict) else list(r) for r in cur]

    ours, theirs = on_both(run, cursor_factory=factory)
    assert ours == theirs


@pytest.mark.parametrize(
    ("connection", "cursor"),
    [
        ("DictConnection", "DictCursor"),
        ("RealDictConnection", "RealDictCursor"),
        ("NamedTupleConnection", "NamedTupleCursor"),
    ],
)
def test_connection_classes(connection: str, cursor: str) -> None:
    def run(conn: Any, extras: Any) -> Any:
        assert isinstance(conn, getattr(extras, connection))
        cur = conn.cursor()
        assert isinstance(cur, getattr(extras, cursor))
        cur.execute("SELECT 1 AS x")
        return cur.fetchall()

    results = []
    for module, extras in both():
        factory = getattr(extras, connection)
        conn = (
            shim.connect(connection_factory=factory)
            if module is shim
            else module.connect(os.environ["PUFF_DEFAULT_POSTGRES_URL"], connection_factory=factory)
        )
        try:
            results.append(run(conn, extras))
        finally:
            conn.close()
    assert results[0] == results[1]


@pytest.fixture
def table() -> Iterator[str]:
    name = f"extras_{os.getpid()}_{time.monotonic_ns()}"
    yield name
    conn = shim.connect()
    conn.autocommit = True
    conn.cursor().execute(f"DROP TABLE IF EXISTS {name}_puff, {name}_real")


def _fill(table: str, load: Callable[[Any, Any, str], Any]) -> tuple[Any, Any]:
    """``load(cursor, extras, table)`` into a fresh table per driver: what it returned and
    the table's rows afterwards, for the shim and for psycopg2."""
    out = []
    for (module, extras), suffix in zip(both(), ("puff", "real"), strict=True):
        conn = connect(module)
        name = f"{table}_{suffix}"
        try:
            cur = conn.cursor()
            cur.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, name text, at date)")
            returned = load(cur, extras, name)
            cur.execute(f"SELECT * FROM {name} ORDER BY id")
            out.append((returned, cur.fetchall()))
            conn.commit()
        finally:
            conn.close()
    return out[0], out[1]


ROWS = [(i, f"name {i}" if i % 3 else None, None) for i in range(1, 251)]


def test_execute_batch(table: str) -> None:
    def load(cur: Any, extras: Any, name: str) -> Any:
        extras.execute_batch(cur, f"INSERT INTO {name} (id, name) VALUES (%s, %s)", [r[:2] for r in ROWS], page_size=40)
        extras.execute_batch(
            cur, f"UPDATE {name} SET name = %(n)s WHERE id = %(id)s", [{"n": "x", "id": 7}, {"n": "y", "id": 8}]
        )
        return None

    ours, theirs = _fill(table, load)
    assert ours == theirs
    assert len(ours[1]) == len(ROWS)


def test_execute_values(table: str) -> None:
    def load(cur: Any, extras: Any, name: str) -> Any:
        extras.execute_values(cur, f"INSERT INTO {name} (id, name) VALUES %s", [r[:2] for r in ROWS[:100]], page_size=30)
        got = extras.execute_values(
            cur,
            f"INSERT INTO {name} (id, name, at) VALUES %s RETURNING id, name || '%%'",
            [{"id": r[0], "name": r[1]} for r in ROWS[100:]],
            template="(%(id)s, %(name)s, '2020-01-02')",
            page_size=70,
            fetch=True,
        )
        with pytest.raises(ValueError):
            extras.execute_values(cur, f"INSERT INTO {name} VALUES (%s, %s)", [(1, 2)])
        return got

    ours, theirs = _fill(table, load)
    assert ours == theirs
    assert len(ours[0]) == 150
