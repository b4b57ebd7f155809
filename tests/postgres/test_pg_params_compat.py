"""Parameters and result types against the real psycopg2, side by side.

The same SQL with the same parameters runs through the real psycopg2 (``psycopg2-binary``,
connected to the same private server) and through ``puff.psycopg2`` and ``puff.postgres``;
each outcome (the rows' values with their Python types, tzinfo offsets included, or the
error's SQLSTATE / exception class) must be the same. Every type psycopg2 adapts is
covered: ints of every size, floats with NaN and infinities, Decimal, str, bytes, dates,
times and datetimes naive and aware under several session time zones, timedelta, UUID,
lists (nested, with None, empty), tuples for ``IN %s``, ``Json``, ``Inet``, ranges,
hstore, ``AsIs`` and a user's ``register_adapter``. Each test prints its differences and
asserts that there are none."""

from __future__ import annotations

import datetime as dt
import enum
import math
import os
import uuid
from collections import namedtuple
from collections.abc import Callable, Iterator
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest

import puff.postgres
import puff.psycopg2
from puff.psycopg2 import extensions as puff_ext
from puff.psycopg2 import extras as puff_extras

try:  # the real one, from psycopg2-binary (the shim is `puff.psycopg2`)
    import psycopg2 as real_psycopg2
    import psycopg2.extensions as real_ext
    import psycopg2.extras as real_extras
except ImportError:  # pragma: no cover - it is in requirements-dev.txt
    real_psycopg2 = None


@pytest.fixture(scope="module", autouse=True)
def _real_psycopg2() -> None:
    if real_psycopg2 is None or real_psycopg2 is puff.psycopg2:
        pytest.fail(
            "psycopg2-binary is not installed in the venv: run `cargo xtask setup`",
            pytrace=False,
        )
    # Django does this; Puff binds and returns UUIDs without it.
    real_extras.register_uuid()


UTC = dt.timezone.utc
PLUS2 = dt.timezone(dt.timedelta(hours=2))
MINUS0530 = dt.timezone(-dt.timedelta(hours=5, minutes=30))


class Point:
    """A user type with its own adapter (psycopg2 writes its getquoted() into the SQL)."""

    def __init__(self, x: float, y: float) -> None:
        self.x, self.y = x, y


def _point_adapter(ext: ModuleType) -> Callable[[Point], Any]:
    return lambda p: ext.AsIs(f"'({p.x}, {p.y})'::point")


# ---- how outcomes are compared ----------------------------------------------------------


def shape(v: Any, bytes_type: bool = True) -> Any:
    """``v`` with its Python type, recursively (tzinfo offsets and classes included).
    ``bytes_type`` False: a memoryview counts as bytes (puff.postgres returns bytea as
    bytes, psycopg2 as memoryview; puff.psycopg2 must match psycopg2)."""
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, [shape(x, bytes_type) for x in v])
    if isinstance(v, dict):
        return ("dict", sorted((str(k), shape(x, bytes_type)) for k, x in v.items()))
    if isinstance(v, (memoryview, bytes)) and not bytes_type:
        return ("bytes", bytes(v))
    if isinstance(v, (dt.datetime, dt.time)):
        tz = v.tzinfo
        return (
            type(v).__name__,
            v.replace(tzinfo=None).isoformat(),
            None if tz is None else (type(tz).__name__, str(v.utcoffset())),
        )
    if isinstance(v, float) and math.isnan(v):
        return ("float", "nan")
    if isinstance(v, Decimal):
        return ("Decimal", str(v))
    if isinstance(v, memoryview):
        return ("memoryview", bytes(v))
    if hasattr(v, "isempty") and hasattr(v, "lower"):  # a Range of either module
        return (
            type(v).__name__,
            shape(v.lower),
            shape(v.upper),
            v.lower_inc,
            v.upper_inc,
            v.isempty,
        )
    return (type(v).__name__, v)


def outcome(conn: Any, sql: str, params: Any, tzinfo_factory: Any = "default") -> Any:
    """What running ``sql`` gives on ``conn``: ("rows", rows) or ("error", code)."""
    cur = conn.cursor()
    if tzinfo_factory != "default":
        cur.tzinfo_factory = tzinfo_factory
    try:
        cur.execute(sql, params)
        rows = cur.fetchall() if cur.description is not None else None
        result: Any = ("rows", rows)
    except Exception as e:  # noqa: BLE001 - the error is the outcome compared
        code = getattr(e, "pgcode", None)
        result = ("error", code or type(e).__name__)
    finally:
        conn.rollback()
    return result


