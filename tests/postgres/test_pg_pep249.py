"""PEP 249 (DB-API 2.0) conformance of ``puff.postgres`` and ``puff.psycopg2``, written from
the PEP's text, plus differential checks against the real psycopg2 (``psycopg2-binary``,
pinned in python/requirements-dev.txt) on the same private server: description rows and
type codes, rowcount values and error classes must match what psycopg2 reports.

Each rule is checked on both Puff modules (the ``db`` fixture); where psycopg2 is the
reference, the same calls run through psycopg2 and the outcomes are compared."""

from __future__ import annotations

import datetime
import importlib
import os
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

import puff.postgres
import puff.psycopg2

try:  # the real one, from psycopg2-binary (the shim is `puff.psycopg2`)
    import psycopg2 as real_psycopg2
except ImportError:  # pragma: no cover - it is in requirements-dev.txt
    real_psycopg2 = None



@pytest.fixture
def _real_psycopg2() -> None:
    """The comparisons need the real psycopg2: a missing one is a broken set-up, not a skip."""
    if real_psycopg2 is None or real_psycopg2 is puff.psycopg2:
        pytest.fail(
            "psycopg2-binary is not installed in the venv: run `cargo xtask setup` "
            "(python/requirements-dev.txt pins it)",
            pytrace=False,
        )


needs_psycopg2 = pytest.mark.usefixtures("_real_psycopg2")

MODULES = {"puff.postgres": puff.postgres, "puff.psycopg2": puff.psycopg2}


def _connect(module: ModuleType) -> Any:
    if module is real_psycopg2:
        return real_psycopg2.connect(os.environ["PUFF_DEFAULT_POSTGRES_URL"])
    return module.connect()


@pytest.fixture(params=list(MODULES))
def db(request: pytest.FixtureRequest) -> ModuleType:
    """Each Puff DB-API module in turn."""
    return MODULES[request.param]


@pytest.fixture
def dbconn(db: ModuleType) -> Iterator[Any]:
    c = _connect(db)
    yield c
    c.close()


@pytest.fixture
def scratch() -> Iterator[str]:
    """A fresh table name (any module may create it), dropped afterwards."""
    name = f"pep249_{os.getpid()}_{time.monotonic_ns()}"
    yield name
    c = puff.postgres.connect()
    c.autocommit = True
    c.cursor().execute(f"DROP TABLE IF EXISTS {name}")
    c.close()


# ---- module interface -------------------------------------------------------------------

# PEP 249's subclasses of DatabaseError.
DATABASE_ERRORS = (
    "DataError",
    "OperationalError",
    "IntegrityError",
    "InternalError",
    "ProgrammingError",
    "NotSupportedError",
)


def test_module_globals(db: ModuleType) -> None:
    assert db.apilevel == "2.0"
    assert db.threadsafety in (0, 1, 2, 3)
    assert db.paramstyle in ("qmark", "numeric", "named", "format", "pyformat")
    assert db.paramstyle == "pyformat"  # what the module implements (%s and %(name)s)


def test_exception_hierarchy(db: ModuleType) -> None:
    assert issubclass(db.Warning, Exception)
    assert issubclass(db.Error, Exception)
    assert not issubclass(db.Warning, db.Error)
    assert issubclass(db.InterfaceError, db.Error)
    assert issubclass(db.DatabaseError, db.Error)
    assert not issubclass(db.InterfaceError, db.DatabaseError)
    for name in DATABASE_ERRORS:
        assert issubclass(getattr(db, name), db.DatabaseError), name


def test_connection_exposes_the_exceptions(dbconn: Any, db: ModuleType) -> None:
    # Optional DB-API extension (psycopg2 has it): Connection.Error etc.
    for name in ("Warning", "Error", "InterfaceError", "DatabaseError", "ProgrammingError"):
        assert getattr(dbconn, name) is getattr(db, name)


# ---- constructors and type objects ----------------------------------------------------


