"""Every supported type round-trips through parameters and result columns."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from puff import postgres

UTC = dt.timezone.utc
CASES: list[tuple[str, Any]] = [
    ("int2", 32767),
    ("int2", -32768),
    ("int4", 2147483647),
    ("int8", -9223372036854775808),
    ("float4", 1.5),
    ("float8", 3.141592653589793),
    ("float8", float("inf")),
    ("numeric", Decimal("12345678901234567890.123456789")),
    ("numeric", Decimal("-0.00010")),
    ("numeric", Decimal("0")),
    ("numeric", Decimal("1E+10")),
    ("text", "héllo wörld ✓ 日本語 🎉"),
    ("text", ""),
    ("varchar", "varchar value"),
    ("bytea", b"\x00\x01\xff" * 3),
    ("bytea", bytes(range(256)) * 8192),  # 2 MiB
    ("bool", True),
    ("bool", False),
    ("date", dt.date(2024, 2, 29)),
    ("date", dt.date(1, 1, 1)),
    ("date", dt.date(9999, 12, 31)),
    ("time", dt.time(23, 59, 59, 999999)),
    ("timestamp", dt.datetime(1999, 12, 31, 23, 59, 58, 123456)),
    ("timestamp", dt.datetime(1970, 1, 1)),
    ("timestamptz", dt.datetime(2021, 6, 1, 12, 30, tzinfo=UTC)),
    ("interval", dt.timedelta(days=3, seconds=7, microseconds=11)),
    ("interval", dt.timedelta(days=-2, seconds=5)),
    ("uuid", uuid.UUID("12345678-1234-5678-1234-567812345678")),
    ("json", {"a": [1, 2, {"b": None}], "c": "ü"}),
    ("jsonb", {"k": True, "n": 1.5, "l": ["x"]}),
    ("jsonb", [1, "two", None]),
    ("int4[]", [1, None, 3]),
    ("int8[]", []),
    ("text[]", ["a", None, "ü", "with,comma"]),
    ("int4[]", [[1, 2], [3, 4]]),
    ("float8[]", [1.0, -2.5]),
    ("numeric[]", [Decimal("1.5"), None]),
    ("bool[]", [True, False]),
    ("bytea[]", [b"x", b""]),
    ("date[]", [dt.date(2020, 1, 1)]),
    ("timestamptz[]", [dt.datetime(2020, 1, 1, tzinfo=UTC)]),
    ("uuid[]", [uuid.UUID(int=1)]),
    ("jsonb[]", [{"a": 1}]),
    # Network addresses travel as their text, in Postgres's own spelling.
    ("inet", "10.0.0.1"),
    ("inet", "192.168.1.5/24"),
    ("inet", "2001:db8::1"),
    ("cidr", "10.0.0.0/8"),
    ("inet[]", ["127.0.0.1", None, "::1"]),
]


@pytest.mark.parametrize(
    ("pgtype", "value"), CASES, ids=[f"{t}-{i}" for i, (t, _) in enumerate(CASES)]
)
def test_round_trip(conn: postgres.Connection, pgtype: str, value: Any) -> None:
    cur = conn.cursor()
    param = (
        postgres.Json(value) if pgtype in ("json", "jsonb") and isinstance(value, list) else value
    )
    cur.execute(f"SELECT %s::{pgtype}, NULL::{pgtype}", (param,))
    got, null = cur.fetchone()  # type: ignore[misc]
    assert null is None
    assert got == value
    assert type(got) is type(value)


def test_bad_inet_is_a_data_error(conn: postgres.Connection) -> None:
    cur = conn.cursor()
    for bad in ("not-an-ip", "10.0.0.1/33", "::1/129"):
        # The server parses the text (as it parses psycopg2's quoted literal).
        with pytest.raises(postgres.DataError, match="inet"):
            cur.execute("SELECT %s::inet", (bad,))
        conn.rollback()
    conn.rollback()


def test_round_trip_through_a_table(conn: postgres.Connection, table: str) -> None:
    cur = conn.cursor()
    cols = ", ".join(f"c{i} {t}" for i, (t, _) in enumerate(CASES))
    cur.execute(f"CREATE TABLE {table} ({cols})")
    names = ", ".join(f"c{i}" for i in range(len(CASES)))
    # A list of str is a text[] (as psycopg2's ARRAY['...']): the cast makes it inet[].
    marks = ", ".join("%s::inet[]" if t == "inet[]" else "%s" for t, _ in CASES)
    values = [
        postgres.Json(v) if t in ("json", "jsonb") and isinstance(v, list) else v for t, v in CASES
    ]
    cur.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", values)
    cur.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", [None] * len(CASES))
    cur.execute(f"SELECT {names} FROM {table}")
    rows = cur.fetchall()
    assert list(rows[0]) == [v for _, v in CASES]
    assert list(rows[1]) == [None] * len(CASES)
    conn.rollback()


def test_timestamptz_is_aware_and_converted_to_utc(conn: postgres.Connection) -> None:
    cur = conn.cursor()
    plus2 = dt.timezone(dt.timedelta(hours=2))
    cur.execute("SELECT %s::timestamptz", (dt.datetime(2020, 5, 5, 12, 0, tzinfo=plus2),))
    (got,) = cur.fetchone()  # type: ignore[misc]
    assert got.tzinfo is not None
    assert got == dt.datetime(2020, 5, 5, 10, 0, tzinfo=UTC)


def test_interval_months_count_as_30_days(conn: postgres.Connection) -> None:
    cur = conn.cursor()
    cur.execute("SELECT '1 month 2 days 03:00:00'::interval")
    assert cur.fetchone() == (dt.timedelta(days=32, hours=3),)


def test_dict_param_to_jsonb_and_ints_to_text(conn: postgres.Connection) -> None:
    cur = conn.cursor()
    cur.execute("SELECT %s::jsonb -> 'a', %s::text", ({"a": [1]}, 5))
    assert cur.fetchone() == ([1], "5")


def test_unadaptable_type_is_programming_error(conn: postgres.Connection) -> None:
    try:
        conn.cursor().execute("SELECT %s", (object(),))
    except postgres.ProgrammingError as e:
        assert "object" in str(e)
    else:
        raise AssertionError("expected ProgrammingError")


# Statements without parameters come back over the simple query protocol (text), those with
# parameters over the extended one (binary): the same values must come out of both.
PARITY_SQL = """
    SELECT true, false, 7::int2, '-2147483648'::int4, 9223372036854775807::int8, 4294967295::oid,
           0.1::float8, 0.5555556::float4, 'NaN'::float8, '-Infinity'::float4,
           '-12.340'::numeric, 'NaN'::numeric, 'héllo "x"'::text, 'ab'::varchar(5), 'a'::char(3),
           'pg_class'::name, '2000-02-29'::date, 'infinity'::date, '0044-03-15'::date,
           '9999-12-31'::date, '13:45:06.5'::time, '24:00:00'::time,
           '1999-12-31 23:59:59.999999'::timestamp, '-infinity'::timestamp,
           '2026-03-29 01:30:00+05:30'::timestamptz, '0001-01-02 00:00:00+00'::timestamptz,
           'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, '{"a": [1, 2.50]}'::json,
           '{"b": null, "a": 1}'::jsonb, NULL::int4, NULL::text