class Drivers:
    """One connection per driver: the real psycopg2, puff.psycopg2, puff.postgres."""

    def __init__(self) -> None:
        self.real = real_psycopg2.connect(os.environ["PUFF_DEFAULT_POSTGRES_URL"])
        self.shim = puff.psycopg2.connect()
        self.native = puff.postgres.connect()
        self.differences: list[str] = []
        self.checked = 0

    def close(self) -> None:
        for c in (self.real, self.shim, self.native):
            c.close()

    def compare(
        self,
        sql: str,
        params: Callable[[ModuleType, ModuleType], Any] | Any,
        label: str = "",
        tzinfo_factory: Any = "default",
        native: bool = True,
    ) -> None:
        """Run ``sql`` on each driver; ``params`` may be a function of (extensions, extras)
        of the driver, to build driver-specific wrappers (Json, Inet, ranges, AsIs)."""
        make = params if callable(params) else (lambda _e, _x: params)
        want = outcome(self.real, sql, make(real_ext, real_extras), tzinfo_factory)
        got = {
            "puff.psycopg2": outcome(self.shim, sql, make(puff_ext, puff_extras), tzinfo_factory)
        }
        if native:
            got["puff.postgres"] = outcome(
                self.native, sql, make(puff_ext, puff_extras), tzinfo_factory
            )
        for name, result in got.items():
            self.checked += 1
            strict = name == "puff.psycopg2"
            if shape(result, strict) != shape(want, strict):
                self.differences.append(
                    f"{name}: {sql!r} {label}\n    psycopg2: {shape(want, strict)}\n"
                    f"    puff:     {shape(result, strict)}"
                )

    def assert_same(self) -> None:
        print(f"{self.checked} outcomes compared, {len(self.differences)} differences")
        for d in self.differences:
            print(d)
        assert len(self.differences) == 0, "\n".join(self.differences)


@pytest.fixture
def drivers() -> Iterator[Drivers]:
    d = Drivers()
    yield d
    d.close()


# ---- scalar parameters ------------------------------------------------------------------

SCALARS: list[Any] = [
    None,
    True,
    False,
    0,
    5,
    -5,
    2**31 - 1,
    2**31,
    -(2**31),
    -(2**31) - 1,
    2**63 - 1,
    2**63,
    -(2**63),
    10**30,
    -(10**30),
    1.5,
    0.1,
    -2.5,
    3.0,
    1e100,
    1e-5,
    1e16,
    1e15,
    123456789.123,
    2.5e-300,
    float("nan"),
    float("inf"),
    float("-inf"),
    Decimal("1.50"),
    Decimal("-0.001"),
    Decimal("1E+2"),
    Decimal("0E-7"),
    Decimal("12345678901234567890.0123456789"),
    Decimal("NaN"),
    Decimal("Infinity"),
    "abc",
    "",
    "it's",
    "back\\slash",
    "ünïcode ✓",
    "42",
    b"\x00\x01'\\",
    bytearray(b"ab"),
    dt.date(2024, 2, 29),
    dt.date(1, 1, 1),
    dt.time(13, 5, 7, 123456),
    dt.time(13, 5, tzinfo=PLUS2),
    dt.datetime(2024, 2, 29, 12, 30, 1, 5),
    dt.datetime(2024, 6, 1, 12, 0, tzinfo=PLUS2),
    dt.datetime(2024, 1, 1, 23, 59, tzinfo=MINUS0530),
    dt.datetime(2024, 1, 1, tzinfo=UTC),
    dt.timedelta(0),
    dt.timedelta(days=3, seconds=7, microseconds=11),
    dt.timedelta(days=-2, seconds=5),
    dt.timedelta(microseconds=-1),
    dt.timedelta(days=400),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
]


def unknown_typed(value: Any) -> bool:
    """Values psycopg2 writes as unknown-typed literals (str, NULL, '{}', '{NULL,...}'):
    ``pg_typeof()`` of such a literal is ``unknown``, of the parameter Puff binds for it
    ``text`` (a parameter cannot stay unknown), a documented difference."""
    if isinstance(value, list):
        return all(unknown_typed(v) and not isinstance(v, str) for v in value)
    return value is None or isinstance(value, str)


def select_and_type(drivers: Drivers, value: Any) -> None:
    """``SELECT %s`` and, where psycopg2's literal has a type, ``pg_typeof(%s)``."""
    drivers.compare("SELECT %s", [value], repr(value))
    if not unknown_typed(value):
        drivers.compare("SELECT pg_typeof(%s)::text", [value], repr(value))


def test_scalars_select_and_type(drivers: Drivers) -> None:
    for value in SCALARS:
        label = repr(value)
        select_and_type(drivers, value)
        # (CAST, not `%s::text`: psycopg2 writes ` -5::text`, which is -('5'::text).)
        drivers.compare("SELECT %s IS NULL, CAST(%s AS text)", [value, value], label)
    drivers.assert_same()


def test_memoryview_param(drivers: Drivers) -> None:
    drivers.compare("SELECT %s", lambda _e, _x: [memoryview(b"cd")])
    drivers.assert_same()