def _roundtrip(conn: Any, sql: str, value: object) -> object:
    cur = conn.cursor()
    cur.execute(sql, [value])
    row = cur.fetchone()
    assert row is not None
    return row[0]


def test_date_time_timestamp_constructors(dbconn: Any, db: ModuleType) -> None:
    assert _roundtrip(dbconn, "SELECT %s::date", db.Date(2002, 12, 25)) == datetime.date(
        2002, 12, 25
    )
    assert _roundtrip(dbconn, "SELECT %s::time", db.Time(13, 45, 30)) == datetime.time(13, 45, 30)
    assert _roundtrip(
        dbconn, "SELECT %s::timestamp", db.Timestamp(2002, 12, 25, 13, 45, 30)
    ) == datetime.datetime(2002, 12, 25, 13, 45, 30)


def test_from_ticks_constructors(db: ModuleType) -> None:
    ticks = 1_700_000_000.25
    local = datetime.datetime.fromtimestamp(ticks)
    assert db.DateFromTicks(ticks) == local.date()
    assert db.TimeFromTicks(ticks) == local.time()
    if db is puff.psycopg2:  # as psycopg2: aware, in the local time zone
        assert db.TimestampFromTicks(ticks) == local.astimezone()
        assert db.TimestampFromTicks(ticks).tzinfo is not None
    else:
        assert db.TimestampFromTicks(ticks) == local


@needs_psycopg2
def test_constructors_match_psycopg2(db: ModuleType) -> None:
    """Same values as psycopg2's constructors (which wrap them in adapters: `.adapted`)."""
    ticks = 1_234_567_890.5
    for name, args in [
        ("Date", (2002, 12, 25)),
        ("Time", (13, 45, 30)),
        ("Timestamp", (2002, 12, 25, 13, 45, 30)),
        ("DateFromTicks", (ticks,)),
        ("TimeFromTicks", (ticks,)),
    ]:
        assert getattr(db, name)(*args) == getattr(real_psycopg2, name)(*args).adapted, name
    if db is puff.psycopg2:
        assert db.TimestampFromTicks(ticks) == real_psycopg2.TimestampFromTicks(ticks).adapted


def test_binary_constructor(dbconn: Any, db: ModuleType) -> None:
    data = bytes(range(256))
    assert bytes(_roundtrip(dbconn, "SELECT %s::bytea", db.Binary(data))) == data  # type: ignore[call-overload]
    assert bytes(_roundtrip(dbconn, "SELECT %s::bytea", db.Binary(bytearray(b"\x00ab")))) == (  # type: ignore[call-overload]
        b"\x00ab"
    )


TYPE_SAMPLES = [
    ("STRING", "'x'::text"),
    ("STRING", "'x'::varchar(3)"),
    ("STRING", "'x'::char(2)"),
    ("BINARY", "'\\x00'::bytea"),
    ("NUMBER", "1::int2"),
    ("NUMBER", "1::int4"),
    ("NUMBER", "1::int8"),
    ("NUMBER", "1.5::float8"),
    ("NUMBER", "1.5::numeric"),
    ("DATETIME", "now()::timestamp"),
    ("ROWID", "1::oid"),
]


@pytest.mark.parametrize(("type_object", "expr"), TYPE_SAMPLES)
def test_type_objects_compare_equal_to_type_codes(
    dbconn: Any, db: ModuleType, type_object: str, expr: str
) -> None:
    cur = dbconn.cursor()
    cur.execute(f"SELECT {expr}")
    code = cur.description[0][1]
    obj = getattr(db, type_object)
    assert code == obj and obj == code
    assert not (code != obj)
    others = {"STRING", "BINARY", "NUMBER", "DATETIME", "ROWID"} - {type_object}
    for other in others:
        assert code != getattr(db, other), (expr, other)


