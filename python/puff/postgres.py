"""DB-API 2.0 access to Postgres through Puff's Rust connection pools.

``connect(name)`` returns a connection on the pool configured by the ``[[postgres]]``
entry of that name in ``puff.toml``. Queries run on Tokio: a greenlet waiting for
Postgres lets every other greenlet run. Parameters use ``%s`` / ``%(name)s`` placeholders
(``paramstyle = "pyformat"``) and give psycopg2's results: each value is sent as a bind
parameter typed the way psycopg2's SQL literal for it would be (an int is an ``int4``,
``int8`` or ``numeric`` constant, a float a ``numeric`` one, a str an unknown-typed literal
the server types from its context, ...), a tuple becomes ``($1, $2, ...)`` for ``IN %s``,
and only objects adapted by ``AsIs`` or a user's ``getquoted()`` adapter are written into
the SQL text, as psycopg2 writes them.

As in psycopg2, a connection opens a transaction with its first statement and keeps it
until ``commit()`` or ``rollback()`` (unless ``autocommit`` is true); ``with conn:``
commits on success and rolls back on an exception. A pooled connection is held only while
a transaction is open, and a connection object that is dropped without ``close()`` rolls
back and returns its connection to the pool.
"""

from __future__ import annotations

import contextvars
import datetime
import decimal
import functools
import json
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from puff import PuffNotRunningError, _native

if TYPE_CHECKING:
    from puff._native import _PostgresModule

__all__ = [
    "apilevel",
    "threadsafety",
    "paramstyle",
    "connect",
    "Connection",
    "Cursor",
    "Column",
    "Json",
    "Range",
    "NumericRange",
    "DateRange",
    "DateTimeRange",
    "DateTimeTZRange",
    "Binary",
    "Date",
    "Time",
    "Timestamp",
    "DateFromTicks",
    "TimeFromTicks",
    "TimestampFromTicks",
    "TypeObject",
    "STRING",
    "BINARY",
    "NUMBER",
    "DATETIME",
    "ROWID",
    "pool_status",
    "pool_names",
    "pool_database",
    "Warning",
    "Error",
    "InterfaceError",
    "DatabaseError",
    "DataError",
    "OperationalError",
    "IntegrityError",
    "InternalError",
    "ProgrammingError",
    "NotSupportedError",
]

apilevel = "2.0"
threadsafety = 1
paramstyle = "pyformat"

_native_pg: _PostgresModule | None = (
    getattr(_native, "postgres", None) if _native is not None else None
)

if _native is not None and _native_pg is None:
    raise ImportError(
        "puff.postgres needs the `postgres` feature, which this build of Puff does not "
        "include: rebuild with it enabled (e.g. `cargo xtask build --features http,postgres` "
        "or `cargo build -p puff-cli --features postgres`)"
    )

if TYPE_CHECKING:  # the native classes, as puff/_native.pyi describes them
    from puff._native import _PostgresColumn as Column
    from puff._native import _PostgresDatabaseError as DatabaseError
    from puff._native import _PostgresDataError as DataError
    from puff._native import _PostgresError as Error
    from puff._native import _PostgresIntegrityError as IntegrityError
    from puff._native import _PostgresInterfaceError as InterfaceError
    from puff._native import _PostgresInternalError as InternalError
    from puff._native import _PostgresNotSupportedError as NotSupportedError
    from puff._native import _PostgresOperationalError as OperationalError
    from puff._native import _PostgresProgrammingError as ProgrammingError
    from puff._native import _PostgresWarning as Warning  # noqa: A004
elif _native_pg is not None:
    Warning = _native_pg.Warning  # noqa: A001
    Error = _native_pg.Error
    InterfaceError = _native_pg.InterfaceError
    DatabaseError = _native_pg.DatabaseError
    DataError = _native_pg.DataError
    OperationalError = _native_pg.OperationalError
    IntegrityError = _native_pg.IntegrityError
    InternalError = _native_pg.InternalError
    ProgrammingError = _native_pg.ProgrammingError
    NotSupportedError = _native_pg.NotSupportedError
    Column = _native_pg.Column
else:  # outside the runtime: importable for tools and type checkers

    class Warning(Exception):  # type: ignore[no-redef]  # noqa: A001
        pass

    class Error(Exception):  # type: ignore[no-redef]
        pgcode: str | None = None
        pgerror: str | None = None

    class InterfaceError(Error):  # type: ignore[no-redef]
        pass

    class DatabaseError(Error):  # type: ignore[no-redef]
        pass

    class DataError(DatabaseError):  # type: ignore[no-redef]
        pass

    class OperationalError(DatabaseError):  # type: ignore[no-redef]
        pass

    class IntegrityError(DatabaseError):  # type: ignore[no-redef]
        pass

    class InternalError(DatabaseError):  # type: ignore[no-redef]
        pass

    class ProgrammingError(DatabaseError):  # type: ignore[no-redef]
        pass

    class NotSupportedError(DatabaseError):  # type: ignore[no-redef]
        pass

    class Column(tuple):  # type: ignore[no-redef]  # noqa: SLOT001
        """``cursor.description`` row: the native class inside the runtime (this stand-in
        only lets the module import elsewhere)."""

        name: str
        type_code: int
        display_size: int | None
        internal_size: int | None
        precision: int | None
        scale: int | None
        null_ok: bool | None
        table_oid: int | None
        table_column: int | None


