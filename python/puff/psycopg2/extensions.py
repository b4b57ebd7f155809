"""``psycopg2.extensions``: the connection and cursor classes, adaptation, constants.

Result values are converted in Rust (``puff.postgres``) to the Python types psycopg2 gives
with Django's registrations (``uuid.UUID``, ``Decimal``, timestamptz aware in the
session's zone, ...). A caster registered with ``register_type`` (globally, on a
connection or on a cursor) is applied to the columns of its types, given their Postgres
text as in psycopg2 (see ``puff.psycopg2._casters``). ``register_adapter`` applies to
parameters (``puff.postgres`` binds what the adapter returns, or writes its
``getquoted()`` text into the SQL as psycopg2 does); ``adapt`` / ``mogrify`` quote values
client-side for text that cannot take bind parameters (DDL written by Django's schema
editor).
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn, cast

import puff.postgres as _pg
from puff.psycopg2 import _casters, _copy, _server_cursor
from puff.psycopg2 import errors as _errors

ISOLATION_LEVEL_AUTOCOMMIT = 0
ISOLATION_LEVEL_READ_COMMITTED = 1
ISOLATION_LEVEL_REPEATABLE_READ = 2
ISOLATION_LEVEL_SERIALIZABLE = 3
ISOLATION_LEVEL_READ_UNCOMMITTED = 4
ISOLATION_LEVEL_DEFAULT = None

_LEVEL_NAMES = {
    ISOLATION_LEVEL_READ_COMMITTED: "READ COMMITTED",
    ISOLATION_LEVEL_REPEATABLE_READ: "REPEATABLE READ",
    ISOLATION_LEVEL_SERIALIZABLE: "SERIALIZABLE",
    ISOLATION_LEVEL_READ_UNCOMMITTED: "READ UNCOMMITTED",
}

STATUS_SETUP = 0
STATUS_READY = 1
STATUS_BEGIN = 2
STATUS_IN_TRANSACTION = STATUS_BEGIN

TRANSACTION_STATUS_IDLE = 0
TRANSACTION_STATUS_ACTIVE = 1
TRANSACTION_STATUS_INTRANS = 2
TRANSACTION_STATUS_INERROR = 3
TRANSACTION_STATUS_UNKNOWN = 4

POLL_OK = 0
POLL_READ = 1
POLL_WRITE = 2
POLL_ERROR = 3

JSON_OID = 114
JSONB_OID = 3802


class Notify:
    """A notification received on a LISTENed channel: ``pid`` of the notifying backend,
    ``channel`` and ``payload``. As psycopg2's, it also behaves as the 2-sequence
    ``(pid, channel)`` (indexing, unpacking, equality with tuples)."""

    __slots__ = ("pid", "channel", "payload")

    def __init__(self, pid: int, channel: str, payload: str = "") -> None:
        self.pid = pid
        self.channel = channel
        self.payload = payload

    def __getitem__(self, i: int) -> Any:
        return (self.pid, self.channel)[i]

    def __len__(self) -> int:
        return 2

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Notify):
            return (self.pid, self.channel, self.payload) == (
                other.pid,
                other.channel,
                other.payload,
            )
        if isinstance(other, tuple):
            return (self.pid, self.channel) == other
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __hash__(self) -> int:
        if self.payload:
            return hash((self.pid, self.channel, self.payload))
        return hash((self.pid, self.channel))

    def __repr__(self) -> str:
        return f"Notify({self.pid!r}, {self.channel!r}, {self.payload!r})"


# ---- adaptation (client-side quoting) -----------------------------------------------


def quote_string(text: str) -> str:
    """``text`` as a SQL string literal, right whatever ``standard_conforming_strings``."""
    if "\x00" in text:
        raise ValueError("A string literal cannot contain NUL (0x00) characters.")
    if "\\" in text:
        return "E'" + text.replace("\\", "\\\\").replace("'", "''") + "'"
    return "'" + text.replace("'", "''") + "'"


def quote_ident(name: str, scope: Any = None) -> str:
    """``name`` as a quoted SQL identifier."""
    if "\x00" in name:
        raise ValueError("An identifier cannot contain NUL (0x00) characters.")
    return '"' + name.replace('"', '""') + '"'


# Casts written after the text of values Puff binds as typed text (``__puff_param__``).
_CASTS = {869: "::inet", 1184: "::timestamptz", 1266: "::timetz", 3908: "::tsrange",
          3910: "::tstzrange", 3912: "::daterange"}


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    puff_param = getattr(value, "__puff_param__", None)
    if puff_param is not None:
        oid, text = puff_param()
        return quote_string(text) + _CASTS.get(oid, "")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return f"'{value!r}'::float".replace("inf", "Infinity").replace("nan", "NaN")
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return f"'{value}'::numeric" if not value.is_finite() else str(value)
    if isinstance(value, str):
        return quote_string(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"'\\x{bytes(value).hex()}'::bytea"
    if isinstance(value, datetime.datetime):
        kind = "timestamptz" if value.tzinfo is not None else "timestamp"
        return f"'{value.isoformat()}'::{kind}"
    if isinstance(value, datetime.date):
        return f"'{value.isoformat()}'::date"
    if isinstance(value, datetime.time):
        kind = "timetz" if value.tzinfo is not None else "time"
        return f"'{value.isoformat()}'::{kind}"
    if isinstance(value, datetime.timedelta):
        seconds = value.seconds + value.microseconds / 1_000_000
        return f"'{value.days} days {seconds:.6f} seconds'::interval"
    if isinstance(value, uuid.UUID):
        return f"'{value}'::uuid"
    if isinstance(value, tuple):
        # psycopg2 adapts tuples to a parenthesised list, for `IN %s`.
        if not value:
            raise _pg.ProgrammingError("an empty tuple cannot be adapted (IN () is not SQL)")
        return "(" + ", ".join(adapt(v).getquoted().decode() for v in value) + ")"
    if isinstance(value, list):
        if not value:
            return "'{}'"
        return "ARRAY[" + ", ".join(adapt(v).getquoted().decode() for v in value) + "]"
    raise _pg.ProgrammingError(f"can't adapt type '{type(value).__name__}'")


class ISQLQuote:
    """Marker base of adapted values: ``getquoted()`` returns the SQL literal as bytes."""

    encoding = "utf8"

    def getquoted(self) -> bytes:
        raise NotImplementedError

    def prepare(self, conn: Any) -> None:
        pass


class AsIs(ISQLQuote):
    """A value written into the SQL as its ``str()``."""

    def __init__(self, adapted: Any) -> None:
        self.adapted = adapted

    def getquoted(self) -> bytes:
        return str(self.adapted).encode()


class QuotedString(ISQLQuote):
    """A string written as a quoted SQL literal (bound as an unknown-typed parameter)."""

    def __init__(self, adapted: Any) -> None:
        self.adapted = adapted

    def getquoted(self) -> bytes:
        return quote_string(str(self.adapted)).encode()

    def __puff_param__(self) -> tuple[int, str]:
        text = str(self.adapted)
        if "\x00" in text:
            raise ValueError("A string literal cannot contain NUL (0x00) characters.")
        return 0, text


class _Literal(ISQLQuote):
    def __init__(self, adapted: Any) -> None:
        self.adapted = adapted

    def getquoted(self) -> bytes:
        return _literal(self.adapted).encode()


def register_adapter(typ: type, callable: Callable[[Any], Any]) -> None:  # noqa: A002
    """Adapt parameters of class ``typ`` (and subclasses) with ``callable``: its result's
    ``getquoted()`` text goes into the SQL as psycopg2 writes it, unless Puff can bind it
    (``QuotedString``, ``Json``, ``Inet``, ranges, hstore)."""
    _pg.register_adapter(typ, callable)


def adapt(value: Any) -> Any:
    """The adapter of ``value``: an object whose ``getquoted()`` is its SQL literal."""
    adapter = _pg._registered(value)
    if adapter is not None:
        return adapter(value)
    if hasattr(value, "getquoted"):
        return value
    conform = getattr(value, "__conform__", None)
    if conform is not None:
        adapted = conform(ISQLQuote)
        if adapted is not None:
            return adapted
    return _Literal(value)


def mogrify(query: str, params: Sequence[Any] | Mapping[str, Any] | None) -> str:
    """``query`` with its ``%s`` / ``%(name)s`` placeholders replaced by quoted values.

    As in psycopg2, every placeholder is replaced (inside quotes too) and ``%%`` is a
    literal ``%``; without parameters the text is left as it is."""
    if params is None:
        return query
    named = isinstance(params, Mapping)
    positional = iter(()) if named else iter(params)
    out: list[str] = []
    i = 0
    n = len(query)
    while i < n:
        c = query[i]
        if c != "%":
            j = query.find("%", i)
            j = n if j < 0 else j
            out.append(query[i:j])
            i = j
            continue
        nxt = query[i + 1 : i + 2]
        if nxt == "%":
            out.append("%")
            i += 2
        elif nxt == "s" and not named:
            try:
                value = next(positional)
            except StopIteration:
                raise TypeError("not enough arguments for format string") from None
            out.append(adapt(value).getquoted().decode())
            i += 2
        elif nxt == "(" and named:
            close = query.find(")", i)
            if close < 0 or query[close + 1 : close + 2] != "s":
                raise ValueError(f"incomplete placeholder at position {i}")
            key = query[i + 2 : close]
            if key not in params:
                raise KeyError(key)
            out.append(adapt(params[key]).getquoted().decode())  # type: ignore[call-overload]
            i = close + 2
        else:
            raise ValueError(f"unsupported format character {nxt!r} at position {i}")
    if not named and next(positional, _END) is not _END:
        raise TypeError("not all arguments converted during string formatting")
    return "".join(out)


_END = object()

# ---- typecasters ----------------------------------------------------------------------


class _Type(_pg.TypeObject):
    """A typecaster: equal to the OIDs it is for, as psycopg2's are. ``caster(text,
    cursor)`` converts a value's Postgres text (None: Puff's own conversion); an array
    type has the typecaster of its elements as ``base`` instead."""

    def __init__(
        self, oids: tuple[int, ...], name: str, caster: Any = None, base: _Type | None = None
    ) -> None:
        super().__init__(name, oids)
        self.caster = caster
        self.base = base

    def __call__(self, value: str | None, cursor: Any = None) -> Any:
        return value if self.caster is None else self.caster(value, cursor)

    def __repr__(self) -> str:
        return f"<puff.psycopg2 type {self.name!r} oids={self.values}>"


def new_type(
    oids: Sequence[int], name: str, castfunc: Callable[[str | None, Any], Any] | None = None
) -> _Type:
    """A typecaster for the types ``oids``: ``castfunc(text_or_None, cursor)``."""
    return _Type(tuple(oids), name, castfunc)


def new_array_type(oids: Sequence[int], name: str, base_caster: _pg.TypeObject) -> _Type:
    """A typecaster for the array types ``oids``: lists of ``base_caster``'s values. The
    base may also be a module-level type such as ``psycopg2.STRING`` (Django's
    ``register_type_handlers`` passes it), whose elements stay text."""
    if not isinstance(base_caster, _pg.TypeObject):
        raise TypeError("new_array_type() argument 3 must be a typecaster made by new_type()")
    if not isinstance(base_caster, _Type):
        base_caster = _Type(base_caster.values, base_caster.name)
    return _Type(tuple(oids), name, base=base_caster)


def register_type(obj: _Type, scope: Any = None) -> None:
    """Apply the typecaster ``obj`` to result columns of its types: everywhere (``scope``
    None), on a connection or on a cursor (the most specific registration wins)."""
    if not isinstance(obj, _Type):
        raise TypeError("register_type() argument 1 must be a typecaster made by new_type()")
    native = obj.caster is None and (obj.base is None or obj.base.caster is None)
    if scope is None:
        for oid in obj.values:
            # Puff's own conversion needs no entry: the registry stays empty (and free)
            # for the ones Django registers (UNICODE, INETARRAY).
            if native:
                _casters.global_casters.pop(oid, None)
            else:
                _casters.global_casters[oid] = obj
        return
    if not isinstance(scope, (connection, cursor)):
        raise TypeError("the scope of register_type() must be a connection or a cursor")
    for oid in obj.values:
        scope._casters[oid] = None if native else obj


# The class of `cursor.description` rows.
Column = _pg.Column

UNICODE = new_type((25, 1043, 1042, 19), "UNICODE")
UNICODEARRAY = new_array_type((1009, 1015, 1014, 1003), "UNICODEARRAY", UNICODE)
BINARY = new_type((17,), "BINARY")


def Binary(value: bytes | bytearray | memoryview) -> bytes:  # noqa: N802 (psycopg2 name)
    return bytes(value)


# ---- DSNs -----------------------------------------------------------------------------


def parse_dsn(dsn: str) -> dict[str, str]:
    """``key=value`` pairs of a libpq DSN (URLs: ``postgres://...`` become a dict too)."""
    if dsn.startswith(("postgres://", "postgresql://")):
        from urllib.parse import unquote, urlsplit

        url = urlsplit(dsn)
        out: dict[str, str] = {
            k: v
            for k, v in {
                "user": unquote(url.username or ""),
                "password": unquote(url.password or ""),
                "host": url.hostname or "",
                "port": str(url.port or ""),
                "dbname": unquote(url.path.lstrip("/")),
            }.items()
            if v
        }
        for part in filter(None, url.query.split("&")):
            key, _, raw = part.partition("=")
            out[key] = unquote(raw)
        return out
    out = {}
    i, n = 0, len(dsn)
    while i < n:
        while i < n and dsn[i].isspace():
            i += 1
        if i >= n:
            break
        eq = dsn.find("=", i)
        if eq < 0:
            raise _pg.ProgrammingError(f"invalid dsn: missing '=' after {dsn[i:]!r}")
        key = dsn[i:eq].strip()
        i = eq + 1
        while i < n and dsn[i].isspace():
            i += 1
        value: list[str] = []
        if i < n and dsn[i] == "'":
            i += 1
            while i < n and dsn[i] != "'":
                if dsn[i] == "\\" and i + 1 < n:
                    i += 1
                value.append(dsn[i])
                i += 1
            i += 1
        else:
            while i < n and not dsn[i].isspace():
                value.append(dsn[i])
                i += 1
        out[key] = "".join(value)
    return out


def make_dsn(dsn: str | None = None, **kwargs: Any) -> str:
    params = parse_dsn(dsn) if dsn else {}
    params.update({k: str(v) for k, v in kwargs.items() if v is not None})
    return " ".join(f"{k}={quote_string(v) if ' ' in v or not v else v}" for k, v in params.items())


# ---- connection and cursor -----------------------------------------------------------


def _unsupported(call: str, what: str) -> NoReturn:
    raise _pg.NotSupportedError(f"{call}() is not supported by Puff's psycopg2 shim ({what})")


class UnsupportedName(_pg.NotSupportedError, AttributeError):
    """A psycopg2 module attribute the shim does not provide: a NotSupportedError that
    names it, and an AttributeError so ``hasattr`` and ``getattr(..., default)`` probes
    still see it as absent."""


def missing_names(module: str, names: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` raising :class:`UnsupportedName` for psycopg2's ``names``
    (whitespace-separated) and a plain AttributeError for any other name."""
    known = frozenset(names.split())

    def __getattr__(name: str) -> Any:  # noqa: N807 (module hook)
        if name in known:
            raise UnsupportedName(f"{module}.{name} is not supported by Puff's psycopg2 shim")
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__


__getattr__ = missing_names(
    "psycopg2.extensions",
    """BINARYARRAY BOOLEAN BOOLEANARRAY BYTES BYTESARRAY Boolean DATE DATEARRAY
    DATETIMEARRAY DECIMAL DECIMALARRAY DateFromPy Diagnostics FLOAT FLOATARRAY Float INTEGER
    INTEGERARRAY INTERVAL INTERVALARRAY Int IntervalFromPy JSON JSONARRAY JSONB JSONBARRAY
    LONGINTEGER LONGINTEGERARRAY NoneAdapter
    PYDATE PYDATEARRAY PYDATETIME PYDATETIMEARRAY PYDATETIMETZ PYDATETIMETZARRAY PYINTERVAL
    PYINTERVALARRAY PYTIME PYTIMEARRAY QueryCanceledError ROWIDARRAY SQL_IN STATUS_ASYNC
    STATUS_PREPARED STATUS_SYNC STRINGARRAY TIME TIMEARRAY TimeFromPy TimestampFromPy
    TransactionRollbackError Xid adapters binary_types encodings encrypt_password
    get_wait_callback libpq_version lobject set_wait_callback string_types""",
)


def check_encoding(encoding: str) -> None:
    """Puff's connections speak UTF8 only."""
    if encoding.replace("-", "").replace("_", "").upper() not in ("UTF8", "UNICODE"):
        raise _pg.NotSupportedError(f"Puff's connections speak UTF8 only, not {encoding}")


# Server facts (`SHOW ...`) by (pool, database, parameter): they are the same for every
# session of a pool, so one query per process is enough.
_server_parameters: dict[tuple[str, str | None, str], str] = {}


def _server_parameter(pool: str, database: str | None, name: str) -> str | None:
    key = (pool, database, name)
    if key not in _server_parameters:
        probe = _pg.Connection(pool, database=database)
        probe.autocommit = True
        try:
            cur = probe.cursor()
            cur.execute("SELECT current_setting(%s, true)", [name])
            row = cur.fetchone()
        finally:
            probe.close()
        if row is None or row[0] is None:
            return None
        _server_parameters[key] = str(row[0])
    return _server_parameters[key]


class ConnectionInfo:
    """``connection.info``: server parameters and version."""

    def __init__(self, conn: connection) -> None:
        self._conn = conn

    def parameter_status(self, name: str) -> str | None:
        conn = self._conn
        if name.lower() == "timezone":
            # This connection's session zone (pooled sessions are shared: the pool's
            # zone says nothing about a zone this connection set, nor the reverse).
            tz = conn._native.session_zone()
            if tz is not None:
                return str(tz)
        return _server_parameter(conn.name, conn._database, name)

    @property
    def server_version(self) -> int:
        return int(
            _server_parameter(self._conn.name, self._conn._database, "server_version_num") or 0
        )

    @property
    def dbname(self) -> str:
        return self._conn._database or _pg.pool_database(self._conn.name)

    @property
    def transaction_status(self) -> int:
        return self._conn.get_transaction_status()

    @property
    def used_password(self) -> bool:
        return False

    host = None
    port = None
    user = None


class cursor(_pg.Cursor):  # noqa: N801 (psycopg2 name)
    """A psycopg2-style cursor on a Puff pool. Unnamed cursors fetch results in full; named
    ones stream them from a server cursor (see ``puff.psycopg2._server_cursor``)."""

    itersize = 2000

    _bytea_memoryview = True
    _records_query = False  # `query` is the property below

    def __init__(
        self,
        conn: connection,
        name: str | None = None,
        scrollable: bool | None = None,
        withhold: bool = False,
    ) -> None:
        super().__init__(conn)
        self.name = name
        self.scrollable = scrollable
        self.withhold = withhold
        self.statusmessage: str | None = None
        self._last: tuple[str, Any] | None = None
        self._casters: dict[int, _Type | None] = {}  # register_type(..., this cursor)
        self._server = (
            _server_cursor.ServerCursor(name, scrollable, withhold) if name is not None else None
        )
        if self._server is not None:
            self.rownumber = 0

    @property  # type: ignore[override]
    def query(self) -> bytes | None:
        """The last statement with its parameters quoted in (as psycopg2 reports it)."""
        if self._last is None:
            return None
        text, params = self._last
        try:
            return mogrify(text, params).encode()
        except Exception:
            return text.encode()

    @query.setter
    def query(self, value: Any) -> None:
        pass  # the DB-API base records the converted text; `_last` keeps the original

    def _run(self, sql: str, param_sets: list[Any]) -> None:
        if self._server is None:
            # A psycopg2 cursor's connection is always the shim's `connection` class.
            conn: connection = self.connection  # type: ignore[assignment]
            # Registered casters are rare: three truth tests here save a call per statement.
            casters = self._casters or conn._casters or _casters.global_casters
            if casters:
                self._interval_text_oids = _casters.interval_text_oids(self)
            elif self._interval_text_oids is not None:
                self._interval_text_oids = None  # the casters were unregistered since
            super()._run(sql, param_sets)
            received = conn._take_notifies(conn._native)
            if received:
                conn._add_notifies(received)
            if self.description is not None and casters:
                self._rows = _casters.cast_rows(self, self._rows)
            return
        self._check()
        self._server.declare(self, sql, param_sets)

    def execute(self, query: str, vars: Any = None) -> None:  # noqa: A002 (psycopg2 name)
        self._last = (query, vars)
        if query[:8].lstrip()[:4].upper() == "COPY":
            _copy.refuse_in_execute(query)
        try:
            super().execute(query, vars)
        except _pg.Error as e:
            raise _errors.specific(e) from None

    def executemany(self, query: str, vars_list: Any) -> None:
        if self._server is not None:
            raise _pg.ProgrammingError("can't call .executemany() on named cursors")
        self._last = (query, None)
        try:
            super().executemany(query, vars_list)
        except _pg.Error as e:
            raise _errors.specific(e) from None

    def mogrify(self, query: str, vars: Any = None) -> bytes:  # noqa: A002
        """``query`` with ``vars`` quoted in, as bytes."""
        return mogrify(query, vars).encode()

    # ---- fetching: named cursors read from the server as they go ----------------------

    def _server_call(self, method: str, *args: Any) -> Any:
        self._check()
        assert self._server is not None
        try:
            result = getattr(self._server, method)(self, *args)
        except _pg.Error as e:
            raise _errors.specific(e) from None
        self.rownumber = self._server.position()
        return result

    def fetchone(self) -> Any:
        if self._server is None:
            return super().fetchone()
        return self._server_call("fetchone")

    def fetchmany(self, size: int | None = None) -> list[Any]:
        if self._server is None:
            return super().fetchmany(size)
        return self._server_call("fetchmany", self.arraysize if size is None else size)

    def fetchall(self) -> list[Any]:
        if self._server is None:
            return super().fetchall()
        return self._server_call("fetchall")

    def scroll(self, value: int, mode: str = "relative") -> None:
        if self._server is not None:
            self._server_call("scroll", value, mode)
            return
        self._need_result()
        position = (self.rownumber or 0) + value if mode == "relative" else value
        if not 0 <= position <= len(self._rows):
            raise _pg.ProgrammingError("scroll destination out of bounds")
        self.rownumber = position

    def close(self) -> None:
        server = self._server
        if server is not None and not self.closed:
            try:
                server.close(self)
            except _pg.Error as e:
                raise _errors.specific(e) from None
            finally:
                super().close()
            return
        super().close()

    def __del__(self) -> None:
        server = getattr(self, "_server", None)
        if server is not None:
            server.forget()

    # ---- COPY ---------------------------------------------------------------------------

    def copy_expert(self, sql: str, file: Any, size: int = 8192) -> None:
        """Run a ``COPY ... FROM STDIN`` (reading ``file``) or ``COPY ... TO STDOUT``
        (writing to ``file``), streaming ``size`` bytes at a time in."""
        self._check()
        if self._server is not None:
            raise _pg.ProgrammingError("copy_expert cannot be used with a named cursor")
        try:
            self.rowcount = _copy.copy(self.connection, sql, file, size)
        except _pg.Error as e:
            raise _errors.specific(e) from None
        self.description = None
        self._rows = []
        self._last = (sql, None)

    def copy_from(
        self,
        file: Any,
        table: str,
        sep: str = "\t",
        null: str = "\\N",
        size: int = 8192,
        columns: Sequence[str] | None = None,
    ) -> None:
        """``COPY table [(columns)] FROM stdin`` with ``sep`` and ``null``, reading ``file``."""
        self.copy_expert(_copy.copy_sql(table, "FROM stdin", sep, null, columns), file, size)

    def copy_to(
        self,
        file: Any,
        table: str,
        sep: str = "\t",
        null: str = "\\N",
        columns: Sequence[str] | None = None,
    ) -> None:
        """``COPY table [(columns)] TO stdout`` with ``sep`` and ``null``, into ``file``."""
        self.copy_expert(_copy.copy_sql(table, "TO stdout", sep, null, columns), file)

    def cast(self, oid: int, s: str | bytes | None) -> Any:
        """``s`` (a value's Postgres text) converted by the caster registered for ``oid``."""
        conn = cast("connection", self.connection)
        for scope in (self._casters, conn._casters, _casters.global_casters):
            if oid in scope:
                typ = scope[oid]
                if typ is not None and typ.base is None:
                    text = s.decode() if isinstance(s, bytes) else s
                    return typ.caster(text, self)
                break
        return _unsupported("cursor.cast", "Puff's own conversions need binary values")


class connection(_pg.Connection):  # noqa: N801 (psycopg2 name)
    """A psycopg2-style connection on a Puff pool.

    It holds a pooled connection only while a transaction is open (in autocommit mode,
    only for a statement), so many of these never need more than the pool's size."""

    def __init__(
        self,
        dsn: str = "",
        *,
        pool: str = "default",
        database: str | None = None,
        cursor_factory: Any = None,
    ) -> None:
        super().__init__(pool, database=database)
        self.dsn = dsn
        self._database = database
        self.cursor_factory = cursor_factory or cursor
        self._isolation_level: int | None = None
        self.info = ConnectionInfo(self)
        self.encoding = "UTF8"
        self.notices: list[str] = []
        # LISTEN's notifications, appended after each statement, commit() and poll().
        self.notifies: list[Notify] = []
        self.async_ = 0
        self._casters: dict[int, _Type | None] = {}  # register_type(..., this connection)
        # Looked up once: every statement asks for the notifications it brought.
        self._take_notifies = _pg._require_native().take_notifies

    @property
    def closed(self) -> int:  # type: ignore[override]
        return int(bool(self._native.closed))

    @property
    def status(self) -> int:
        return STATUS_BEGIN if self.in_transaction else STATUS_READY

    @property
    def server_version(self) -> int:
        return self.info.server_version

    def cursor(
        self,
        name: str | None = None,
        cursor_factory: Any = None,
        scrollable: bool | None = None,
        withhold: bool = False,
    ) -> cursor:
        if self._native.closed:  # not the property: Django opens a cursor per query
            raise _pg.InterfaceError("connection already closed")
        factory = cursor_factory or self.cursor_factory
        return factory(self, name, scrollable, withhold)

    def commit(self) -> None:
        try:
            super().commit()
        except _pg.Error as e:
            raise _errors.specific(e) from None
        self._collect_notifies()

    @property
    def isolation_level(self) -> int | None:
        return self._isolation_level

    @isolation_level.setter
    def isolation_level(self, level: int | str | None) -> None:
        if isinstance(level, str):
            names = {v: k for k, v in _LEVEL_NAMES.items()}
            if level.upper() not in names:
                raise ValueError(f"bad isolation level: {level!r}")
            level = names[level.upper()]
        if level is not None and level != ISOLATION_LEVEL_AUTOCOMMIT and level not in _LEVEL_NAMES:
            raise ValueError(f"isolation level must be between 0 and 4, got {level!r}")
        if level == ISOLATION_LEVEL_AUTOCOMMIT:
            self.autocommit = True
            return
        self._native.set_isolation_level(_LEVEL_NAMES.get(level) if level is not None else None)
        self._isolation_level = level

    def set_isolation_level(self, level: int) -> None:
        if self.in_transaction:
            self.rollback()
        if level == ISOLATION_LEVEL_AUTOCOMMIT:
            self.autocommit = True
        else:
            self.autocommit = False
            self.isolation_level = level

    def set_session(
        self,
        isolation_level: Any = None,
        readonly: Any = None,
        deferrable: Any = None,
        autocommit: Any = None,
    ) -> None:
        if readonly is not None or deferrable is not None:
            raise _pg.NotSupportedError("readonly / deferrable sessions are not supported by Puff")
        if isolation_level is not None:
            self.isolation_level = isolation_level
        if autocommit is not None:
            self.autocommit = bool(autocommit)

    def get_transaction_status(self) -> int:
        if not self.in_transaction:
            return TRANSACTION_STATUS_IDLE
        if self._native.transaction_failed:
            return TRANSACTION_STATUS_INERROR
        return TRANSACTION_STATUS_INTRANS

    def get_parameter_status(self, name: str) -> str | None:
        return self.info.parameter_status(name)

    def set_client_encoding(self, encoding: str) -> None:
        check_encoding(encoding)

    # psycopg2 calls Puff has no equivalent for: a clear error instead of AttributeError.

    def cancel(self) -> None:
        _unsupported("connection.cancel", "a running statement cannot be cancelled")

    def reset(self) -> None:
        """Roll back any open transaction (sessions are per transaction in Puff)."""
        self.rollback()

    def lobject(self, *args: Any, **kwargs: Any) -> Any:
        return _unsupported("connection.lobject", "large objects")

    def xid(self, format_id: Any, gtrid: Any, bqual: Any) -> Any:
        return _unsupported("connection.xid", "two-phase commit")

    def tpc_begin(self, xid: Any) -> None:
        _unsupported("connection.tpc_begin", "two-phase commit")

    def tpc_prepare(self) -> None:
        _unsupported("connection.tpc_prepare", "two-phase commit")

    def tpc_commit(self, xid: Any = None) -> None:
        _unsupported("connection.tpc_commit", "two-phase commit")

    def tpc_rollback(self, xid: Any = None) -> None:
        _unsupported("connection.tpc_rollback", "two-phase commit")

    def tpc_recover(self) -> list[Any]:
        return _unsupported("connection.tpc_recover", "two-phase commit")

    def poll(self) -> int:
        """Move the notifications received so far to ``notifies``; always ``POLL_OK`` (the
        connection is synchronous, as psycopg2's without ``async_``)."""
        self._check_open()
        self._collect_notifies()
        return POLL_OK

    def _collect_notifies(self) -> None:
        received = self._take_notifies(self._native)
        if received:
            self._add_notifies(received)

    def _add_notifies(self, received: list[tuple[int, str, str]]) -> None:
        self.notifies.extend(Notify(pid, channel, payload) for pid, channel, payload in received)

    def fileno(self) -> int:
        return _unsupported("connection.fileno", "pooled connections have no socket of their own")

    def isexecuting(self) -> bool:
        return _unsupported("connection.isexecuting", "asynchronous connections")

    def get_native_connection(self) -> Any:
        return _unsupported("connection.get_native_connection", "there is no libpq connection")

    def get_dsn_parameters(self) -> dict[str, str]:
        """The DSN's keywords (no password) and the database, as psycopg2 reports them."""
        params = {k: v for k, v in parse_dsn(self.dsn).items() if k != "password"}
        params["dbname"] = self.info.dbname
        return params

    protocol_version = 3

    @property
    def readonly(self) -> bool | None:
        return None

    @readonly.setter
    def readonly(self, value: bool | None) -> None:
        if value:
            _unsupported("connection.readonly", "read-only sessions")

    @property
    def deferrable(self) -> bool | None:
        return None

    @deferrable.setter
    def deferrable(self, value: bool | None) -> None:
        if value:
            _unsupported("connection.deferrable", "deferrable sessions")

    def get_backend_pid(self) -> int:
        cur = self.cursor()
        cur.execute("SELECT pg_backend_pid()")
        row = cur.fetchone()
        return int(row[0]) if row else 0