def test_puff_postgres_datetime_covers_every_date_time_type() -> None:
    """PEP 249: DATETIME describes date/time columns (psycopg2's, and so the shim's, is
    `timestamp` only)."""
    conn = puff.postgres.connect()
    try:
        cur = conn.cursor()
        cur.execute(
            "SELECT now(), now()::timestamp, current_date, localtime, current_time, "
            "interval '1 day'"
        )
        assert all(c.type_code == puff.postgres.DATETIME for c in cur.description)
    finally:
        conn.close()


@needs_psycopg2
def test_type_objects_match_psycopg2(db: ModuleType) -> None:
    """Every OID psycopg2's type objects accept, and no other, is accepted by Puff's
    (except puff.postgres's DATETIME, which also takes the other date/time types)."""
    for name in ("STRING", "BINARY", "NUMBER", "DATETIME", "ROWID"):
        ours, theirs = getattr(db, name), getattr(real_psycopg2, name)
        differ = [oid for oid in range(0, 5000) if (oid == ours) != (oid == theirs)]
        if db is puff.postgres and name == "DATETIME":
            assert differ == [1082, 1083, 1184, 1186, 1266], name
        else:
            assert differ == [], name


# ---- cursor attributes ----------------------------------------------------------------


def test_description_and_rowcount_before_execute(dbconn: Any) -> None:
    cur = dbconn.cursor()
    assert cur.description is None
    assert cur.rowcount == -1
    assert cur.arraysize == 1


def test_description_rows(dbconn: Any) -> None:
    cur = dbconn.cursor()
    cur.execute("SELECT 1::int4 AS a, 'x'::text AS b")
    d = cur.description
    assert len(d) == 2
    for column in d:
        assert len(column) == 7
        name, type_code, display_size, internal_size, precision, scale, null_ok = column
        assert isinstance(name, str) and isinstance(type_code, int)
    assert [c[0] for c in d] == ["a", "b"]
    assert d[0].name == "a" and d[0].type_code == 23
    assert d[1].name == "b" and d[1].type_code == 25


def test_column_behaves_like_the_7_tuple(dbconn: Any, db: ModuleType, scratch: str) -> None:
    dbconn.autocommit = True
    cur = dbconn.cursor()
    cur.execute(f"CREATE TABLE {scratch} (id int4, price numeric(10, 2), label varchar(20))")
    cur.execute(f"SELECT id, price, label FROM {scratch}")
    price = cur.description[1]
    as_tuple = ("price", 1700, None, 10, 10, 2, None)
    assert tuple(price) == as_tuple
    assert price == as_tuple and as_tuple == price
    assert price[0] == "price" and price[-1] is None and price[1:3] == (1700, None)
    assert list(price) == list(as_tuple)
    assert (price.name, price.type_code, price.display_size, price.internal_size) == (
        "price",
        1700,
        None,
        10,
    )
    assert (price.precision, price.scale, price.null_ok) == (10, 2, None)
    assert isinstance(price.table_oid, int) and price.table_column == 2
    assert cur.description[2].internal_size == 20
    assert cur.description[0].internal_size == 4
    assert "price" in repr(price)
    with pytest.raises(IndexError):
        price[7]
    with pytest.raises(AttributeError):
        price.name = "other"  # type: ignore[misc]


def test_description_follows_the_columns(dbconn: Any, scratch: str) -> None:
    """Descriptions are cached per statement: a changed table must not reuse the old one."""
    dbconn.autocommit = True
    cur = dbconn.cursor()
    cur.execute(f"CREATE TABLE {scratch} (a int4)")
    cur.execute(f"SELECT * FROM {scratch}")
    assert [c.name for c in cur.description] == ["a"]
    first = cur.description
    cur.execute(f"SELECT * FROM {scratch}")
    assert cur.description == first
    cur.execute(f"ALTER TABLE {scratch} ADD COLUMN b text")
    for _ in range(5):  # a stale cached plan fails once per pooled connection that has it
        try:
            cur.execute(f"SELECT * FROM {scratch}")
            break
        except puff.postgres.NotSupportedError:
            continue
    assert [(c.name, c.type_code) for c in cur.description] == [("a", 23), ("b", 25)]


