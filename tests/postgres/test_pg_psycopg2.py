"""Puff's psycopg2 shim (``puff.psycopg2``) against the real server: what Django's
postgresql backend relies on — connect keywords, SQLSTATE exception classes, client-side
quoting that round-trips, isolation levels, other databases of the pool's server,
server parameters and the pool's session time zone."""

from __future__ import annotations

import datetime
import decimal
import uuid

import pytest

import puff.psycopg2 as psycopg2
from puff import _native, postgres
from puff.psycopg2 import errors, extensions, extras, sql


def scalar(conn: extensions.connection, query: str, params: object = None) -> object:
    cur = conn.cursor()
    cur.execute(query, params)
    row = cur.fetchone()
    assert row is not None
    return row[0]


@pytest.fixture
def pgconn() -> extensions.connection:
    c = psycopg2.connect(dbname=postgres.pool_database(), user="ignored", host="ignored")
    yield c
    c.close()


def test_connect_and_query_like_psycopg2(pgconn: extensions.connection) -> None:
    assert psycopg2.__version__.split(" ")[0] >= "2.8.4"
    cur = pgconn.cursor()
    cur.execute("SELECT %s::int + %s, %(x)s" if False else "SELECT %s::int + %s", [1, 2])
    assert cur.fetchone() == (3,)
    cur.execute("SELECT %(a)s || %(b)s", {"a": "x", "b": "y"})
    assert cur.fetchall() == [("xy",)]
    assert cur.query == b"SELECT 'x' || 'y'"
    assert not pgconn.closed
    assert pgconn.autocommit is False
    assert pgconn.get_transaction_status() == extensions.TRANSACTION_STATUS_INTRANS
    pgconn.rollback()
    assert pgconn.get_transaction_status() == extensions.TRANSACTION_STATUS_IDLE


def test_unknown_connect_option_is_an_error() -> None:
    with pytest.raises(psycopg2.ProgrammingError, match="bogus"):
        psycopg2.connect(bogus="1")
    with pytest.raises(psycopg2.NotSupportedError, match="UTF8"):
        psycopg2.connect(client_encoding="LATIN1")


def test_sqlstate_classes(pgconn: extensions.connection, table: str) -> None:
    pgconn.autocommit = True
    cur = pgconn.cursor()
    cur.execute(f"CREATE TABLE {table} (id int PRIMARY KEY)")
    cur.execute(f"INSERT INTO {table} VALUES (1)")
    with pytest.raises(errors.UniqueViolation) as caught:
        cur.execute(f"INSERT INTO {table} VALUES (1)")
    assert isinstance(caught.value, psycopg2.IntegrityError)
    assert caught.value.pgcode == "23505"
    assert caught.value.diag.sqlstate == "23505"
    with pytest.raises(errors.UndefinedTable):
        cur.execute("SELECT * FROM no_such_table_here")
    with pytest.raises(errors.DivisionByZero):
        cur.execute("SELECT 1 / 0")
    assert errors.lookup("42P04") is errors.DuplicateDatabase
    # After errors in autocommit mode the connection still works.
    assert scalar(pgconn, f"SELECT count(*) FROM {table}") == 1


TRICKY = [
    None,
    True,
    0,
    -(2**62),
    1.5,
    decimal.Decimal("12345.678900"),
    "plain",
    "it's",
    "back\\slash and 'quote'",
    "100% %s %(x)s",
    "üñíçødé ✓",
    b"\x00\x01\xffbytes'",
    datetime.date(2024, 2, 29),
    datetime.datetime(2024, 2, 29, 12, 30, 1, 123456),
    datetime.datetime(2024, 2, 29, 12, 30, 1, tzinfo=datetime.timezone.utc),
    datetime.time(23, 59, 58, 5),
    datetime.timedelta(days=3, seconds=7, microseconds=9),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    [1, 2, 3],
]


@pytest.mark.parametrize("value", TRICKY, ids=lambda v: type(v).__name__ + ":" + repr(v)[:20])
def test_mogrify_round_trips(pgconn: extensions.connection, value: object) -> None:
    # Django's schema editor writes DDL with values quoted in by mogrify: what the server
    # reads back from the literal must be the value itself.
    cur = pgconn.cursor()
    literal = cur.mogrify("SELECT %s", [value]).decode()
    cur.execute(literal)
    row = cur.fetchone()
    assert row is not None
    got = row[0]
    if isinstance(value, bytes):
        got = bytes(got)
    assert got == value, literal


def test_mogrify_refuses_nul_and_counts_arguments(pgconn: extensions.connection) -> None:
    cur = pgconn.cursor()
    with pytest.raises(ValueError, match="NUL"):
        cur.mogrify("SELECT %s", ["a\x00b"])
    with pytest.raises(TypeError):
        cur.mogrify("SELECT %s, %s", [1])
    with pytest.raises(TypeError):
        cur.mogrify("SELECT %s", [1, 2])
    assert cur.mogrify("SELECT 1 %% 2", None) == b"SELECT 1 %% 2"
    assert cur.mogrify("SELECT 5 %% 2", []) == b"SELECT 5 % 2"
    assert sql.quote("a'b") == "'a''b'"
    assert sql.SQL("SELECT {} FROM {}").format(sql.Literal(1), sql.Identifier("t\"x")).as_string() == (
        'SELECT 1 FROM "t""x"'
    )