# Parameters that do not fit the placeholders raise what psycopg2 raises (IndexError,
# TypeError, KeyError, ValueError: its `%` formatting's errors), which are also
# ProgrammingError, as PEP 249 names the kind: code written for either catches them.
class ParameterIndexError(ProgrammingError, IndexError):
    """Fewer parameters than ``%s`` placeholders."""


class ParameterTypeError(ProgrammingError, TypeError):
    """More parameters than placeholders, or parameters of the wrong kind (a mapping for
    ``%s``, a sequence for ``%(name)s``, neither)."""


class ParameterValueError(ProgrammingError, ValueError):
    """A ``%`` in the statement that is no placeholder (write ``%%`` for a literal one)."""


class ParameterKeyError(ProgrammingError, KeyError):
    """No value for a ``%(name)s`` placeholder."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _require_native() -> _PostgresModule:
    if _native_pg is None:
        raise PuffNotRunningError(
            "puff.postgres works only inside the Puff runtime (`puff-cli`, or a Rust binary "
            "built on puff-core with the `postgres` feature)"
        )
    return _native_pg


class Json:
    """Send ``adapted`` as JSON (dicts are sent as JSON without this wrapper). As psycopg2's
    ``Json``, the text is an unknown-typed literal: a ``json``/``jsonb`` column or cast
    types it."""

    def __init__(self, adapted: Any, dumps: Any = None) -> None:
        self.adapted = adapted
        self._dumps = dumps or json.dumps

    def dumps(self, obj: Any) -> str:
        return str(self._dumps(obj))

    def __puff_param__(self) -> tuple[int, str]:
        return 0, self.dumps(self.adapted)


# ---- ranges ---------------------------------------------------------------------------


class Range:
    """A Postgres range value (``lower``, ``upper``, ``bounds`` like ``"[)"``), as
    psycopg2's ``extras.Range``."""

    _type_oid = 0  # the range type a parameter is sent as (0: inferred by the server)

    def __init__(
        self, lower: Any = None, upper: Any = None, bounds: str = "[)", empty: bool = False
    ) -> None:
        if not empty and bounds not in ("[)", "(]", "()", "[]"):
            raise ValueError(f"bound flags not valid: {bounds!r}")
        self._lower = None if empty else lower
        self._upper = None if empty else upper
        self._bounds = None if empty else bounds

    lower = property(lambda self: self._lower)
    upper = property(lambda self: self._upper)
    isempty = property(lambda self: self._bounds is None)

    @property
    def lower_inf(self) -> bool:
        return self._bounds is not None and self._lower is None

    @property
    def upper_inf(self) -> bool:
        return self._bounds is not None and self._upper is None

    @property
    def lower_inc(self) -> bool:
        return self._bounds is not None and self._lower is not None and self._bounds[0] == "["

    @property
    def upper_inc(self) -> bool:
        return self._bounds is not None and self._upper is not None and self._bounds[1] == "]"

    def __contains__(self, x: Any) -> bool:
        if self._bounds is None:
            return False
        if self._lower is not None and (
            x < self._lower or (x == self._lower and not self.lower_inc)
        ):
            return False
        return not (
            self._upper is not None
            and (x > self._upper or (x == self._upper and not self.upper_inc))
        )

    def __bool__(self) -> bool:
        return self._bounds is not None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Range):
            return False
        return (self._lower, self._upper, self._bounds) == (
            other._lower,
            other._upper,
            other._bounds,
        )

    def __hash__(self) -> int:
        return hash((self._lower, self._upper, self._bounds))

    def __repr__(self) -> str:
        if self._bounds is None:
            return f"{type(self).__name__}(empty=True)"
        return f"{type(self).__name__}({self._lower!r}, {self._upper!r}, {self._bounds!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {"_lower": self._lower, "_upper": self._upper, "_bounds": self._bounds}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            setattr(self, k, v)

    def _bound_text(self, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, (datetime.date, datetime.time)):
            text = value.isoformat()
        else:
            text = str(value)
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def __puff_param__(self) -> tuple[int, str]:
        """The range's text, typed as the range type (psycopg2 writes ``daterange(a, b,
        '[)')``; numeric ranges stay unknown-typed, ``'[1,2)'``)."""
        if self._bounds is None:
            return self._type_oid, "empty"
        lower, upper = self._bound_text(self._lower), self._bound_text(self._upper)
        return self._type_oid, f"{self._bounds[0]}{lower},{upper}{self._bounds[1]}"