def test_no_description_and_rowcount_rules(dbconn: Any, scratch: str) -> None:
    dbconn.autocommit = True
    cur = dbconn.cursor()
    cur.execute(f"CREATE TABLE {scratch} (a int4)")
    assert cur.description is None
    assert cur.rowcount == -1  # DDL: not determinable
    cur.execute(f"INSERT INTO {scratch} VALUES (1), (2), (3)")
    assert cur.description is None
    assert cur.rowcount == 3
    cur.execute(f"UPDATE {scratch} SET a = a WHERE a > 5")
    assert cur.rowcount == 0
    cur.execute(f"SELECT a FROM {scratch}")
    assert cur.description is not None
    assert cur.rowcount == 3
    cur.executemany(f"INSERT INTO {scratch} VALUES (%s)", [(4,), (5,)])
    assert cur.rowcount == 2
    assert cur.description is None
    cur.execute("SET search_path TO public")
    assert cur.rowcount == -1


def test_fetch_without_result_set_is_an_error(dbconn: Any, db: ModuleType) -> None:
    cur = dbconn.cursor()
    with pytest.raises(db.Error):
        cur.fetchone()
    cur.execute("SET search_path TO public")
    with pytest.raises(db.Error):
        cur.fetchall()


def test_fetchmany_uses_arraysize(dbconn: Any) -> None:
    cur = dbconn.cursor()
    cur.execute("SELECT g FROM generate_series(1, 7) g")
    assert cur.fetchmany() == [(1,)]
    cur.arraysize = 3
    assert cur.fetchmany() == [(2,), (3,), (4,)]
    assert cur.fetchmany(2) == [(5,), (6,)]
    assert cur.fetchmany(5) == [(7,)]
    assert cur.fetchmany() == []
    assert cur.fetchone() is None


def test_setinputsizes_setoutputsize_are_no_ops(dbconn: Any) -> None:
    cur = dbconn.cursor()
    cur.setinputsizes([10, None])
    cur.setoutputsize(100)
    cur.setoutputsize(100, 0)
    cur.execute("SELECT %s::int", [5])
    assert cur.fetchall() == [(5,)]


def test_iteration(dbconn: Any) -> None:
    cur = dbconn.cursor()
    cur.execute("SELECT g FROM generate_series(1, 3) g")
    assert iter(cur) is cur
    assert [row for row in cur] == [(1,), (2,), (3,)]


def test_callproc(dbconn: Any, scratch: str) -> None:
    dbconn.autocommit = True
    cur = dbconn.cursor()
    cur.execute(f"CREATE FUNCTION {scratch}_add(a int, b int) RETURNS int AS 'SELECT a + b' LANGUAGE sql")
    try:
        params = (2, 3)
        assert tuple(cur.callproc(f"{scratch}_add", params)) == params
        assert cur.fetchall() == [(5,)]
        assert cur.rowcount == 1
    finally:
        cur.execute(f"DROP FUNCTION {scratch}_add(int, int)")


def test_nextset_is_not_supported(dbconn: Any, db: ModuleType) -> None:
    cur = dbconn.cursor()
    cur.execute("SELECT 1")
    with pytest.raises(db.NotSupportedError):
        cur.nextset()


# ---- closed cursors and connections -----------------------------------------------------

CURSOR_CALLS: dict[str, Callable[[Any], object]] = {
    "execute": lambda c: c.execute("SELECT 1"),
    "executemany": lambda c: c.executemany("SELECT %s", [(1,)]),
    "executemany([])": lambda c: c.executemany("SELECT %s", []),
    "fetchone": lambda c: c.fetchone(),
    "fetchmany": lambda c: c.fetchmany(),
    "fetchall": lambda c: c.fetchall(),
    "callproc": lambda c: c.callproc("version"),
    "nextset": lambda c: c.nextset(),
    "setinputsizes": lambda c: c.setinputsizes([1]),
    "setoutputsize": lambda c: c.setoutputsize(1),
    "iteration": lambda c: next(iter(c)),
    "close": lambda c: c.close(),
}