"""


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/St_Johns"])
def test_text_and_binary_results_agree(zone: str) -> None:
    conn = postgres.connect()
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute(f"SET TIME ZONE '{zone}'")
    cur.execute(PARITY_SQL)
    text_row = cur.fetchone()
    text_types = [c.type_code for c in cur.description]
    cur.execute(PARITY_SQL + " WHERE %s", (True,))
    binary_row = cur.fetchone()
    assert [c.type_code for c in cur.description] == text_types
    for i, (t, b) in enumerate(zip(text_row, binary_row, strict=True)):
        assert (type(t), repr(t)) == (type(b), repr(b)), i  # repr: NaN equals itself
    conn.close()


def test_a_changed_table_is_read_by_its_new_types() -> None:
    """The simple query runs before its columns are seen: when the table changed since the
    statement was prepared on this connection, the values follow the new column types."""
    conn = postgres.connect()  # one transaction: one pooled connection throughout
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS puff_retyped")
    cur.execute("CREATE TABLE puff_retyped (a int4, b text)")
    cur.execute("INSERT INTO puff_retyped VALUES (1, 'x')")
    cur.execute("SELECT * FROM puff_retyped")
    assert cur.fetchall() == [(1, "x")]
    cur.execute(
        "ALTER TABLE puff_retyped ALTER COLUMN a TYPE text,"
        " ALTER COLUMN b TYPE date USING '2020-01-02'"
    )
    cur.execute("SELECT * FROM puff_retyped")
    assert cur.fetchall() == [("1", dt.date(2020, 1, 2))]
    assert [c.type_code for c in cur.description] == [25, 1082]
    cur.execute("SELECT * FROM puff_retyped")
    assert cur.fetchall() == [("1", dt.date(2020, 1, 2))]
    conn.rollback()
    conn.close()
