"""Typecasters (``register_type`` / ``new_type`` / ``new_array_type``) against the real
psycopg2, side by side.

The same queries run on the real psycopg2 (``psycopg2-binary``, same server) and on
``puff.psycopg2`` with the same casters registered; the results must be equal, Python
types included. A recording caster returns the text it is given, so the Postgres text
Puff rebuilds from binary results is compared with the text psycopg2 reads, for every
built-in type, arrays and NULL; the scope tests register casters globally, on a
connection and on a cursor (the most specific wins), as Django's and users' code does
(``DEC2FLOAT``, enums, arrays)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest
from conftest import real_psycopg2

import puff.psycopg2
from puff.psycopg2 import _casters

# Built-in scalar and array types: the recording caster is registered for these OIDs.
RECORDED_OIDS = (
    16, 17, 18, 19, 20, 21, 23, 25, 26, 114, 700, 701, 1042, 1043, 1082, 1083, 1114, 1184,
    1186, 1266, 1700, 2950, 3802, 1000, 1001, 1005, 1007, 1009, 1014, 1015, 1016, 1021,
    1022, 1115, 1182, 1183, 1185, 1187, 1231, 1270, 199, 2951, 3807,
)  # fmt: skip

EXPRESSIONS = [
    "1::int2", "(-32768)::int2", "2147483647::int4", "(-9223372036854775808)::int8",
    "42::oid", "1.50::numeric", "0.0000001::numeric", "'NaN'::numeric", "'-0.5'::numeric",
    "123456789012345678901234567890.123::numeric", "1e20::numeric", "0::numeric",
    "1.0::float8", "0.1::float8", "1e15::float8", "1e16::float8", "123456789012345.6::float8",
    "1e-5::float8", "0.0001::float8", "-2.5e-10::float8", "'Infinity'::float8",
    "'-Infinity'::float8", "'NaN'::float8", "'-0'::float8", "(1/3.0)::float8",
    "1.1::float4", "1e6::float4", "123456::float4", "1e-5::float4", "3.4e38::float4",
    "'NaN'::float4", "'hello'::text", "''::text", "'a b'::varchar", "'x'::char(3)",
    "'nm'::name", "'q'::\"char\"", "true", "false", "'2024-01-02'::date",
    "'03:04:05'::time", "'03:04:05.12'::time", "'23:59:59.999999'::time",
    "'03:04:05+02'::timetz", "'03:04:05.5-05:30'::timetz",
    "'2024-01-02 03:04:05'::timestamp", "'2024-01-02 03:04:05.123456'::timestamp",
    "'0001-01-01'::timestamp", "'2024-01-02 03:04:05.123+00'::timestamptz",
    "'2024-07-02 03:04:05+00'::timestamptz",
    "'1 day 02:03:04'::interval", "'-1 days -02:00:00'::interval", "'00:00:00'::interval",
    "'3 days'::interval", "'04:05:06.5'::interval", "'-1 days'::interval",
    "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid", "'{\"a\": 1, \"b\": [1, 2]}'::json",
    "'{\"b\":[1,2],\"a\":\"é\",\"ccc\":null}'::jsonb", "'\"s\"'::jsonb",
    "decode('deadbeef00', 'hex')", "''::bytea",
    "ARRAY[1, 2, NULL]::int4[]", "'{{1,2},{3,4}}'::int4[]", "'{}'::int4[]",
    "ARRAY['a b', '', 'NULL', 'x\"y', 'c\\d', NULL, 'p,q', '{r}']::text[]",
    "ARRAY[1.5, NULL]::numeric[]", "ARRAY['2024-01-02 03:04:05'::timestamp]",
    "ARRAY[true, false]", "ARRAY['{\"a\":1}'::jsonb]", "ARRAY[1.5::float4, 1e7::float4]",
    "ARRAY['2024-01-02'::date]", "ARRAY[decode('00ff', 'hex')]",
    "ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid]", "ARRAY['1 day'::interval]",
    "NULL::int4", "NULL::text[]", "NULL::jsonb",
]  # fmt: skip


def shape(v: Any) -> Any:
    """``v`` with its Python type, recursively."""
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, [shape(x) for x in v])
    return (type(v).__name__, v)


@pytest.fixture(scope="module")
def modules() -> Iterator[tuple[ModuleType, ModuleType]]:
    real = real_psycopg2()
    setup = real.connect(os.environ["PUFF_DEFAULT_POSTGRES_URL"])  # type: ignore[attr-defined]
    setup.autocommit = True
    cur = setup.cursor()
    cur.execute("DROP TYPE IF EXISTS casters_outer, casters_mood, casters_pair")
    cur.execute("CREATE TYPE casters_mood AS ENUM ('happy', 'sad', 'so so')")
    cur.execute("CREATE TYPE casters_pair AS (n int4, s text)")
    cur.execute("CREATE TYPE casters_outer AS (p casters_pair, m casters_mood, a int4[])")
    cur.execute("SELECT count(*) FROM pg_extension WHERE extname = 'citext'")
    had_citext = cur.fetchone()[0]
    cur.execute("CREATE EXTENSION IF NOT EXISTS citext")
    yield real, puff.psycopg2  # type: ignore[misc]
    cur.execute("DROP TYPE IF EXISTS casters_outer, casters_mood, casters_pair")
    if not had_citext:
        cur.execute("DROP EXTENSION IF EXISTS citext")
    setup.close()


def connect(module: ModuleType) -> Any:
    if module is puff.psycopg2:
        return puff.psycopg2.connect()
    return module.connect(os.environ["PUFF_DEFAULT_POSTGRES_URL"])


def run_both(
    modules: tuple[ModuleType, ModuleType],
    test: Callable[[ModuleType, Any], Any],
) -> tuple[Any, Any]:
    """``test(module, connection)`` on the real psycopg2 and on Puff's."""
    out = []
    for module in modules:
        conn = connect(module)
        try:
            out.append(test(module, conn))
        finally:
            conn.close()
    return out[0], out[1]