class NumericRange(Range):
    """int4range, int8range or numrange (sent unknown-typed, as psycopg2 does)."""


class DateRange(Range):
    _type_oid = 3912  # daterange


class DateTimeRange(Range):
    _type_oid = 3908  # tsrange


class DateTimeTZRange(Range):
    _type_oid = 3910  # tstzrange


# Result classes by range type OID (register_range adds more).
_range_classes: dict[int, type[Range]] = {
    3904: NumericRange,
    3926: NumericRange,
    3906: NumericRange,
    3912: DateRange,
    3908: DateTimeRange,
    3910: DateTimeTZRange,
}


def _make_range(type_oid: int, lower: Any, upper: Any, bounds: str, empty: bool) -> Range:
    """A range result (called by the native module)."""
    cls = _range_classes.get(type_oid, Range)
    if empty:
        return cls(empty=True)
    return cls(lower, upper, bounds)


# ---- adaptation of parameters -----------------------------------------------------------

# Types the native module binds itself: a parameter list of only these needs no Python
# work (`register_adapter` on one of them takes it out).
_NATIVE_TYPES: set[type] = {
    type(None),
    bool,
    int,
    float,
    str,
    bytes,
    bytearray,
    memoryview,
    datetime.date,
    datetime.datetime,
    datetime.time,
    datetime.timedelta,
    decimal.Decimal,
    uuid.UUID,
    list,
}

# `register_adapter` registrations (shared with puff.psycopg2.extensions), by class.
_adapters: dict[type, Callable[[Any], Any]] = {}


def register_adapter(typ: type, adapter: Callable[[Any], Any]) -> None:
    """Adapt instances of ``typ`` (and its subclasses) with ``adapter``, as psycopg2's
    ``register_adapter``: it returns an object with ``getquoted()`` (written into the SQL,
    as psycopg2 does) or a Puff value wrapper (``Json``, ranges, ...)."""
    _adapters[typ] = adapter
    _NATIVE_TYPES.discard(typ)


def _registered(value: Any) -> Callable[[Any], Any] | None:
    if not _adapters:
        return None
    for klass in type(value).__mro__:
        adapter = _adapters.get(klass)
        if adapter is not None:
            return adapter
    return None


def _conformed(value: Any) -> Any:
    """``value`` after its registered adapter or ``__conform__`` (itself without them)."""
    adapter = _registered(value)
    if adapter is not None:
        return adapter(value)
    conform = getattr(value, "__conform__", None)
    if conform is not None and not hasattr(value, "__puff_param__"):
        from puff.psycopg2.extensions import ISQLQuote

        adapted = conform(ISQLQuote)
        if adapted is not None:
            return adapted
    return value


_JSON_UNTYPED = 114


def _adapt_value(value: Any) -> Any:
    """A parameter the native module does not bind itself, as one it does or as
    ``(oid, text)`` (text the server reads as type ``oid``; 0: inferred). Called by it for
    list elements and other objects."""
    value = _conformed(value)
    puff_param = getattr(value, "__puff_param__", None)
    if puff_param is not None:
        return puff_param()
    if isinstance(value, dict):
        # Puff's own: dicts are JSON (psycopg2 cannot adapt them unregistered). OID 114
        # asks the native module for an untyped JSON value, so that a list of dicts can
        # fill a json[] or jsonb[] column.
        return _JSON_UNTYPED, json.dumps(value)
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        return 1184, value.isoformat()  # no UTC offset: the session's zone applies
    if isinstance(value, datetime.time) and value.tzinfo is not None:
        return 1266, value.isoformat()
    if hasattr(value, "getquoted"):
        raise NotSupportedError(
            f"{type(value).__name__} adapts by writing SQL text (getquoted()), which Puff "
            "does only for a top-level parameter, not inside a list"
        )
    if type(value) in _NATIVE_TYPES or isinstance(value, (list, tuple)):
        return value
    raise ProgrammingError(f"can't adapt type '{type(value).__name__}'")


def _spliced(value: Any) -> str | None:
    """The SQL text psycopg2 writes for ``value`` when that text is all there is to it (an
    ``AsIs`` or a user's ``getquoted()`` adapter); None when it can be bound."""
    value = _conformed(value)
    if hasattr(value, "__puff_param__") or not hasattr(value, "getquoted"):
        return None
    quoted = value.getquoted()
    return quoted.decode() if isinstance(quoted, bytes) else str(quoted)


# UTC under the names Postgres reports for it.
_UTC_ZONES = (
    "UTC", "Etc/UTC", "GMT", "Etc/GMT", "UCT", "Etc/UCT", "Universal", "Etc/Universal",
    "Zulu", "Etc/Zulu", "GMT0", "Etc/GMT0", "GMT+0", "GMT-0", "Etc/GMT+0", "Etc/GMT-0",
    "Greenwich", "Etc/Greenwich", "+00", "-00", "+00:00", "Z",
)  # fmt: skip
_UTC_NAMES = frozenset(n.lower() for n in _UTC_ZONES)