def test_expressions_and_aggregates(drivers: Drivers) -> None:
    cases: list[tuple[str, list[Any]]] = [
        ("SELECT %s * %s", [3, 4]),
        ("SELECT %s * %s", [1.5, 2]),
        ("SELECT %s + %s", [Decimal("1.25"), 1]),
        ("SELECT %s / %s", [7, 2]),
        ("SELECT %s / %s", [7.0, 2]),
        ("SELECT %s - %s", [dt.date(2024, 3, 1), dt.date(2024, 2, 1)]),
        ("SELECT %s + %s", [dt.datetime(2024, 1, 1), dt.timedelta(hours=5)]),
        ("SELECT %s || %s", ["a", "b"]),
        ("SELECT %s || %s", ["a", 1]),
        ("SELECT SUM(x) FROM (VALUES (%s), (%s)) v(x)", [1, 2]),
        ("SELECT SUM(x), AVG(x) FROM (VALUES (%s), (%s)) v(x)", [1.5, 2]),
        ("SELECT MAX(x) FROM (VALUES (%s), (%s)) v(x)", ["a", "b"]),
        ("SELECT COALESCE(%s, %s)", [None, 5]),
        ("SELECT CASE WHEN %s THEN %s ELSE %s END", [True, 1, 2]),
        ("SELECT GREATEST(%s, %s, %s)", [1, 2.5, Decimal("2")]),
        ("SELECT %s > %s", [2**40, 2**31]),
        ("SELECT 10 %% %s", [3]),
        ("SELECT generate_series(%s, %s)", [1, 3]),
        ("SELECT 1 LIMIT %s OFFSET %s", [1, 0]),
        ("SELECT %s::int + 1", ["41"]),
        ("SELECT %s = 5", ["5"]),
        ("SELECT %s * 2", ["5"]),
        ("SELECT abs(%s)", [-3]),
        ("SELECT round(%s, 1)", [2.25]),
        ("SELECT %s LIKE %s", ["abc", "a%"]),
        ("SELECT %s", ["nul\x00byte"]),
        ("SELECT %s::jsonb -> 'a'", ['{"a": [1, 2]}']),
        ("SELECT %s::date", ["2024-02-29"]),
        ("SELECT %s::interval", ["1 day 02:00"]),
        ("SELECT %s::int[]", ["{1,2,3}"]),
        ("SELECT %s::bytea", ["\\x4142"]),
    ]
    for sql, params in cases:
        drivers.compare(sql, params)
    drivers.assert_same()


def test_named_placeholders_each_occurrence(drivers: Drivers) -> None:
    drivers.compare("SELECT %(a)s, %(a)s::text, %(b)s", {"a": 5, "b": "x"})
    drivers.compare("SELECT %(a)s = 1 OR %(a)s = 'x'", {"a": "1"})
    drivers.compare("SELECT %(a)s * %(a)s", {"a": 3})
    drivers.assert_same()


def test_equal_parameters_match_as_equal_literals(drivers: Drivers) -> None:
    # psycopg2 writes equal values as equal literals, so an expression with a parameter
    # in the SELECT list is the same text in GROUP BY (or in ORDER BY under DISTINCT).
    drivers.compare(
        "SELECT GREATEST(x, %s), count(*) FROM generate_series(1, 9) x "
        "GROUP BY GREATEST(x, %s) ORDER BY 1",
        [5, 5],
    )
    drivers.compare(
        "SELECT x || %s, count(*) FROM (VALUES ('a'), ('b'), ('a')) t(x) GROUP BY x || %s "
        "ORDER BY 1",
        ["-", "-"],
    )
    drivers.compare(
        "SELECT DISTINCT coalesce(x, %s) FROM (VALUES ('a'), (NULL)) t(x) ORDER BY coalesce(x, %s)",
        ["", ""],
    )
    drivers.compare(
        "SELECT x FROM generate_series(1, 5) x WHERE x IN %s GROUP BY x HAVING x <> %s ORDER BY 1",
        [(1, 2, 2, 3), 2],
    )
    drivers.compare(
        "SELECT %(d)s::date + x, count(*) FROM generate_series(0, 2) x "
        "GROUP BY %(d)s::date + x ORDER BY 1",
        {"d": dt.date(2024, 1, 1)},
    )
    # Equal in Python, other literals in SQL: each keeps its own type or scale.
    drivers.compare("SELECT %s, %s, %s, pg_typeof(%s)::text", [1, True, 1.0, True])
    drivers.compare("SELECT %s, %s, %s, %s", [Decimal("1.0"), Decimal("1.00"), 0.0, -0.0])
    drivers.compare("SELECT %s, %s", [dt.time(3, tzinfo=PLUS2), dt.time(1, tzinfo=dt.timezone.utc)])
    # Untyped values outside GROUP BY / DISTINCT each take their type from their context.
    drivers.compare("SELECT %s = 1, %s = 'x'::text", ["1", "1"])
    drivers.compare("SELECT COALESCE(%s, 1), COALESCE(%s, 'a'::text)", [None, None])
    drivers.assert_same()


def test_results_of_real_and_oid_alias_types(drivers: Drivers) -> None:
    # psycopg2 reads a real from its shortest text; reg* types as the names they print.
    drivers.compare("SELECT (5.0 / 9)::real, ARRAY[(4.0 / 9)::real, NULL], 0.5::real", [])
    drivers.compare(
        "SELECT 'bigint'::regtype, 'pg_class'::regclass, NULL::regtype, 0::regtype, 'now'::regproc",
        [],
    )
    drivers.compare(
        "SELECT t::regtype FROM unnest(ARRAY[20, 25, 20, 1184]::oid[]) t", [], native=False
    )
    drivers.assert_same()