def fetch(cur: Any, sql: str) -> Any:
    cur.execute(sql)
    return shape(cur.fetchall())


def record(text: str | None, cur: Any) -> tuple[str, str | None]:
    return ("text", text)


def dec2float(text: str | None, cur: Any) -> float | None:
    return float(text) if text is not None else None


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/St_Johns"])
def test_casters_get_postgres_text(modules: tuple[ModuleType, ModuleType], zone: str) -> None:
    def test(module: ModuleType, conn: Any) -> Any:
        cur = conn.cursor()
        cur.execute(f"SET TIME ZONE '{zone}'")
        ext = module.extensions
        ext.register_type(ext.new_type(RECORDED_OIDS, "RECORD", record), cur)
        return [fetch(cur, f"SELECT {e}") for e in EXPRESSIONS]

    real, shim = run_both(modules, test)
    diffs = [(e, r, s) for e, r, s in zip(EXPRESSIONS, real, shim, strict=True) if r != s]
    for d in diffs:
        print(d)
    assert not diffs


# Intervals a timedelta cannot tell apart from another (months, hours past a day, mixed
# signs, `'1 mon'` and `'30 days'`): the caster gets the server's text all the same, in
# each IntervalStyle. (Every field after a leading `-` has its own sign: with
# sql_standard, the server reads `'-2 mons 3 days'` as -2 months -3 days.)
INTERVALS = [
    "'-1 days +02:00:00'", "'100:00:00'", "'1 mon'", "'30 days'", "'1 year 2 mons'",
    "'-1 year -2 mons'", "'14 mons'", "'-1 mons +04:05:06'", "'3 days -2 mons'",
    "'1 mon -1 days'", "'-1 mons +1 day -00:00:01'", "'1.5 seconds'", "'-1.000001 seconds'",
    "'-0.5 seconds'", "'00:00:00.000001'", "'0'", "'1 day -00:00:01'", "'-1 days -02:00:00'",
    "'1 year 2 mons 3 days 04:05:06.789'", "'1 year 2 mons -3 days +04:05:06.5'",
    "'1 second'", "'-1 second'", "'1 minute'", "'-1 minute'", "'1 day'", "'-1 day'",
    "'1 day 1 second'", "'3 days'", "'12:34'", "'1000000 hours'", "'-100:00:00'",
    "'2147483647 days'", "'-2147483648 days'", "'2562047788:00:54.775807'",
    "'-2562047788:00:54.775807'::interval - '0.000001 s'", "'-178956970 years -8 mons'",
    "'178956970 years 7 mons'", "'1 day'::interval * 1.5", "'1 mon'::interval / 7",
]  # fmt: skip
INTERVAL_ARRAYS = [
    "'{1 mon,-1 days}'::interval[]", "ARRAY['1.5 seconds'::interval, NULL, '0']",
    "'{{1 mon,100:00:00},{-00:00:01,-1 days +02:00:00}}'::interval[]", "'{}'::interval[]",
    "NULL::interval[]",
]  # fmt: skip


@pytest.mark.parametrize("style", ["postgres", "postgres_verbose", "sql_standard", "iso_8601"])
def test_interval_casters_get_the_server_text(
    modules: tuple[ModuleType, ModuleType], style: str
) -> None:
    def test(module: ModuleType, conn: Any) -> Any:
        cur = conn.cursor()
        # In the transaction: the connection's rollback at close restores the style.
        cur.execute(f"SET IntervalStyle = {style}")
        ext = module.extensions
        ext.register_type(ext.new_type((1186, 1187), "RECORD", record), cur)
        return [fetch(cur, f"SELECT ({e})::interval, NULL::interval") for e in INTERVALS] + [
            fetch(cur, f"SELECT {e}") for e in INTERVAL_ARRAYS
        ]

    real, shim = run_both(modules, test)
    expressions = INTERVALS + INTERVAL_ARRAYS
    diffs = [(e, r, s) for e, r, s in zip(expressions, real, shim, strict=True) if r != s]
    for d in diffs:
        print(d)
    assert not diffs