def test_isolation_level(pgconn: extensions.connection) -> None:
    pgconn.isolation_level = extensions.ISOLATION_LEVEL_SERIALIZABLE
    assert scalar(pgconn, "SHOW transaction_isolation") == "serializable"
    pgconn.rollback()
    pgconn.isolation_level = None
    assert scalar(pgconn, "SHOW transaction_isolation") == "read committed"
    pgconn.rollback()
    pgconn.set_isolation_level(extensions.ISOLATION_LEVEL_AUTOCOMMIT)
    assert pgconn.autocommit is True
    with pytest.raises(ValueError):
        pgconn.isolation_level = 9


def test_other_database_of_the_server() -> None:
    # Django's test runner creates test_<NAME> through the `postgres` database, then uses
    # it: both are reached through pools derived from the configured one.
    name = f"shim_db_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(dbname="postgres")
    admin.autocommit = True
    cur = admin.cursor()
    cur.execute(f'CREATE DATABASE "{name}"')
    try:
        with pytest.raises(errors.DuplicateDatabase):
            cur.execute(f'CREATE DATABASE "{name}"')
        other = psycopg2.connect(dbname=name)
        assert scalar(other, "SELECT current_database()") == name
        other.close()
        # The derived pool keeps no idle connection, so the database can be dropped.
        cur.execute(f'DROP DATABASE "{name}"')
    finally:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()
    assert scalar(psycopg2.connect(), "SELECT current_database()") == postgres.pool_database()


def test_server_parameters_and_session_time_zone() -> None:
    conn = psycopg2.connect()
    conn.autocommit = True
    assert conn.server_version >= 100000
    assert conn.info.server_version == conn.server_version
    server_tz = conn.info.parameter_status("TimeZone")
    assert server_tz
    # A pool derived from `default` (another database of its server), made before the change.
    other = psycopg2.connect(dbname="template1")
    other.autocommit = True
    try:
        _native.postgres.set_session_timezone("default", "America/New_York")
        # Every session of the pool, old or new, now runs in that zone; so do the derived
        # pool's.
        for _ in range(3):
            assert scalar(conn, "SHOW TimeZone") == "America/New_York"
        assert conn.info.parameter_status("TimeZone") == "America/New_York"
        assert scalar(other, "SHOW TimeZone") == "America/New_York"
    finally:
        _native.postgres.set_session_timezone("default", None)
    # Unset again: the sessions opened in New York go back to the server's zone.
    assert scalar(conn, "SHOW TimeZone") == server_tz
    assert scalar(other, "SHOW TimeZone") == server_tz
    conn.close()
    other.close()


def test_jsonb_loads_and_json_params(pgconn: extensions.connection) -> None:
    value = {"b": [1, 2], "a": "x"}
    assert scalar(pgconn, "SELECT %s::jsonb", [extras.Json(value)]) == value
    # Django registers an identity loads and parses the text itself.
    extras.register_default_jsonb(conn_or_curs=pgconn, loads=lambda text: text)
    text = scalar(pgconn, "SELECT %s::jsonb", [extras.Json(value)])
    assert isinstance(text, str)
    # The server's own text, not a parse dumped back (which would say 1.5 and \u00e9).
    assert scalar(pgconn, """SELECT '{"n": 1.50, "s": "é"}'::jsonb""") == '{"n": 1.50, "s": "é"}'
    # json (not jsonb) columns are still parsed, as in psycopg2.
    assert scalar(pgconn, "SELECT %s::json", [extras.Json(value)]) == value
    import json

    assert json.loads(text) == value
    # Any loads gets each jsonb value's text (NULL stays None); its error reaches the caller
    # and the connection goes on.
    extras.register_default_jsonb(conn_or_curs=pgconn, loads=lambda text: ("parsed", text))
    assert scalar(pgconn, "SELECT '[1]'::jsonb") == ("parsed", "[1]")
    assert scalar(pgconn, "SELECT NULL::jsonb") is None
    extras.register_default_jsonb(conn_or_curs=pgconn, loads=json.loads)
    with pgconn.cursor() as cur:
        cur.execute("""SELECT '{"a": 1}'::jsonb, 'not json'::text, '[2]'::jsonb""")
        assert cur.fetchone() == ({"a": 1}, "not json", [2])
    extras.register_default_jsonb(conn_or_curs=pgconn, loads=lambda text: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        scalar(pgconn, "SELECT '{}'::jsonb")
    assert scalar(pgconn, "SELECT 1") == 1
    with pytest.raises(TypeError, match="jsonb_loads must be callable"):
        pgconn._native.jsonb_loads = "json.loads"