def _jsonb_subclass(extras: ModuleType) -> type:
    class Jsonb(extras.Json):  # type: ignore[name-defined,misc]
        """Django's psycopg2 Jsonb: psycopg2's literal with a jsonb cast."""

        def getquoted(self) -> bytes:
            return bytes(super().getquoted()) + b"::jsonb"

    return Jsonb


def test_json_subclass_casting_its_literal(drivers: Drivers) -> None:
    jsonb = {name: _jsonb_subclass(x) for name, x in (("real", real_extras), ("puff", puff_extras))}

    def make(*values: Any) -> Callable[[ModuleType, ModuleType], Any]:
        return lambda _e, x: [jsonb["real" if x is real_extras else "puff"](v) for v in values]

    drivers.compare("SELECT CASE WHEN true THEN %s ELSE NULL END", make({"k": "v"}))
    drivers.compare("SELECT pg_typeof(CASE WHEN true THEN %s END)::text", make([1]))
    drivers.compare("SELECT %s -> 'foo'", make({"foo": "bar"}))
    drivers.compare("SELECT (%s -> 'v') = %s", make({"v": "stable"}, "not stable"))
    drivers.assert_same()


def test_jsonb_arrays_go_through_jsonb_loads(drivers: Drivers) -> None:
    # Django registers `loads=lambda x: x` for jsonb: jsonb[] elements stay text too.
    for conn, extras in ((drivers.real, real_extras), (drivers.shim, puff_extras)):
        extras.register_default_jsonb(conn, loads=lambda text: ("loaded", text))
    sql = """SELECT '{"a": 1}'::jsonb, ARRAY['{"b": 2}'::jsonb, NULL], '[3]'::json"""
    drivers.compare(sql, [], native=False)
    drivers.assert_same()


# ---- lists and tuples -------------------------------------------------------------------

LISTS: list[Any] = [
    [1, 2, 3],
    [1, None],
    [[1, 2], [3, 4]],
    [[1, None], [None, 4]],
    [[1, 2], [None, None]],
    [],
    [None],
    [None, None],
    [[None], [None]],
    ["a", "b"],
    ["a", None, "it's", 'q"uote', "back\\slash", "with,comma", "{brace}", ""],
    [1.5, 2],
    [1, 2**40],
    [1, 2**70],
    [1.5, float("nan")],
    [float("inf"), 1],
    [Decimal("1.1"), None],
    [dt.date(2020, 1, 1), None],
    [dt.datetime(2020, 1, 1, 10)],
    [dt.datetime(2020, 1, 1, 10, tzinfo=PLUS2)],
    [dt.date(2020, 1, 1), dt.datetime(2020, 1, 2, 3)],
    [dt.time(1, 2)],
    [dt.timedelta(hours=1)],
    [True, False, None],
    [b"x", b""],
    [uuid.UUID(int=1)],
    [1, "2"],
    [[["a"]], [["b"]]],
]


def test_lists(drivers: Drivers) -> None:
    for value in LISTS:
        select_and_type(drivers, value)
    drivers.compare("SELECT %s = ANY(%s)", [2, [1, 2, 3]])
    drivers.compare("SELECT 'b' = ANY(%s)", [["a", "b"]])
    drivers.compare("SELECT 1 = ANY(%s)", [[]])
    drivers.compare("SELECT array_length(%s, 1)", [[1, 2]])
    drivers.compare("SELECT %s::int[]", [["1", "2"]])
    drivers.compare("SELECT %s::bigint[] || %s", [[1], [2]])
    drivers.compare("SELECT %s::inet[]", [["10.0.0.1", None]])
    drivers.assert_same()


def test_tuples_for_in(drivers: Drivers) -> None:
    drivers.compare("SELECT 2 IN %s", [(1, 2, 3)])
    drivers.compare("SELECT 'b' IN %s", [("a", "b")])
    drivers.compare("SELECT %s IN %s", [5, (1, 2.5, None)])
    drivers.compare("SELECT (1, 2) IN %s", [((1, 2), (3, 4))])
    drivers.compare(
        "SELECT x FROM generate_series(1, 5) x WHERE x IN %s AND x > %s", [(2, 4, 5), 3]
    )
    drivers.compare("SELECT 'a' IN %(t)s, %(n)s", {"t": (1, "a"), "n": 7})
    drivers.compare("SELECT 1 IN %s", [()])
    drivers.assert_same()


def test_executemany_with_tuples_of_different_lengths(drivers: Drivers) -> None:
    """Each parameter set of executemany may expand its tuple differently."""
    name = f"params_many_{os.getpid()}"
    results = {}
    for label, conn in (("real", drivers.real), ("shim", drivers.shim)):
        cur = conn.cursor()
        cur.execute(f"CREATE TEMP TABLE {name} (x int)")
        cur.execute(f"INSERT INTO {name} SELECT generate_series(1, 6)")
        cur.executemany(f"DELETE FROM {name} WHERE x IN %s", [((1, 2),), ((3,),)])
        rowcount = cur.rowcount
        cur.execute(f"SELECT x FROM {name} ORDER BY x")
        results[label] = (rowcount, cur.fetchall())
        conn.rollback()
    assert results["shim"] == results["real"]