# psycopg2 extensions (the shim has them, puff.postgres does not).
SHIM_CURSOR_CALLS: dict[str, Callable[[Any], object]] = {
    "scroll": lambda c: c.scroll(0),
    "mogrify": lambda c: c.mogrify("SELECT %s", [1]),
    "copy_expert": lambda c: c.copy_expert("COPY (SELECT 1) TO STDOUT", None),
}

CONNECTION_CALLS: dict[str, Callable[[Any], object]] = {
    "commit": lambda c: c.commit(),
    "rollback": lambda c: c.rollback(),
    "cursor": lambda c: c.cursor(),
    "close": lambda c: c.close(),
    "with": lambda c: c.__enter__(),
}


def _outcome(call: Callable[[Any], object], target: Any, module: ModuleType) -> str:
    """What a call did, as an error class name in DB-API terms (or "ok")."""
    try:
        call(target)
    except module.Error as e:
        for name in ("InterfaceError", "NotSupportedError", "ProgrammingError"):
            if isinstance(e, getattr(module, name)):
                return name
        return type(e).__name__
    except Exception as e:
        return f"non-DB-API {type(e).__name__}"
    return "ok"


def _closed_cursor_outcomes(module: ModuleType) -> dict[str, str]:
    calls = CURSOR_CALLS if module is puff.postgres else {**CURSOR_CALLS, **SHIM_CURSOR_CALLS}
    conn = _connect(module)
    try:
        out = {}
        for name, call in calls.items():
            cur = conn.cursor()
            cur.execute("SELECT 1")
            cur.close()
            out[name] = _outcome(call, cur, module)
        return out
    finally:
        conn.close()


def _closed_connection_outcomes(module: ModuleType) -> dict[str, str]:
    out = {}
    for name, call in CONNECTION_CALLS.items():
        conn = _connect(module)
        conn.close()
        out[name] = _outcome(call, conn, module)
    # A cursor made before its connection closed.
    conn = _connect(module)
    cur = conn.cursor()
    conn.close()
    out["cursor.execute"] = _outcome(lambda c: c.execute("SELECT 1"), cur, module)
    return out


def test_closed_cursor_raises_interface_error(db: ModuleType) -> None:
    outcomes = _closed_cursor_outcomes(db)
    for name in ("execute", "executemany", "fetchone", "fetchmany", "fetchall", "iteration"):
        assert outcomes[name] == "InterfaceError", (name, outcomes)
    assert outcomes["close"] == "ok"


def test_closed_connection_raises_interface_error(db: ModuleType) -> None:
    outcomes = _closed_connection_outcomes(db)
    for name in ("commit", "rollback", "cursor", "cursor.execute"):
        assert outcomes[name] == "InterfaceError", (name, outcomes)
    assert outcomes["close"] == "ok"  # closing twice is allowed


@needs_psycopg2
def test_closed_objects_match_psycopg2(db: ModuleType) -> None:
    ours, theirs = _closed_cursor_outcomes(db), _closed_cursor_outcomes(real_psycopg2)
    assert ours == {name: theirs[name] for name in ours}
    assert _closed_connection_outcomes(db) == _closed_connection_outcomes(real_psycopg2)


# ---- context managers -------------------------------------------------------------------


def test_connection_context_manager_commits_or_rolls_back(db: ModuleType, scratch: str) -> None:
    conn = _connect(db)
    try:
        with conn:
            conn.cursor().execute(f"CREATE TABLE {scratch} (a int4)")
        with pytest.raises(ZeroDivisionError), conn:
            conn.cursor().execute(f"INSERT INTO {scratch} VALUES (1)")
            1 / 0  # noqa: B018
        with conn:
            conn.cursor().execute(f"INSERT INTO {scratch} VALUES (2)")
        assert not conn.closed  # as psycopg2: `with conn` ends the transaction only
        cur = conn.cursor()
        cur.execute(f"SELECT a FROM {scratch}")
        assert cur.fetchall() == [(2,)]
        conn.rollback()
    finally:
        conn.close()