def test_interval_array_casters_and_plain_intervals(modules: tuple[ModuleType, ModuleType]) -> None:
    """An ``interval[]`` caster made by ``new_array_type`` gets each element's text; the
    intervals of a type without a caster stay ``timedelta`` (psycopg2's built-in array
    caster does not use a caster registered for ``interval``)."""
    sql = "SELECT '1 mon'::interval, '{1 mon,-1 days +02:00:00,NULL}'::interval[]"

    def test(module: ModuleType, conn: Any) -> Any:
        ext = module.extensions
        plain = fetch(conn.cursor(), sql)
        cur = conn.cursor()
        ext.register_type(
            ext.new_array_type((1187,), "RECARRAY", ext.new_type((1186,), "R", record)), cur
        )
        arrays = fetch(cur, sql)
        cur = conn.cursor()
        ext.register_type(ext.new_type((1186,), "RECORD", record), cur)
        scalars = fetch(cur, sql)
        # A named cursor reads its rows through the casters too.
        named = conn.cursor("casters_intervals")
        ext.register_type(ext.new_type((1186,), "RECORD", record), named)
        named.execute(sql)
        streamed = shape(named.fetchall())
        named.close()
        return [plain, arrays, scalars, streamed]

    real, shim = run_both(modules, test)
    assert real == shim
    assert real[0][1][0][1][0] == ("timedelta", dt.timedelta(days=30))


def test_enum_citext_and_their_arrays(modules: tuple[ModuleType, ModuleType]) -> None:
    def test(module: ModuleType, conn: Any) -> Any:
        cur = conn.cursor()
        cur.execute(
            "SELECT 'casters_mood'::regtype::oid, 'casters_mood[]'::regtype::oid,"
            " 'citext'::regtype::oid, 'citext[]'::regtype::oid"
        )
        mood, moods, citext, citexts = cur.fetchone()
        ext = module.extensions
        ext.register_type(ext.new_type((mood, citext), "MOOD", record), cur)
        moods_type = ext.new_array_type((moods,), "MOODS", ext.new_type((mood,), "M", record))
        ext.register_type(moods_type, cur)
        ext.register_type(ext.new_type((citexts,), "CITEXTS", record), cur)
        return [
            fetch(cur, "SELECT 'so so'::casters_mood, NULL::casters_mood"),
            fetch(cur, "SELECT ARRAY['happy', NULL, 'so so']::casters_mood[]"),
            fetch(cur, "SELECT 'MiXed Case'::citext, ARRAY['a', 'B c', NULL]::citext[]"),
        ]

    real, shim = run_both(modules, test)
    assert real == shim


COMPOSITES = [
    "ROW(1, 'x')::casters_pair", "ROW(NULL, 'a b')::casters_pair", "ROW(2, '')::casters_pair",
    "ROW(3, 'q\"(,)\\')::casters_pair", "NULL::casters_pair",
    "ROW(1.5, 2.5e20, 1.5e6::float4, true, 'x y', decode('00ff', 'hex'), '2024-01-02'::date,"
    " '03:04:05.25'::time, '03:04:05+05:30'::timetz, '2024-01-02 03:04:05.5'::timestamp,"
    " '1 year 2 mons -3 days +04:05:06.5'::interval, '-1 days -02:00:00'::interval,"
    " 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, '{\"a\": [1, 2]}'::jsonb,"
    " ARRAY['a b', NULL, 'c']::text[], ARRAY[[1, 2], [3, 4]])",
    "ROW(ROW(1, 'in a')::casters_pair, 'so so', ARRAY[1, NULL])::casters_outer",
]  # fmt: skip


@pytest.mark.parametrize("with_caster", [False, True])
def test_composites_as_their_text(
    modules: tuple[ModuleType, ModuleType], with_caster: bool
) -> None:
    """psycopg2 returns a composite as its text (given to a caster registered for it)."""

    def test(module: ModuleType, conn: Any) -> Any:
        cur = conn.cursor()
        cur.execute("SELECT 'casters_pair'::regtype::oid")
        (pair,) = cur.fetchone()
        if with_caster:
            ext = module.extensions
            cur.execute("SELECT 'casters_outer'::regtype::oid")
            (outer,) = cur.fetchone()
            ext.register_type(ext.new_type((pair, outer, 2249), "PAIR", record), cur)
        return [fetch(cur, f"SELECT {e}") for e in COMPOSITES]

    real, shim = run_both(modules, test)
    assert real == shim