def test_executemany_rows_that_are_not_plain(drivers: Drivers) -> None:
    """``executemany`` hands plain rows (exact tuples or lists of natively bound values) to
    the native module as they are, checked in Rust; any other row sends all of them
    through Python's binding. Both must store what psycopg2 stores."""
    name = f"params_plain_{os.getpid()}"
    row = namedtuple("row", "a b")
    many: list[tuple[str, list[Any]]] = [
        ("plain", [(1, "x"), [2, "y"], (3, None)]),
        ("a namedtuple row", [(1, "x"), row(2, "y")]),
        ("a subclass of int", [(1, "x"), (Flag.ON, "y")]),
        ("a dict value", [(1, "x"), (2, {"k": 1})]),
        ("a row too short", [(1, "x"), (2,)]),
        ("a set row", [(1, "x"), {2}]),
    ]
    results: dict[str, list[Any]] = {}
    for label, conn in (("real", drivers.real), ("shim", drivers.shim)):
        out = results.setdefault(label, [])
        cur = conn.cursor()
        cur.execute(f"CREATE TEMP TABLE {name} (a int, b text)")
        for what, rows in many:
            try:
                cur.executemany(f"INSERT INTO {name} VALUES (%s, %s)", rows)
                cur.execute(f"SELECT a, b FROM {name} ORDER BY a")
                out.append((what, cur.fetchall()))
            except Exception as e:  # noqa: BLE001 - the kind of error is compared
                out.append((what, _builtin_kind(e)))
            conn.rollback()
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} (a int, b text)")
            cur.execute(f"TRUNCATE {name}")
        conn.rollback()
    # A dict is JSON text in Puff (documented: docs/postgres.md, "Parameters"); psycopg2
    # cannot adapt it.
    assert results["real"][3] == ("a dict value", "ProgrammingError")
    assert results["shim"][3] == ("a dict value", [(1, "x"), (2, '{"k": 1}')])
    del results["real"][3], results["shim"][3]
    assert results["shim"] == results["real"]
    assert results["real"][0] == ("plain", [(1, "x"), (2, "y"), (3, None)])  # not vacuous


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("SELECT %s, %s", (1,)),
        ("SELECT %s", (1, 2)),
        ("SELECT %(a)s", {"b": 1}),
        ("SELECT %(a)s", (1,)),
        ("SELECT %s", {2}),
        ("SELECT %s", {"a": 1}),
        ("SELECT %s", 5),
        ("SELECT %s %(a)s", {"a": 1}),
        ("SELECT %s %(a)s", (1,)),
        ("SELECT %d", (1,)),
        ("SELECT %(a", {"a": 1}),
        ("SELECT %(a)s %s", {"a": 1}),
    ],
)
def test_parameters_that_do_not_fit_raise_psycopg2s_errors(
    drivers: Drivers, sql: str, params: Any
) -> None:
    kinds = {}
    for label, conn in (("real", drivers.real), ("shim", drivers.shim)):
        with pytest.raises(Exception) as raised:  # noqa: PT011 - the kind is compared below
            conn.cursor().execute(sql, params)
        kinds[label] = _builtin_kind(raised.value)
        conn.rollback()
    assert kinds["shim"] == kinds["real"]


class Flag(enum.IntEnum):
    ON = 2


def _builtin_kind(e: Exception) -> str:
    """The built-in exception ``e`` is (psycopg2 raises these for parameters that do not
    fit; Puff's also are ProgrammingError), else its class name."""
    kinds = (IndexError, TypeError, KeyError, ValueError)
    return next((k.__name__ for k in kinds if isinstance(e, k)), type(e).__name__)


# ---- wrappers: Json, Inet, ranges, AsIs, register_adapter --------------------------------


