"""``psycopg2.extras``: JSON and network value wrappers, ranges, hstore, registrations.

``register_uuid`` and friends are accepted: Puff already binds and returns ``uuid.UUID``
objects. ``register_hstore`` and ``register_range`` work as in psycopg2 (process-wide).
``register_default_jsonb(loads=...)`` is honoured per connection (Django registers an
identity ``loads`` and parses JSON itself).
"""

from __future__ import annotations

from typing import Any

import puff.postgres as _pg
from puff.psycopg2._extras_cursors import (
    DictConnection as DictConnection,
    DictCursor as DictCursor,
    DictRow as DictRow,
    NamedTupleConnection as NamedTupleConnection,
    NamedTupleCursor as NamedTupleCursor,
    RealDictConnection as RealDictConnection,
    RealDictCursor as RealDictCursor,
    RealDictRow as RealDictRow,
    execute_batch as execute_batch,
    execute_values as execute_values,
)
from puff.psycopg2.extensions import missing_names, quote_string

# psycopg2.extras names the shim lacks: a NotSupportedError naming them when used.
__getattr__ = missing_names(
    "psycopg2.extras",
    """CompositeCaster DictCursorBase HstoreAdapter LoggingConnection LoggingCursor
    LogicalReplicationConnection MinTimeLoggingConnection MinTimeLoggingCursor
    PhysicalReplicationConnection REPLICATION_LOGICAL REPLICATION_PHYSICAL RangeAdapter
    RangeCaster ReplicationCursor ReplicationMessage StopReplication UUID_adapter quote_ident
    register_composite register_hstore register_ipaddress register_json register_range
    wait_select""",
)


class Json(_pg.Json):
    """A value sent as JSON (``dumps`` defaults to ``json.dumps``; subclasses may override
    the ``dumps`` method), an unknown-typed literal as in psycopg2."""

    def getquoted(self) -> bytes:
        return quote_string(self.dumps(self.adapted)).encode()

    def prepare(self, conn: Any) -> None:
        pass

    def __puff_param__(self) -> tuple[int, str]:
        text = self.dumps(self.adapted)
        kind = type(self)
        oid = _cast_oids.get(kind)
        if oid is None:
            oid = _cast_oids[kind] = self._cast_oid()
        return oid, text

    def _cast_oid(self) -> int:
        """The type a subclass's ``getquoted()`` casts psycopg2's literal to (Django's
        ``Jsonb`` writes ``'...'::jsonb``), so that the parameter is of that type as its
        literal would be (a CASE of such values is jsonb, not text); 0: untyped."""
        if type(self).getquoted is Json.getquoted:
            return 0
        base = Json.getquoted(self)
        quoted = self.getquoted()
        if not quoted.startswith(base):
            return 0
        return _JSON_CASTS.get(quoted[len(base) :].strip().lower(), 0)

    def __str__(self) -> str:
        return self.getquoted().decode()


# Casts a Json subclass may append to its literal, by the type OID they give the
# parameter (`::json` is left untyped: the native module reads OID 114 as "untyped JSON").
_JSON_CASTS = {b"::jsonb": 3802}
# What `Json._cast_oid` found for each subclass.
_cast_oids: dict[type, int] = {}


class Inet:
    """An ``inet`` value (psycopg2's wrapper: ``'addr'::inet``)."""

    def __init__(self, addr: Any) -> None:
        self.addr = addr

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.addr!r})"

    def __str__(self) -> str:
        return str(self.addr)

    def prepare(self, conn: Any) -> None:
        pass

    def getquoted(self) -> bytes:
        return (quote_string(str(self.addr)) + "::inet").encode()

    def __puff_param__(self) -> tuple[int, str]:
        return 869, str(self.addr)


Range = _pg.Range
NumericRange = _pg.NumericRange
DateRange = _pg.DateRange
DateTimeRange = _pg.DateTimeRange
DateTimeTZRange = _pg.DateTimeTZRange


class RangeAdapter:
    """Adapts a :class:`Range` to the range type ``name`` (as psycopg2's, for
    ``register_adapter``); Puff binds it as text of that type."""

    name: str | None = None
    _oid = 0

    def __init__(self, adapted: Range) -> None:
        self.adapted = adapted

    def prepare(self, conn: Any) -> None:
        pass

    def __puff_param__(self) -> tuple[int, str]:
        return self._oid, self.adapted.__puff_param__()[1]


class RangeCaster:
    """What ``register_range`` returns: the range type's name and OIDs and the Python
    class its values come back as."""

    def __init__(
        self, pgrange: Any, pyrange: Any, oid: int, subtype_oid: int, array_oid: int | None = None
    ) -> None:
        self.subtype_oid = subtype_oid
        self.typecaster = None
        self.array_typecaster = None
        self.oid = oid
        self.array_oid = array_oid
        self.range = pyrange if isinstance(pyrange, type) else _named_range(str(pyrange))
        if isinstance(pgrange, type):
            self.adapter = pgrange
        else:
            self.adapter = type(
                f"{self.range.__name__}Adapter", (RangeAdapter,), {"name": str(pgrange), "_oid": oid}
            )