@functools.lru_cache(maxsize=64)
def _session_zone(name: str) -> datetime.tzinfo | None:
    """The tzinfo of a session ``TimeZone`` setting; None for UTC (called by the native
    module to show timestamptz values in the session's zone, as psycopg2 receives them)."""
    if name.lower() in _UTC_NAMES:
        return None
    try:
        import zoneinfo

        return zoneinfo.ZoneInfo(name)
    except Exception:  # noqa: BLE001 - not an IANA name: maybe a fixed offset
        pass
    m = re.fullmatch(r"<?([+-])(\d{1,2})(?::?(\d{2}))?>?.*", name)
    if m is None:
        return None
    sign = 1 if m.group(1) == "+" else -1
    minutes = int(m.group(2)) * 60 + int(m.group(3) or 0)
    # A POSIX-style name `<+02>-02` spells the offset east of UTC in its <...> part.
    return datetime.timezone(datetime.timedelta(minutes=sign * minutes))


def Binary(data: bytes | bytearray | memoryview) -> bytes:  # noqa: N802 (DB-API name)
    """DB-API constructor for binary values."""
    return bytes(data)


# ---- DB-API constructors and type objects ---------------------------------------------


def Date(year: int, month: int, day: int) -> datetime.date:  # noqa: N802 (DB-API name)
    """DB-API constructor of a date value (a ``datetime.date``)."""
    return datetime.date(year, month, day)


def _split_seconds(second: float) -> tuple[int, int]:
    whole = int(second)
    return whole, round((second - whole) * 1_000_000)


def Time(  # noqa: N802 (DB-API name)
    hour: int, minute: int, second: float, tzinfo: datetime.tzinfo | None = None
) -> datetime.time:
    """DB-API constructor of a time value (a ``datetime.time``; seconds may be a float)."""
    whole, micro = _split_seconds(second)
    return datetime.time(hour, minute, whole, micro, tzinfo=tzinfo)


def Timestamp(  # noqa: N802 (DB-API name)
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: float = 0,
    tzinfo: datetime.tzinfo | None = None,
) -> datetime.datetime:
    """DB-API constructor of a timestamp value (a ``datetime.datetime``)."""
    whole, micro = _split_seconds(second)
    return datetime.datetime(year, month, day, hour, minute, whole, micro, tzinfo=tzinfo)


def DateFromTicks(ticks: float) -> datetime.date:  # noqa: N802 (DB-API name)
    """The local date at ``ticks`` seconds since the epoch."""
    return datetime.date.fromtimestamp(ticks)


def TimeFromTicks(ticks: float) -> datetime.time:  # noqa: N802 (DB-API name)
    """The local time of day at ``ticks`` seconds since the epoch."""
    return datetime.datetime.fromtimestamp(ticks).time()


def TimestampFromTicks(ticks: float) -> datetime.datetime:  # noqa: N802 (DB-API name)
    """The local (naive) timestamp at ``ticks`` seconds since the epoch."""
    return datetime.datetime.fromtimestamp(ticks)


class TypeObject:
    """A DB-API type object: equal to each ``type_code`` of ``cursor.description`` (a
    Postgres type OID) in its group, e.g. ``cur.description[0].type_code == NUMBER``."""

    def __init__(self, name: str, values: Iterable[int]) -> None:
        self.name = name
        self.values = tuple(values)
        self._set = frozenset(self.values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TypeObject):
            return self.values == other.values
        if isinstance(other, int) and not isinstance(other, bool):
            return other in self._set
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to several ints: unhashable

    def __repr__(self) -> str:
        return f"<puff.postgres type {self.name} {self.values}>"


STRING = TypeObject("STRING", (19, 18, 25, 1042, 1043))  # name, "char", text, char, varchar
BINARY = TypeObject("BINARY", (17,))  # bytea
NUMBER = TypeObject("NUMBER", (20, 23, 21, 701, 700, 1700))  # ints, floats, numeric
# Every date/time type (psycopg2's DATETIME, in puff.psycopg2, is timestamp only).
DATETIME = TypeObject("DATETIME", (1114, 1184, 1082, 1083, 1266, 1186))
ROWID = TypeObject("ROWID", (26,))  # oid


# ---- placeholders -------------------------------------------------------------------


def convert_placeholders(sql: str, named: bool) -> tuple[str, list[str] | int]:
    """Turn ``%s`` / ``%(name)s`` placeholders outside quotes and comments into ``$n``.

    Returns the new SQL and either the parameter names in ``$n`` order (``named``; a name
    used twice is two parameters, as psycopg2 writes its value twice) or the number of
    positional parameters. ``%%`` becomes ``%`` everywhere, as in psycopg2; any other
    ``%`` inside string literals, quoted identifiers and comments is left alone.
    """
    segments, spec = _split_placeholders(sql, named)
    return _join(segments, [f"${i}" for i in range(1, len(segments))]), spec