def test_wrappers(drivers: Drivers) -> None:
    d1, d2 = dt.date(2024, 1, 1), dt.date(2024, 2, 1)
    t1, t2 = dt.datetime(2024, 1, 1, 8), dt.datetime(2024, 1, 2, 9, 30)
    a1 = dt.datetime(2024, 1, 1, 8, tzinfo=PLUS2)
    cases: list[tuple[str, Callable[[ModuleType, ModuleType], Any]]] = [
        ("SELECT %s", lambda e, x: [x.Json({"a": [1, None, "ü"]})]),
        ("SELECT %s::jsonb", lambda e, x: [x.Json({"a": 1})]),
        ("SELECT %s::jsonb -> 'a'", lambda e, x: [x.Json({"a": {"b": 2}})]),
        ("SELECT %s::json", lambda e, x: [x.Json([1, "two", None])]),
        ("SELECT %s::jsonb ->> 'k'", lambda e, x: [x.Json({"k": "it's"})]),
        ("SELECT %s", lambda e, x: [[x.Json(1), x.Json("s")]]),
        ("SELECT %s", lambda e, x: [x.Inet("10.0.0.1")]),
        ("SELECT %s", lambda e, x: [x.Inet("10.0.0.0/8")]),
        ("SELECT pg_typeof(%s)::text", lambda e, x: [x.Inet("::1")]),
        ("SELECT %s << '10.0.0.0/8'::inet", lambda e, x: [x.Inet("10.1.2.3")]),
        ("SELECT %s", lambda e, x: [[x.Inet("10.0.0.1"), x.Inet("::1")]]),
        ("SELECT %s", lambda e, x: [x.Inet("not an address")]),
        ("SELECT %s::int4range", lambda e, x: [x.NumericRange(1, 5)]),
        ("SELECT %s::int8range", lambda e, x: [x.NumericRange(None, 5, "(]")]),
        (
            "SELECT %s::numrange",
            lambda e, x: [x.NumericRange(Decimal("1.5"), Decimal("2.5"), "[]")],
        ),
        ("SELECT %s::int4range", lambda e, x: [x.NumericRange(empty=True)]),
        ("SELECT %s", lambda e, x: [x.DateRange(d1, d2)]),
        ("SELECT %s", lambda e, x: [x.DateRange(d1, None, "[]")]),
        ("SELECT %s", lambda e, x: [x.DateRange(empty=True)]),
        ("SELECT %s", lambda e, x: [x.DateTimeRange(t1, t2, "[]")]),
        ("SELECT %s", lambda e, x: [x.DateTimeTZRange(a1, None)]),
        ("SELECT %s @> %s::date", lambda e, x: [x.DateRange(d1, d2), "2024-01-15"]),
        ("SELECT upper(%s)", lambda e, x: [x.DateTimeRange(t1, t2)]),
        ("SELECT '[1,10)'::int4range, '(1.5,)'::numrange, 'empty'::int8range", lambda e, x: []),
        (
            "SELECT '[2024-01-01,2024-02-01)'::daterange, '[2024-01-01 10:00,)'::tsrange",
            lambda e, x: [],
        ),
        ("SELECT '[2024-01-01 10:00+02,2024-01-02 00:00+00)'::tstzrange", lambda e, x: []),
        ("SELECT %s + 1", lambda e, x: [e.AsIs("41")]),
        ("SELECT %s", lambda e, x: [e.AsIs("NULL")]),
        ("SELECT %s", lambda e, x: [e.QuotedString("it's")]),
        ("SELECT %s IN %s", lambda e, x: [e.AsIs("2"), (1, e.AsIs("1 + 1"))]),
        ("SELECT %s", lambda e, x: [x.Json({"k": "\x00"})]),
    ]
    for sql, make in cases:
        drivers.compare(sql, make, sql)
    drivers.assert_same()


def test_register_adapter_for_a_user_type(drivers: Drivers) -> None:
    real_ext.register_adapter(Point, _point_adapter(real_ext))
    puff_ext.register_adapter(Point, _point_adapter(puff_ext))
    try:
        drivers.compare("SELECT %s", [Point(1.5, 2)])
        drivers.compare("SELECT %s[0], %s", [Point(3, 4), "x"])
        drivers.compare("SELECT %s IN %s", [2, (1, Point(0, 0))])
        # psycopg2 writes ARRAY[...] of the adapter's text; Puff binds lists and says it
        # cannot write SQL text inside one.
        with pytest.raises(puff.postgres.NotSupportedError, match="getquoted"):
            drivers.native.cursor().execute("SELECT %s", [[Point(1, 2)]])
        drivers.native.rollback()
    finally:
        real_ext.adapters.pop((Point, real_ext.ISQLQuote), None)
        puff.postgres._adapters.pop(Point, None)
    drivers.assert_same()


# ---- time zones -------------------------------------------------------------------------

ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Europe/Paris", "Australia/Lord_Howe"]

TZ_CASES: list[tuple[str, list[Any]]] = [
    ("SELECT %s::timestamptz", [dt.datetime(2024, 6, 1, 12, 0)]),
    ("SELECT %s::timestamptz", [dt.datetime(2024, 1, 1, 12, 0)]),
    ("SELECT %s::timestamp", [dt.datetime(2024, 6, 1, 12, 0, tzinfo=PLUS2)]),
    ("SELECT %s", [dt.datetime(2024, 6, 1, 12, 0, tzinfo=PLUS2)]),
    ("SELECT %s = %s::timestamptz", [dt.datetime(2024, 6, 1, 12), "2024-06-01 12:00"]),
    ("SELECT %s::date", [dt.datetime(2024, 6, 1, 23, 30, tzinfo=UTC)]),
    ("SELECT date_trunc('day', %s::timestamptz)", [dt.datetime(2024, 3, 10, 6, 30, tzinfo=UTC)]),
    ("SELECT '2024-06-01 12:00+00'::timestamptz, '2024-12-01 12:00+00'::timestamptz", []),
    ("SELECT '1900-01-01 00:00+00'::timestamptz", []),
    ("SELECT '12:00+02'::timetz, '12:00'::time, %s::timetz", [dt.time(1, 2, tzinfo=MINUS0530)]),
    ("SELECT 'infinity'::timestamptz, '-infinity'::timestamp, 'infinity'::date", []),
    ("SELECT '1 year 2 mons 3 days 04:05:06.5'::interval, '-1 year -1 day'::interval", []),
    ("SELECT '-00:00:00.25'::interval, '1 day -02:00'::interval", []),
    ("SELECT %s::timestamptz AT TIME ZONE 'UTC'", [dt.datetime(2024, 6, 1, 12)]),
    ("SELECT extract(hour FROM %s::timestamptz)", [dt.datetime(2024, 6, 1, 12)]),
    ("SELECT ARRAY['2024-01-01 00:00+00'::timestamptz, NULL]", []),
]


