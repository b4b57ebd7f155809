"""DB-API 2.0 access to Postgres through Puff's Rust connection pools.

``connect(name)`` returns a connection on the pool configured by the ``[[postgres]]``
entry of that name in ``puff.toml``. Queries run on Tokio: a greenlet waiting for
Postgres lets every other greenlet run. Parameters use ``%s`` / ``%(name)s`` placeholders
(``paramstyle = "pyformat"``) and are always sent as bind parameters, never spliced into
the SQL text.

As in psycopg2, a connection opens a transaction with its first statement and keeps it
until ``commit()`` or ``rollback()`` (unless ``autocommit`` is true); ``with conn:``
commits on success and rolls back on an exception. A pooled connection is held only while
a transaction is open, and a connection object that is dropped without ``close()`` rolls
back and returns its connection to the pool.
"""

from __future__ import annotations

import contextvars
import datetime
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
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


def _require_native() -> _PostgresModule:
    if _native_pg is None:
        raise PuffNotRunningError(
            "puff.postgres works only inside the Puff runtime (`puff-cli`, or a Rust binary "
            "built on puff-core with the `postgres` feature)"
        )
    return _native_pg


class Json:
    """Send ``adapted`` as a JSON value (dicts are sent as JSON without this wrapper)."""

    def __init__(self, adapted: Any, dumps: Any = None) -> None:
        self.adapted = adapted
        self._dumps = dumps or json.dumps

    def __puff_json__(self) -> str:
        return str(self._dumps(self.adapted))


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

    Returns the new SQL and either the parameter names in ``$n`` order (``named``) or the
    number of positional parameters. ``%%`` becomes ``%`` everywhere, as in psycopg2; any
    other ``%`` inside string literals, quoted identifiers and comments is left alone.
    """
    out: list[str] = []
    names: list[str] = []
    count = 0
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
                count += 1
                out.append(f"${count}")
                i += 2
            elif nxt == "(" and named:
                close = sql.find(")", i + 2)
                if close < 0 or sql[close + 1 : close + 2] != "s":
                    raise ProgrammingError(
                        f"incomplete placeholder at position {i}: {sql[i : i + 20]!r}"
                    )
                name = sql[i + 2 : close]
                if name not in names:
                    names.append(name)
                out.append(f"${names.index(name) + 1}")
                i = close + 2
            elif nxt in ("s", "("):
                raise ProgrammingError(
                    "cannot mix %s and %(name)s placeholders; pass a sequence for %s and a "
                    "mapping for %(name)s"
                )
            else:
                raise ProgrammingError(
                    f"unsupported format character {nxt!r} at position {i} (write %% for a "
                    "literal %)"
                )
        else:
            out.append(c)
            i += 1
    return "".join(out), (names if named else count)


def _prepare(sql: str, params: Any) -> tuple[str, list[str] | int, bool]:
    if params is None:
        return sql, 0, False
    named = isinstance(params, Mapping)
    if not named and (isinstance(params, (str, bytes)) or not isinstance(params, Sequence)):
        raise ProgrammingError(
            "parameters must be a sequence (for %s) or a mapping (for %(name)s), got "
            f"{type(params).__name__}"
        )
    key = (sql, named)
    cached = _converted.get(key)
    if cached is None:
        cached = convert_placeholders(sql, named)
        if len(_converted) >= _CONVERTED_MAX:
            _converted.clear()
        _converted[key] = cached
    converted, spec = cached
    return converted, spec, named


# Converted statements: ORMs send the same few hundred texts over and over, and the
# conversion is a Python loop over every character. Values are never part of the key.
_CONVERTED_MAX = 2048
_converted: dict[tuple[str, bool], tuple[str, list[str] | int]] = {}


def _bind(spec: list[str] | int, named: bool, params: Any) -> list[Any]:
    if params is None:
        return []
    if named:
        if not isinstance(params, Mapping):
            raise ProgrammingError("expected a mapping of parameters for %(name)s placeholders")
        assert isinstance(spec, list)
        try:
            return [params[name] for name in spec]
        except KeyError as e:
            raise ProgrammingError(f"no value for placeholder %({e.args[0]})s") from None
    values = list(params)
    if len(values) != spec:
        raise ProgrammingError(
            f"the query has {spec} placeholders but {len(values)} parameters were given"
        )
    return values


# ---- connection and cursor ----------------------------------------------------------


class Cursor:
    """DB-API 2.0 cursor. Results are fetched in full when the statement runs."""

    arraysize: int = 1

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        #: A tuple of :class:`Column` (a 7-item sequence each), None until a statement
        #: returned rows.
        self.description: tuple[Column, ...] | None = None
        self.rowcount: int = -1
        self.rownumber: int | None = None
        self.lastrowid: None = None
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
        self.query = sql
        description, rows, rowcount = self.connection._native.execute(
            sql, param_sets, not self.connection.autocommit
        )
        self.description = description
        self._rows = rows
        self.rowcount = rowcount
        self.rownumber = 0 if description is not None else None

    def execute(self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> None:
        """Run one statement; ``params`` fill its ``%s`` / ``%(name)s`` placeholders."""
        sql, spec, named = _prepare(query, params)
        self._run(sql, [_bind(spec, named, params)])

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
        sql, spec, named = _prepare(query, seq[0])
        self._run(sql, [_bind(spec, named, p) for p in seq])
        self.description = None
        self._rows = []

    def _need_result(self) -> None:
        self._check()
        if self.description is None:
            raise ProgrammingError("no results to fetch: the last statement returned no rows")

    def fetchone(self) -> tuple[Any, ...] | None:
        self._need_result()
        assert self.rownumber is not None
        if self.rownumber >= len(self._rows):
            return None
        row = self._rows[self.rownumber]
        self.rownumber += 1
        return row

    def fetchmany(self, size: int | None = None) -> list[tuple[Any, ...]]:
        self._need_result()
        assert self.rownumber is not None
        size = self.arraysize if size is None else size
        rows = self._rows[self.rownumber : self.rownumber + size]
        self.rownumber += len(rows)
        return rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        self._need_result()
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
            args = ", ".join(
                '"' + str(k).replace('"', '""') + f'" := %({k})s' for k in parameters
            )
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
_borrowed: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("puff_borrowed_connections")


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