def _named_range(name: str) -> type[Range]:
    return type(name, (Range,), {})


def register_range(pgrange: str, pyrange: Any, conn_or_curs: Any, globally: bool = False) -> RangeCaster:
    """Return values of the range type ``pgrange`` as ``pyrange`` (a :class:`Range`
    subclass, or a name to make one) and send ``pyrange`` values as ``pgrange``.
    Registrations are process-wide in Puff (``globally`` is implied)."""
    conn = getattr(conn_or_curs, "connection", conn_or_curs)
    cur = conn.cursor()
    cur.execute(
        "SELECT t.oid, r.rngsubtype, t.typarray FROM pg_type t JOIN pg_range r "
        "ON r.rngtypid = t.oid WHERE t.oid = to_regtype(%s)",
        [pgrange],
    )
    row = cur.fetchone()
    if row is None:
        raise _pg.ProgrammingError(f"PostgreSQL type '{pgrange}' not found")
    caster = RangeCaster(pgrange, pyrange, int(row[0]), int(row[1]), int(row[2]))
    caster.range._type_oid = caster.oid  # type: ignore[attr-defined]
    _pg._range_classes[caster.oid] = caster.range
    return caster


class HstoreAdapter:
    """Adapts a dict to ``hstore`` (registered for dicts by :func:`register_hstore`)."""

    # The hstore type's OID in the database register_hstore looked at.
    _oid = 0

    def __init__(self, wrapped: dict[Any, Any]) -> None:
        self.wrapped = wrapped

    def prepare(self, conn: Any) -> None:
        pass

    def _text(self) -> str:
        def quoted(value: Any) -> str:
            text = str(value)
            return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

        return ", ".join(
            f"{quoted(k)}=>{'NULL' if v is None else quoted(v)}" for k, v in self.wrapped.items()
        )

    def getquoted(self) -> bytes:
        return (quote_string(self._text()) + "::hstore").encode()

    def __puff_param__(self) -> tuple[int, str]:
        if not HstoreAdapter._oid:
            return 0, self._text()
        return HstoreAdapter._oid, self._text()

    @classmethod
    def get_oids(cls, conn_or_curs: Any) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The OIDs of ``hstore`` and ``hstore[]`` in the connection's database."""
        conn = getattr(conn_or_curs, "connection", conn_or_curs)
        cur = conn.cursor()
        cur.execute(
            "SELECT t.oid, t.typarray FROM pg_type t JOIN pg_namespace ns "
            "ON typnamespace = ns.oid WHERE typname = 'hstore'"
        )
        rows = cur.fetchall()
        return tuple(int(r[0]) for r in rows), tuple(int(r[1]) for r in rows)


def register_hstore(
    conn_or_curs: Any,
    globally: bool = False,
    unicode: bool = False,
    oid: Any = None,
    array_oid: Any = None,
) -> None:
    """Send dicts as ``hstore`` and return ``hstore`` values as dicts (on this connection,
    or on every one with ``globally``), as psycopg2's ``register_hstore``."""
    if oid is None:
        oids, _ = HstoreAdapter.get_oids(conn_or_curs)
        if not oids:
            raise _pg.ProgrammingError(
                "hstore type not found in the database. please install it from your "
                "'contrib/hstore.sql' file"
            )
        oid = oids
    if isinstance(oid, (list, tuple)):
        oid = oid[0]
    HstoreAdapter._oid = int(oid)
    _pg.register_adapter(dict, HstoreAdapter)
    if globally:
        _pg._require_native().set_hstore_dicts(True)
    else:
        conn = getattr(conn_or_curs, "connection", conn_or_curs)
        conn._native.hstore_dicts = True


def register_uuid(oids: Any = None, conn_or_curs: Any = None) -> None:
    """Accepted: ``uuid.UUID`` parameters are always bound as ``uuid`` and ``uuid`` columns
    always come back as ``uuid.UUID`` in Puff (psycopg2 needs this call for both)."""


def register_inet(oid: Any = None, conn_or_curs: Any = None) -> None:
    """Accepted: ``inet`` columns come back as text."""


def register_default_json(
    conn_or_curs: Any = None, globally: bool = False, loads: Any = None
) -> None:
    """Accepted: ``json`` columns come back parsed."""


def register_default_jsonb(
    conn_or_curs: Any = None, globally: bool = False, loads: Any = None
) -> None:
    """Parse ``jsonb`` results of ``conn_or_curs`` with ``loads`` (applied to their text)."""
    if conn_or_curs is None or loads is None:
        return
    conn = getattr(conn_or_curs, "connection", conn_or_curs)
    # Rust hands loads() the column text: no parse by Puff and dump back.
    conn._native.jsonb_loads = loads
