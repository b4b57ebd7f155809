"""``psycopg2.extras``: JSON and network value wrappers, ranges, registrations.

``register_uuid`` and friends are accepted: Puff already returns ``uuid.UUID`` objects.
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
    """A value sent as JSON (``dumps`` defaults to ``json.dumps``)."""

    def dumps(self, obj: Any) -> str:
        return str(self._dumps(obj))

    def getquoted(self) -> bytes:
        return quote_string(self.dumps(self.adapted)).encode()

    def prepare(self, conn: Any) -> None:
        pass

    def __str__(self) -> str:
        return self.getquoted().decode()


class Inet(str):
    """An ``inet`` / ``cidr`` value (sent as its text)."""

    @property
    def addr(self) -> str:
        return str(self)

    def getquoted(self) -> bytes:
        return (quote_string(str(self)) + "::inet").encode()


class Range:
    """A Postgres range value (``lower``, ``upper``, ``bounds`` like ``"[)"``)."""

    def __init__(
        self, lower: Any = None, upper: Any = None, bounds: str = "[)", empty: bool = False
    ) -> None:
        if bounds not in ("[)", "(]", "()", "[]"):
            raise ValueError(f"bound flags not valid: {bounds!r}")
        self.lower = None if empty else lower
        self.upper = None if empty else upper
        self.bounds = None if empty else bounds
        self.isempty = empty

    @property
    def lower_inc(self) -> bool:
        return bool(self.bounds) and self.lower is not None and self.bounds[0] == "["

    @property
    def upper_inc(self) -> bool:
        return bool(self.bounds) and self.upper is not None and self.bounds[1] == "]"

    @property
    def lower_inf(self) -> bool:
        return not self.isempty and self.lower is None

    @property
    def upper_inf(self) -> bool:
        return not self.isempty and self.upper is None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Range) and (self.lower, self.upper, self.bounds, self.isempty) == (
            other.lower,
            other.upper,
            other.bounds,
            other.isempty,
        )

    def __hash__(self) -> int:
        return hash((self.lower, self.upper, self.bounds))

    def __repr__(self) -> str:
        if self.isempty:
            return f"{type(self).__name__}(empty=True)"
        return f"{type(self).__name__}({self.lower!r}, {self.upper!r}, {self.bounds!r})"


class NumericRange(Range):
    pass


class DateRange(Range):
    pass


class DateTimeRange(Range):
    pass


class DateTimeTZRange(Range):
    pass


def register_uuid(oids: Any = None, conn_or_curs: Any = None) -> None:
    """Accepted: ``uuid`` columns already come back as ``uuid.UUID``."""


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