def test_cursor_context_manager_closes(dbconn: Any) -> None:
    with dbconn.cursor() as cur:
        cur.execute("SELECT 1")
    assert cur.closed


# ---- differential: description, rowcount, errors as psycopg2 gives them ---------------

SCRIPT = [
    "CREATE TABLE {t} (id serial PRIMARY KEY, i2 int2, i8 int8, f4 float4, f8 float8, "
    "n numeric, n2 numeric(12, 3), vc varchar(40), ch char(5), tx text, b bool, by bytea, "
    "d date, tm time, ttz timetz, ts timestamp, tstz timestamptz, iv interval, u uuid, "
    "j json, jb jsonb, ia int4[], ta text[], o oid, ip inet)",
    "INSERT INTO {t} (i2, tx) VALUES (1, 'a'), (2, 'b'), (3, 'c')",
    "SELECT * FROM {t}",
    "SELECT id, tx AS renamed, i2 + 1 AS expr, count(*) OVER () FROM {t}",
    "SELECT 'lit', 1, 1.5, NULL, now(), ARRAY[1, 2]",
    "UPDATE {t} SET b = true WHERE i2 >= 2",
    "UPDATE {t} SET b = true WHERE i2 > 100",
    "DELETE FROM {t} WHERE i2 = 3",
    "INSERT INTO {t} (i2) VALUES (9) RETURNING id, i2",
    "WITH x AS (UPDATE {t} SET i8 = 1 RETURNING 1) SELECT count(*) FROM x",
    "SELECT * FROM {t} WHERE false",
    "CREATE INDEX {t}_i2 ON {t} (i2)",
    "ALTER TABLE {t} ADD COLUMN extra int",
    "SET search_path TO public",
    "SHOW search_path",
    "DO $$ BEGIN END $$",
    "CREATE TABLE {t}_tmp AS SELECT 1 AS one FROM generate_series(1, 4)",
    "TRUNCATE {t}_tmp",
    "DROP TABLE {t}_tmp",
]


def _describe(column: Any) -> tuple[object, ...]:
    return (*tuple(column), column.table_oid is not None, column.table_column)


def _run_script(module: ModuleType, table: str) -> list[tuple[object, ...]]:
    conn = _connect(module)
    conn.autocommit = True
    try:
        cur = conn.cursor()
        out: list[tuple[object, ...]] = []
        for statement in SCRIPT:
            sql = statement.format(t=table)
            cur.execute(sql)
            description = (
                None if cur.description is None else [_describe(c) for c in cur.description]
            )
            out.append((sql, cur.rowcount, description))
        cur.executemany(f"INSERT INTO {table} (i2) VALUES (%s)", [(1,), (2,), (3,)])
        out.append(("executemany insert", cur.rowcount, cur.description))
        cur.executemany(f"UPDATE {table} SET i8 = %s WHERE false", [(1,), (2,)])
        out.append(("executemany update 0", cur.rowcount, cur.description))
        cur.executemany(f"INSERT INTO {table} (i2) VALUES (%s)", [])
        out.append(("executemany empty", cur.rowcount, cur.description))
        return out
    finally:
        conn.close()


@needs_psycopg2
def test_description_and_rowcount_match_psycopg2(db: ModuleType) -> None:
    base = f"pep249_diff_{os.getpid()}_{time.monotonic_ns()}"
    try:
        ours = _run_script(db, base + "_a")
        theirs = _run_script(real_psycopg2, base + "_b")
    finally:
        c = puff.postgres.connect()
        c.autocommit = True
        for suffix in ("_a", "_b", "_a_tmp", "_b_tmp"):
            c.cursor().execute(f"DROP TABLE IF EXISTS {base}{suffix}")
        c.close()
    assert len(ours) == len(theirs)
    # Not a vacuous comparison: the script covers both kinds of statement.
    assert {-1, 0, 3} <= {row[1] for row in theirs}
    assert any(row[2] for row in theirs) and any(row[2] is None for row in theirs)
    for mine, reference in zip(ours, theirs, strict=True):
        assert mine[1:] == reference[1:], mine[0].replace(base + "_a", "{t}")