def test_global_connection_and_cursor_scopes(modules: tuple[ModuleType, ModuleType]) -> None:
    def test(module: ModuleType, conn: Any) -> Any:
        ext = module.extensions
        cur = conn.cursor()
        cur.execute("SELECT 'casters_mood'::regtype::oid")
        (mood,) = cur.fetchone()
        sql = "SELECT 'sad'::casters_mood, 2.5::numeric"
        out = [fetch(cur, sql)]
        ext.register_type(ext.new_type((mood,), "GLOBAL", lambda s, c: ("global", s)))
        out.append(fetch(conn.cursor(), sql))
        other = connect(module)
        try:
            ext.register_type(ext.new_type((mood, 1700), "CONN", lambda s, c: ("conn", s)), conn)
            out.append(fetch(conn.cursor(), sql))
            out.append(fetch(other.cursor(), sql))  # the global one only
            cur = conn.cursor()
            ext.register_type(ext.new_type((1700,), "DEC2FLOAT", dec2float), cur)
            out.append(fetch(cur, sql))
            out.append(fetch(conn.cursor(), sql))  # the connection's again
            # Named (server-side) cursors read their rows through the casters too.
            named = conn.cursor("casters_named")
            named.execute("SELECT 'happy'::casters_mood, 1.25::numeric FROM generate_series(1, 3)")
            out.append(shape([named.fetchone(), *named.fetchmany(1), *named.fetchall()]))
            named.close()
            conn.rollback()
            out.append(cur.cast(1700, "7.5"))
        finally:
            other.close()
            # Undo the global registration (the type is dropped with the module anyway).
            if module is puff.psycopg2:
                _casters.global_casters.pop(mood, None)
        return out

    real, shim = run_both(modules, test)
    assert real == shim
    assert real[1] != real[0]  # the casters did apply


def test_array_casters(modules: tuple[ModuleType, ModuleType]) -> None:
    def test(module: ModuleType, conn: Any) -> Any:
        ext = module.extensions
        cur = conn.cursor()
        dec = ext.new_type((1700,), "DEC2FLOAT", dec2float)
        ext.register_type(ext.new_array_type((1231,), "DEC2FLOATARRAY", dec), cur)
        rec = ext.new_type((25,), "REC", record)
        ext.register_type(ext.new_array_type((1009,), "RECARRAY", rec), cur)
        return [
            fetch(cur, "SELECT 1.5::numeric, ARRAY[1.5, NULL, 2]::numeric[]"),
            fetch(cur, "SELECT '{{1.5,2},{NULL,3}}'::numeric[], NULL::numeric[]"),
            fetch(cur, "SELECT '{}'::numeric[]"),
            fetch(cur, "SELECT ARRAY['a b', NULL, '', 'x\"y']::text[], 'plain'::text"),
        ]

    real, shim = run_both(modules, test)
    assert real == shim


def test_array_type_of_strings_as_django_registers_it(
    modules: tuple[ModuleType, ModuleType],
) -> None:
    """django.contrib.postgres registers hstore/citext arrays with the module's STRING type
    as the base (``new_array_type((oid,), name, psycopg2.STRING)``)."""

    def test(module: ModuleType, conn: Any) -> Any:
        cur = conn.cursor()
        strings = module.extensions.new_array_type((1009,), "TEXTARRAY", module.STRING)
        module.extensions.register_type(strings, conn)
        return fetch(cur, "SELECT ARRAY['a b', NULL, '', 'x\"y']::text[], '{}'::text[]")

    real, shim = run_both(modules, test)
    assert real == shim


def test_dec2float_on_the_connection_faq_recipe(modules: tuple[ModuleType, ModuleType]) -> None:
    """psycopg2's FAQ: numeric as float for a connection; other types untouched."""

    def test(module: ModuleType, conn: Any) -> Any:
        ext = module.extensions
        dec2float_type = ext.new_type(
            (1700,), "DEC2FLOAT", lambda value, curs: float(value) if value is not None else None
        )
        ext.register_type(dec2float_type, conn)
        cur = conn.cursor()
        return fetch(cur, "SELECT 0.1::numeric, NULL::numeric, 3::int4, 'x'::text, 1e-7::numeric")

    real, shim = run_both(modules, test)
    assert real == shim


def test_no_casters_leaves_results_as_they_were(modules: tuple[ModuleType, ModuleType]) -> None:
    conn = puff.psycopg2.connect()
    try:
        cur = conn.cursor()
        cur.execute("SELECT 1.5::numeric, now()")
        value, now = cur.fetchone()
        assert value == Decimal("1.5")
        assert isinstance(now, dt.datetime)
        assert _casters.column_casters(cur, cur.description) is None
    finally:
        conn.close()