@pytest.fixture
def zone_drivers(drivers: Drivers) -> Iterator[Drivers]:
    native = puff.postgres._require_native()
    before = native.session_timezone("default")
    yield drivers
    native.set_session_timezone("default", before)


@pytest.mark.parametrize("zone", ZONES)
def test_session_time_zones(zone_drivers: Drivers, zone: str) -> None:
    """Each zone as Django sets it: the pool's sessions run in it (puff), ``SET TIME ZONE``
    on the connection (psycopg2). Also with ``tzinfo_factory = None`` (Django's cursors
    with USE_TZ = False: naive values) and a factory returning UTC (USE_TZ = True)."""
    drivers = zone_drivers
    puff.postgres._require_native().set_session_timezone("default", zone)
    cur = drivers.real.cursor()
    cur.execute("SET TIME ZONE %s", [zone])
    drivers.real.commit()
    for sql, params in TZ_CASES:
        for factory in ("default", None, lambda _offset: UTC):
            label = f"in {zone}, tzinfo_factory={'default' if factory == 'default' else factory}"
            drivers.compare(sql, params, label, tzinfo_factory=factory)
    drivers.assert_same()


def test_set_time_zone_statement_is_followed(drivers: Drivers) -> None:
    """A ``SET TIME ZONE`` run through the cursor changes how later results are shown."""
    for conn in (drivers.real, drivers.shim):
        cur = conn.cursor()
        cur.execute("SET TIME ZONE 'Asia/Tokyo'")
    drivers.compare("SELECT '2024-06-01 12:00+00'::timestamptz", [], native=False)
    for conn in (drivers.real, drivers.shim):
        conn.rollback()  # the SET was in the open transaction: undone
    drivers.compare("SELECT '2024-06-01 12:00+00'::timestamptz", [], native=False)
    drivers.assert_same()


def test_naive_datetime_is_read_in_the_session_zone(zone_drivers: Drivers) -> None:
    drivers = zone_drivers
    name = f"params_tz_{os.getpid()}"
    puff.postgres._require_native().set_session_timezone("default", "America/Chicago")
    setup = drivers.real.cursor()
    setup.execute("SET TIME ZONE 'America/Chicago'")
    setup.execute(f"CREATE TABLE {name} (who text, tz timestamptz, ts timestamp)")
    drivers.real.commit()
    try:
        values = [dt.datetime(2024, 7, 4, 9, 0), dt.datetime(2024, 7, 4, 9, 0, tzinfo=UTC)]
        for who, conn in (
            ("real", drivers.real),
            ("shim", drivers.shim),
            ("native", drivers.native),
        ):
            cur = conn.cursor()
            cur.execute(f"INSERT INTO {name} VALUES (%s, %s, %s)", [who, values[0], values[1]])
            conn.commit()
        for who in ("real", "shim", "native"):
            drivers.compare(
                f"SELECT tz, ts, tz = %s FROM {name} WHERE who = %s", [values[0], who], who
            )
        drivers.compare(f"SELECT count(DISTINCT (tz, ts)) FROM {name}", [])
    finally:
        setup.execute(f"DROP TABLE {name}")
        drivers.real.commit()
    drivers.assert_same()