def _join(segments: list[str], placeholders: list[str]) -> str:
    out = [segments[0]]
    for placeholder, segment in zip(placeholders, segments[1:]):
        out.append(placeholder)
        out.append(segment)
    return "".join(out)


def _split_placeholders(sql: str, named: bool) -> tuple[list[str], list[str] | int]:
    """The SQL text around each placeholder (one more segment than placeholders) and the
    placeholders' names (``named``) or count."""
    segments: list[str] = []
    out: list[str] = []
    names: list[str] = []
    i = 0
    n = len(sql)
    while i < n:
        c = sql[i]
        if c == "'" or c == '"':
            # Quoted literal or identifier: '' / "" escape the quote; E'' strings also
            # escape with backslashes.
            escape_backslash = (
                c == "'" and i > 0 and sql[i - 1] in "eE" and (i < 2 or not sql[i - 2].isalnum())
            )
            j = i + 1
            while j < n:
                if escape_backslash and sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i : j + 1].replace("%%", "%"))
            i = j + 1
        elif c == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            out.append(sql[i:j])
            i = j
        elif c == "/" and sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(sql[i:j])
            i = j
        elif c == "$" and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
            # Dollar quoting: $$...$$ or $tag$...$tag$ ($1 parameters are left as they are).
            k = i + 1
            while k < n and (sql[k].isalnum() or sql[k] == "_"):
                k += 1
            tag = sql[i : k + 1]
            if k < n and sql[k] == "$" and not tag[1:2].isdigit():
                end = sql.find(tag, k + 1)
                end = n if end < 0 else end + len(tag)
                out.append(sql[i:end])
                i = end
            else:
                out.append(c)
                i += 1
        elif c == "%":
            nxt = sql[i + 1 : i + 2]
            if nxt == "%":
                out.append("%")
                i += 2
            elif nxt == "s" and not named:
                segments.append("".join(out))
                out = []
                i += 2
            elif nxt == "(" and named:
                close = sql.find(")", i + 2)
                if close < 0 or sql[close + 1 : close + 2] != "s":
                    raise ProgrammingError(
                        f"incomplete placeholder at position {i}: {sql[i : i + 20]!r}"
                    )
                names.append(sql[i + 2 : close])
                segments.append("".join(out))
                out = []
                i = close + 2
            elif nxt in ("s", "("):
                # psycopg2 raises ProgrammingError once a placeholder of the parameters'
                # kind came first, else the TypeError of indexing them the other way.
                own_kind_first = names if named else segments
                raise (ProgrammingError if own_kind_first else ParameterTypeError)(
                    "cannot mix %s and %(name)s placeholders; pass a sequence for %s and a "
                    "mapping for %(name)s"
                )
            else:
                raise ParameterValueError(
                    f"unsupported format character {nxt!r} at position {i} (write %% for a "
                    "literal %)"
                )
        else:
            out.append(c)
            i += 1
    segments.append("".join(out))
    return segments, (names if named else len(segments) - 1)


class _Prepared:
    """A statement's placeholders, converted once per text (ORMs send the same few hundred
    texts over and over, and the conversion is a Python loop over every character)."""

    __slots__ = ("sql", "spec", "named", "segments", "matches")

    def __init__(self, sql: str, named: bool) -> None:
        self.segments, self.spec = _split_placeholders(sql, named)
        self.sql = _join(self.segments, [f"${i}" for i in range(1, len(self.segments))])
        self.named = named
        self.matches = _MATCHES_EXPRESSIONS.search(sql) is not None

    def bind(self, params: Any, share: bool = True) -> tuple[str, list[Any]]:
        """The SQL to run and its parameter values for ``params``: ``$n`` placeholders,
        except for tuples (``($n, $n+1, ...)``, psycopg2's ``IN %s``) and values whose
        adapter writes SQL text (``AsIs``, a user's ``getquoted()``). With ``share``,
        equal values (see ``_share_key``) take one ``$n``: psycopg2 writes them as equal
        literals, and Postgres matches a GROUP BY expression to the SELECT list's by its
        text, ``$1`` and ``$2`` being different expressions."""
        values = _bind(self.spec, self.named, params)
        native = _NATIVE_TYPES.issuperset(map(type, values))
        if native and (not share or len(values) < 2):
            return self.sql, values
        if (
            native
            and _SHARED_BY_VALUE.issuperset(map(type, values))
            and len({(type(v), v) for v in values}) == len(values)
        ):
            # What the loop below returns when no value repeats (ids for `IN %s`, say):
            # these types share by (type, value), all different here.
            return self.sql, values
        bound: list[Any] = []
        numbers = _Numbers(self.matches) if share else None
        placeholders = [_placeholder(v, bound, numbers) for v in values]
        if native and len(bound) == len(values):
            return self.sql, bound  # no value repeated
        return _join(self.segments, placeholders), bound