ERROR_CASES = [
    ("SELECT * FROM no_such_table_pep249", None),
    ("SELECT 1/0", None),
    ("SELECT %s::int", ["not a number"]),
    ("SELEC 1", None),
    ("INSERT INTO no_such_table_pep249 VALUES (1)", None),
    ("SELECT 'a' || 1::text || NULL::int", None),
    # Not compared: too few parameters, where psycopg2 leaks an IndexError and Puff raises
    # ProgrammingError (test_pg_basic.py checks that).
]


def _error_class(module: ModuleType, sql: str, params: object) -> list[str]:
    conn = _connect(module)
    conn.autocommit = True
    try:
        try:
            conn.cursor().execute(sql, params)
        except module.Error as e:
            return [
                name
                for name in ("InterfaceError", "DatabaseError", *DATABASE_ERRORS)
                if isinstance(e, getattr(module, name))
            ]
        except Exception as e:  # noqa: BLE001 - reported as a mismatch
            return [f"non-DB-API {type(e).__name__}"]
        return ["no error"]
    finally:
        conn.close()


@needs_psycopg2
@pytest.mark.parametrize(("sql", "params"), ERROR_CASES)
def test_error_classes_match_psycopg2(db: ModuleType, sql: str, params: object) -> None:
    assert _error_class(db, sql, params) == _error_class(real_psycopg2, sql, params)


# ---- the psycopg2 shim: calls Puff lacks ------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        "cancel()",
        "lobject()",
        "tpc_begin('x')",
        "tpc_prepare()",
        "tpc_commit()",
        "tpc_rollback()",
        "tpc_recover()",
        "xid(1, 'g', 'b')",
        "fileno()",
        "isexecuting()",
        "get_native_connection()",
    ],
)
def test_shim_connection_methods_puff_lacks_raise_not_supported(call: str) -> None:
    conn = puff.psycopg2.connect()
    try:
        name = call.split("(")[0]
        assert name in dir(type(conn))
        with pytest.raises(puff.psycopg2.NotSupportedError, match=name):
            eval(f"conn.{call}", {"conn": conn})
    finally:
        conn.close()


@pytest.mark.parametrize("call", ["cast(25, 'x')"])
def test_shim_cursor_methods_puff_lacks_raise_not_supported(call: str) -> None:
    conn = puff.psycopg2.connect()
    try:
        cur = conn.cursor()
        with pytest.raises(puff.psycopg2.NotSupportedError, match=call.split("(")[0]):
            eval(f"cur.{call}", {"cur": cur})
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("module", "name"),
    [
        (puff.psycopg2.extras, "LoggingConnection"),
        (puff.psycopg2.extras, "register_composite"),
        (puff.psycopg2.extensions, "set_wait_callback"),
        (puff.psycopg2.extensions, "lobject"),
    ],
)
def test_shim_module_names_puff_lacks_raise_not_supported(module: ModuleType, name: str) -> None:
    with pytest.raises(puff.psycopg2.NotSupportedError, match=f"psycopg2.*{name}"):
        getattr(module, name)
    # Still absent to probes (hasattr / getattr with a default), as an AttributeError.
    assert not hasattr(module, name)
    assert getattr(module, name, "absent") == "absent"
    if real_psycopg2 is not None and real_psycopg2 is not puff.psycopg2:
        real = importlib.import_module("psycopg2." + module.__name__.rsplit(".", 1)[1])
        assert hasattr(real, name)  # the list names psycopg2's own API


def test_shim_module_unknown_names_are_plain_attribute_errors() -> None:
    with pytest.raises(AttributeError) as info:
        puff.psycopg2.extras.no_such_thing  # noqa: B018
    assert not isinstance(info.value, puff.psycopg2.NotSupportedError)