def test_zone_set_in_autocommit_stays_with_its_connection(zone_drivers: Drivers) -> None:
    """Django's ``ensure_timezone`` (``set_config('TimeZone', ...)`` in autocommit, only
    when ``connection.info.parameter_status('TimeZone')`` differs): psycopg2 keeps the zone
    in its one session. Puff's pooled sessions are shared, so the zone must follow the
    connection to each session it checks out and not leak to other connections (the
    regression: Django's tests saw values shifted by Chicago's offset)."""
    drivers = zone_drivers
    puff.postgres._require_native().set_session_timezone("default", "UTC")
    for conn in (drivers.real, drivers.shim):
        conn.autocommit = True
        conn.cursor().execute("SELECT set_config('TimeZone', %s, false)", ["America/Chicago"])
    assert drivers.shim.info.parameter_status("TimeZone") == "America/Chicago"
    # Another connection holds the session the zone was set on (a transaction keeps it).
    other = puff.psycopg2.connect()
    try:
        other_cur = other.cursor()
        other_cur.execute("SHOW TimeZone")
        assert other_cur.fetchone() == ("UTC",), "the pool's zone, not the other connection's"
        assert other.info.parameter_status("TimeZone") == "UTC"
        for sql, params in TZ_CASES[:6]:
            drivers.compare(sql, params, "after set_config in autocommit", native=False)
        drivers.compare("SHOW TimeZone", [], native=False)
        drivers.compare(
            "SELECT %s::timestamptz", [dt.datetime(2024, 1, 5, 20, 30)], "naive", native=False
        )
    finally:
        other.close()
    assert drivers.shim.info.parameter_status("TimeZone") == "America/Chicago"
    # A SET in a transaction is the connection's until the rollback undoes it, whether
    # the rollback is the method or a statement.
    for undo in ("method", "statement"):
        for conn in (drivers.real, drivers.shim):
            conn.autocommit = False
            conn.cursor().execute("SET TIME ZONE 'Asia/Tokyo'")
        assert drivers.shim.info.parameter_status("TimeZone") == "Asia/Tokyo"
        for conn in (drivers.real, drivers.shim):
            if undo == "method":
                conn.rollback()
            else:
                conn.cursor().execute("ROLLBACK")
        assert drivers.shim.info.parameter_status("TimeZone") == "America/Chicago", undo
        drivers.compare("SELECT '2024-06-01 12:00+00'::timestamptz", [], undo, native=False)
    # A rollback to a savepoint set before the SET undoes it too (Django's atomic blocks).
    for conn in (drivers.real, drivers.shim):
        conn.rollback()  # psycopg2 did not notice the ROLLBACK statement: start afresh
        cur = conn.cursor()
        cur.execute("SELECT 1")
        cur.execute("SAVEPOINT s1")
        cur.execute("SELECT set_config('TimeZone', %s, false)", ["Asia/Kolkata"])
    assert drivers.shim.info.parameter_status("TimeZone") == "Asia/Kolkata"
    for conn in (drivers.real, drivers.shim):
        conn.cursor().execute("ROLLBACK TO SAVEPOINT s1")
    assert drivers.shim.info.parameter_status("TimeZone") == "America/Chicago"
    drivers.compare("SELECT '2024-06-01 12:00+00'::timestamptz", [], "savepoint", native=False)
    for conn in (drivers.real, drivers.shim):
        conn.rollback()
    drivers.assert_same()


# ---- hstore -----------------------------------------------------------------------------


@pytest.fixture
def hstore(drivers: Drivers) -> Iterator[Drivers]:
    cur = drivers.real.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS hstore")
    drivers.real.commit()
    yield drivers
    # register_hstore adapts every dict, in both modules: undo it for the tests after.
    real_ext.adapters.pop((dict, real_ext.ISQLQuote), None)
    puff.postgres._adapters.pop(dict, None)
    puff.postgres._require_native().set_hstore_dicts(False)
    puff_extras.HstoreAdapter._oid = 0


def test_hstore(hstore: Drivers) -> None:
    drivers = hstore
    unregistered = 'SELECT \'a=>1, "b c"=>NULL, q=>"it\'\'s \\\\"x\\\\""\'::hstore'
    drivers.compare(unregistered, [], "unregistered")
    real_extras.register_hstore(drivers.real)
    puff_extras.register_hstore(drivers.shim, globally=True)
    drivers.compare(unregistered, [], "registered")
    value = {"a": "1", "b": None, "it's": 'q"uote\\'}
    drivers.compare("SELECT %s", [value], "registered")
    drivers.compare("SELECT %s -> 'a', pg_typeof(%s)::text", [value, value], "registered")
    drivers.compare("SELECT %s", [{}], "registered")
    drivers.compare("SELECT akeys(%s)", [{"k": "v"}], "registered")
    drivers.compare("SELECT %s::jsonb", lambda e, x: [x.Json({"a": 1})], "json stays json")
    drivers.assert_same()


def test_literals_are_read_under_the_current_settings(drivers: Drivers) -> None:
    """Puff prepares statements and keeps them per connection; the server reads a literal
    (``'...'::timestamptz``, ``'01/02/2024'::date``) when preparing, under the TimeZone and
    DateStyle of that moment. After a SET the same text must give psycopg2's result, which
    reads the literal anew each time (psycopg2 prepares nothing)."""
    sql = "SELECT '2024-01-01 00:00'::timestamptz, '01/02/2024'::date, %s"
    results = {}
    for label, conn in (("real", drivers.real), ("shim", drivers.shim)):
        cur = conn.cursor()
        seen = []
        for setting in (
            "SET TIME ZONE 'UTC'",
            "SET TIME ZONE 'Asia/Kolkata'",
            "SET DateStyle = 'ISO, DMY'",
            "SELECT set_config('TimeZone', 'America/New_York', false)",
        ):
            cur.execute(setting)
            cur.execute(sql, (1,))
            row = cur.fetchone()
            seen.append((row[0].isoformat(), row[1].isoformat()))
        results[label] = seen
        conn.rollback()
    assert results["shim"] == results["real"]
    # Not vacuous: the zone and the date order changed what the literals mean.
    assert len({s[0] for s in results["real"]}) == 3
    assert len({s[1] for s in results["real"]}) == 2