class _Numbers(dict[Any, str]):
    """The ``$n`` given to each shareable value of one execution, by ``_share_key``."""

    __slots__ = ("untyped",)

    def __init__(self, untyped: bool) -> None:
        super().__init__()
        #: Share str values too (in a statement with GROUP BY or DISTINCT).
        self.untyped = untyped


def _share_key(value: Any, untyped: bool) -> Any:
    """What makes two parameters one ``$n``: the same type (``1``, ``True`` and ``1.0`` are
    equal in Python, not in SQL) and the same literal (``Decimal("1.0")`` equals
    ``Decimal("1.00")``, which has another scale). None for values not shared: unhashable
    ones, NULL and, unless ``untyped``, str. Those are sent untyped and each occurrence
    takes its type from its context, as psycopg2's literal does: in ``INSERT ... VALUES
    (%s, %s)`` into an integer and a date column, or a text and an inet one, a single
    ``$n`` would have to be of both types. A str is shared in statements with GROUP BY
    or DISTINCT, whose expressions must match the SELECT list's (GROUP BY, and ORDER BY
    under SELECT DISTINCT)."""
    kind = type(value)
    if kind in _SHARED_BY_VALUE:
        return kind, value
    if kind in _SHARED_BY_TEXT:
        return kind, repr(value)
    if kind is str and untyped:
        return kind, value
    return None


# Statements where Postgres matches expressions by their text (and so their `$n`).
_MATCHES_EXPRESSIONS = re.compile(r"\bGROUP\s+BY\b|\bDISTINCT\b", re.IGNORECASE)

# Typed parameters whose equal values bind to the same parameter...
_SHARED_BY_VALUE: frozenset[type] = frozenset(
    {bool, int, bytes, datetime.date, datetime.timedelta, uuid.UUID}
)
# ... and those whose equal values may not (-0.0 and 0.0, a Decimal's scale, the UTC
# offset of a time of day): shared only when their repr is the same.
_SHARED_BY_TEXT: frozenset[type] = frozenset(
    {float, decimal.Decimal, datetime.datetime, datetime.time}
)


def _placeholder(value: Any, bound: list[Any], numbers: _Numbers | None) -> str:
    """The SQL for one ``%s``: ``$n`` (appending the value to ``bound``, unless ``numbers``
    already has an equal value's), a parenthesised list for a tuple, or an adapter's SQL
    text."""
    if type(value) in _NATIVE_TYPES:
        key = None if numbers is None else _share_key(value, numbers.untyped)
        if key is not None:
            assert numbers is not None
            number = numbers.get(key)
            if number is not None:
                return number
        bound.append(value)
        number = f"${len(bound)}"
        if key is not None:
            assert numbers is not None
            numbers[key] = number
        return number
    if isinstance(value, tuple) and _registered(value) is None:
        return "(" + ", ".join(_placeholder(v, bound, numbers) for v in value) + ")"
    text = _spliced(value)
    if text is not None:
        return text
    bound.append(value)
    return f"${len(bound)}"


def _prepare(sql: str, params: Any) -> _Prepared | None:
    if params is None:
        return None
    kind = type(params)
    # The usual types first: the ABC checks below cost more than the rest of this.
    if kind is tuple or kind is list:
        named = False
    elif kind is dict:
        named = True
    else:
        named = isinstance(params, Mapping)
        if not named and (isinstance(params, (str, bytes)) or not isinstance(params, Sequence)):
            raise ParameterTypeError(
                "parameters must be a sequence (for %s) or a mapping (for %(name)s), got "
                f"{type(params).__name__}"
            )
    key = (sql, named)
    cached = _converted.get(key)
    if cached is None:
        cached = _Prepared(sql, named)
        if len(_converted) >= _CONVERTED_MAX:
            _converted.clear()
        _converted[key] = cached
    return cached


# Converted statements by (text, named). Values are never part of the key.
_CONVERTED_MAX = 2048
_converted: dict[tuple[str, bool], _Prepared] = {}


def _bind(spec: list[str] | int, named: bool, params: Any) -> list[Any]:
    if params is None:
        return []
    if named:
        if not isinstance(params, Mapping):
            raise ParameterTypeError(
                "expected a mapping of parameters for %(name)s placeholders, got "
                f"{type(params).__name__}"
            )
        assert isinstance(spec, list)
        try:
            return [params[name] for name in spec]
        except KeyError as e:
            raise ParameterKeyError(f"no value for placeholder %({e.args[0]})s") from None
    if (
        type(params) is not tuple
        and type(params) is not list
        and (isinstance(params, (str, bytes, Mapping)) or not isinstance(params, Sequence))
    ):
        raise ParameterTypeError(
            f"parameters for %s placeholders must be a sequence, got {type(params).__name__}"
        )
    assert isinstance(spec, int)
    values = list(params)
    if len(values) != spec:
        error = ParameterIndexError if len(values) < spec else ParameterTypeError
        raise error(f"the query has {spec} placeholders but {len(values)} parameters were given")
    return values


def _plain_rows(seq: list[Any], width: int) -> bool:
    """Every parameter set is a tuple or list of ``width`` values of types the native
    module binds itself: ``Cursor.executemany`` can pass them on as they are (checked in
    Rust: the same check in Python took about 4% of a 10,000-row ``executemany``)."""
    return _require_native().plain_rows(seq, width, _NATIVE_TYPES)


# ---- connection and cursor ----------------------------------------------------------


class Cursor:
    """DB-API 2.0 cursor. Results are fetched in full when the statement runs."""

    arraysize: int = 1
    #: Makes the tzinfo of timestamptz and timetz values from their UTC offset in the
    #: session's ``TimeZone`` (psycopg2's attribute); None: naive values.
    tzinfo_factory: Any = datetime.timezone
    _bytea_memoryview = False  # psycopg2 returns bytea as memoryview
    #: Column types whose intervals come back as the server's text (for typecasters).
    _interval_text_oids: tuple[int, ...] | None = None
    #: `_run` records each statement's text in ``query`` (a subclass whose ``query`` is a
    #: property of its own says False: no setter call per statement).
    _records_query = True

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        #: A tuple of :class:`Column` (a 7-item sequence each), None until a statement
        #: returned rows.
        self.description: tuple[Column, ...] | None = None
        self.rowcount: int = -1
        self.rownumber: int | None = None
        self.lastrowid: None = None
        if self._records_query:
            self.query: str | None = None
        self._rows: list[tuple[Any, ...]] = []
        self._closed = False

    def _check(self) -> None:
        if self._closed:
            raise InterfaceError("cursor already closed")
        if self.connection._native.closed:  # not the property: this runs on every fetch
            raise InterfaceError("connection already closed")

    def _run(self, sql: str, param_sets: list[Any]) -> None:
        self._check()
        if self._records_query:
            self.query = sql
        description, rows, rowcount = self.connection._native.execute(
            sql,
            param_sets,
            not self.connection.autocommit,
            self.tzinfo_factory,
            self._bytea_memoryview,
            self._interval_text_oids,
        )
        self.description = description
        self._rows = rows
        self.rowcount = rowcount
        self.rownumber = 0 if description is not None else None

    def execute(self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> None:
        """Run one statement; ``params`` fill its ``%s`` / ``%(name)s`` placeholders."""
        prepared = _prepare(query, params)
        if prepared is None:
            self._run(query, [[]])
            return
        sql, values = prepared.bind(params)
        self._run(sql, [values])

    def executemany(
        self, query: str, seq_of_params: Sequence[Sequence[Any] | Mapping[str, Any]]
    ) -> None:
        """Run the statement once per parameter set (one round of prepared executions)."""
        self._check()
        seq = list(seq_of_params)
        if not seq:
            self.rowcount = 0
            self.description = None
            self._rows = []
            return
        prepared = _prepare(query, seq[0])
        assert prepared is not None
        if isinstance(prepared.spec, int) and _plain_rows(seq, prepared.spec):
            # What `bind(share=False)` returns for each set, checked once for all of them
            # (a Python call per row costs about as much as the server's insert).
            self._run(prepared.sql, seq)
            self.description = None
            self._rows = []
            return
        # Each set with its own `$n`: one text for all sets keeps them one batch (a
        # GROUP BY that needs shared parameters is no statement to run many times).
        runs = [prepared.bind(p, share=False) for p in seq]
        if all(sql == runs[0][0] for sql, _ in runs):
            self._run(runs[0][0], [values for _, values in runs])
        else:
            # Tuples of different lengths (or spliced values): each set is its own text.
            total = 0
            for sql, values in runs:
                self._run(sql, [values])
                total = -1 if total < 0 or self.rowcount < 0 else total + self.rowcount
            self.rowcount = total
        self.description = None
        self._rows = []

    def _need_result(self) -> None:
        self._check()
        if self.description is None:
            raise ProgrammingError("no results to fetch: the last statement returned no rows")

    def fetchone(self) -> tuple[Any, ...] | None:
        if self.description is None or self._closed or self.connection._native.closed:
            self._need_result()  # raises what is wrong
        assert self.rownumber is not None
        if self.rownumber >= len(self._rows):
            return None
        row = self._rows[self.rownumber]
        self.rownumber += 1
        return row

    def fetchmany(self, size: int | None = None) -> list[tuple[Any, ...]]:
        if self.description is None or self._closed or self.connection._native.closed:
            self._need_result()  # raises what is wrong
        assert self.rownumber is not None
        size = self.arraysize if size is None else size
        rows = self._rows[self.rownumber : self.rownumber + size]
        self.rownumber += len(rows)
        return rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        if self.description is None or self._closed or self.connection._native.closed:
            self._need_result()  # raises what is wrong
        assert self.rownumber is not None
        rows = self._rows[self.rownumber :]
        self.rownumber = len(self._rows)
        return rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return self

    def __next__(self) -> tuple[Any, ...]:
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    def setinputsizes(self, sizes: Any) -> None:
        """Accepted and ignored (DB-API): parameter types come from the server."""
        self._check()

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        """Accepted and ignored (DB-API): results are fetched in full."""
        self._check()

    def callproc(
        self, procname: str, parameters: Sequence[Any] | Mapping[str, Any] = ()
    ) -> Sequence[Any] | Mapping[str, Any]:
        """Call the function ``procname`` (as psycopg2: ``SELECT * FROM procname(...)``,
        the name written as given; a mapping passes named arguments) and return
        ``parameters`` unchanged; its result rows are fetched as usual."""
        self._check()
        if isinstance(parameters, Mapping):
            args = ", ".join('"' + str(k).replace('"', '""') + f'" := %({k})s' for k in parameters)
        else:
            args = ", ".join(["%s"] * len(parameters))
        self.execute(f"SELECT * FROM {procname}({args})", parameters if parameters else None)
        return parameters

    def nextset(self) -> bool | None:
        """Postgres has one result set per statement: NotSupportedError (as psycopg2)."""
        self._check()
        raise NotSupportedError("nextset(): Postgres does not return several result sets")

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True
        self._rows = []

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Connection:
    """DB-API 2.0 connection on a named Puff pool."""

    Warning = Warning
    Error = Error
    InterfaceError = InterfaceError
    DatabaseError = DatabaseError
    DataError = DataError
    OperationalError = OperationalError
    IntegrityError = IntegrityError
    InternalError = InternalError
    ProgrammingError = ProgrammingError
    NotSupportedError = NotSupportedError

    def __init__(
        self, name: str = "default", _native_connection: Any = None, database: str | None = None
    ) -> None:
        self._native = (
            _native_connection
            if _native_connection is not None
            else _require_native().connect(name, database)
        )
        self.name = name
        self._autocommit = False

    @property
    def borrowed(self) -> bool:
        """True when this is the GraphQL request's connection, lent to a resolver marked
        ``puff.graphql.borrow_db_context``."""
        return bool(getattr(self._native, "borrowed", False))

    @property
    def autocommit(self) -> bool:
        """When true, each statement commits on its own (no implicit transaction)."""
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        if bool(value) != self._autocommit and self.in_transaction:
            raise ProgrammingError(
                "cannot change autocommit inside a transaction: commit() or rollback() first"
            )
        self._autocommit = bool(value)

    @property
    def closed(self) -> bool:
        return bool(self._native.closed)

    @property
    def in_transaction(self) -> bool:
        return bool(self._native.in_transaction)

    def _check_open(self) -> None:
        if self._native.closed:
            raise InterfaceError("connection already closed")

    def cursor(self) -> Cursor:
        self._check_open()
        return Cursor(self)

    def execute(
        self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None
    ) -> Cursor:
        """Shortcut: a new cursor with ``query`` executed on it."""
        cur = self.cursor()
        cur.execute(query, params)
        return cur

    def commit(self) -> None:
        self._check_open()
        self._native.commit()

    def rollback(self) -> None:
        self._check_open()
        self._native.rollback()

    def close(self) -> None:
        """Roll back any open transaction and give the pooled connection back."""
        if not self.closed:
            self._native.close()

    def __enter__(self) -> Connection:
        self._check_open()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.rollback()


# Connections lent by the running GraphQL request to a `borrow_db_context` resolver, by
# pool name. Each resolver runs in its own greenlet and contextvars context.
_borrowed: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar(
    "puff_borrowed_connections"
)


def _lend(name: str, native_connection: Any) -> None:
    """Make ``connect(name)`` return ``native_connection`` in the current context (called by
    puff-graphql before a ``borrow_db_context`` resolver runs)."""
    _borrowed.set({**_borrowed.get({}), name: native_connection})


def connect(name: str = "default", *, database: str | None = None) -> Connection:
    """A new connection on the pool ``name`` (``[[postgres]]`` entry in puff.toml).

    ``database`` names another database of the pool's server (same user and size; such
    connections are not kept idle, so the database can be dropped afterwards).

    Inside a GraphQL resolver marked ``borrow_db_context`` this is the request's own
    connection (closing it ends only its open transaction, not the connection)."""
    if database is None or database == pool_database(name):
        lent = _borrowed.get({}).get(name)
        if lent is not None:
            return Connection(name, lent)
        return Connection(name)
    return Connection(name, database=database)


_pool_databases: dict[str, str] = {}


def pool_database(name: str = "default") -> str:
    """The database the pool ``name`` connects to (from its URL)."""
    found = _pool_databases.get(name)
    if found is None:
        found = _pool_databases[name] = str(_require_native().pool_database(name))
    return found


def pool_names() -> list[str]:
    """Names of the configured pools."""
    return list(_require_native().pool_names())


def pool_status(name: str = "default") -> dict[str, int]:
    """Usage of the pool ``name``: ``max_open``, ``connections``, ``in_use``, ``idle``."""
    return dict(_require_native().pool_status(name))
