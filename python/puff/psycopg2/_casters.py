"""Typecasters registered with ``register_type``, applied to result columns.

psycopg2 hands a caster the column's Postgres text (or None) and the cursor. Puff reads
results in binary and decodes them in Rust, so for a column whose type has a caster the
text is rebuilt here from the decoded value, as Postgres prints it (ISO ``DateStyle``,
``extra_float_digits`` 1). Values Puff returns as text (enums, ``citext``, unknown types,
``inet``) are that text already, and so are intervals in columns whose type has a caster:
a ``timedelta`` has lost the months, hours past a day and mixed signs that the text shows,
so Rust prints them from the binary fields in the session's ``IntervalStyle`` instead
(``interval_text_oids``).

Lookup is psycopg2's: the cursor's registrations, then its connection's, then the global
ones. It runs once per result set; with nothing registered it costs three truth tests.
"""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
from collections.abc import Callable
from typing import Any

# Registered casters by OID, registered without a scope. A connection's and a cursor's
# are their `_casters` dicts; there a None entry undoes a wider registration (a type
# with no Python caster, like UNICODE, means Puff's own conversion).
global_casters: dict[int, Any] = {}

# Array OID -> element OID of the built-in array types.
ARRAY_ELEMENTS = {
    1000: 16, 1001: 17, 1002: 18, 1003: 19, 1005: 21, 1007: 23, 1009: 25, 1014: 1042,
    1015: 1043, 1016: 20, 1021: 700, 1022: 701, 1028: 26, 1041: 869, 651: 650,
    1115: 1114, 1182: 1082, 1183: 1083, 1185: 1184, 1187: 1186, 1231: 1700, 1270: 1266,
    199: 114, 2951: 2950, 3807: 3802,
}  # fmt: skip

_FLOAT4, _JSON, _JSONB = 700, 114, 3802


def _float_text(value: float, float4: bool) -> str:
    """Postgres's shortest float text: exponent form below 1e-4 and from 1e15 (float4:
    1e6), ``Infinity`` / ``NaN``, no ``.0`` on whole numbers."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    sign, digits, exp = decimal.Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    point = len(text) + int(exp)  # digits before the decimal point
    first = point - 1  # decimal exponent of the first digit
    minus = "-" if sign else ""
    if -4 <= first < (6 if float4 else 15):
        if point <= 0:
            return f"{minus}0.{'0' * -point}{text}"
        if point >= len(text):
            return minus + text + "0" * (point - len(text))
        return f"{minus}{text[:point]}.{text[point:]}"
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{minus}{mantissa}e{'-' if first < 0 else '+'}{abs(first):02d}"


def _seconds_text(second: int, micro: int) -> str:
    return f"{second:02d}" + (f".{micro:06d}".rstrip("0") if micro else "")


def _offset_text(offset: datetime.timedelta | None) -> str:
    if offset is None:
        return ""
    total = int(offset.total_seconds())
    sign = "-" if total < 0 else "+"
    h, rest = divmod(abs(total), 3600)
    m, s = divmod(rest, 60)
    return f"{sign}{h:02d}" + (f":{m:02d}" if m or s else "") + (f":{s:02d}" if s else "")


def _time_text(t: datetime.time | datetime.datetime) -> str:
    return f"{t.hour:02d}:{t.minute:02d}:{_seconds_text(t.second, t.microsecond)}"


def _interval_text(td: datetime.timedelta) -> str:
    """Postgres's ``postgres`` IntervalStyle text of a timedelta (its days, then its
    time, signed alike when the whole is negative, as intervals from arithmetic are).
    Only for intervals that reach a caster as timedeltas, in arrays of a domain over
    ``interval`` (their own OID); those in ``interval`` and ``interval[]`` columns come
    as the server's text (see ``interval_text_oids``)."""
    total = td.days * 86400_000000 + td.seconds * 1_000000 + td.microseconds
    if total == 0:
        return "00:00:00"
    negative = total < 0
    days, micros = divmod(abs(total), 86400_000000)
    parts = []
    if days:
        parts.append(f"{'-' if negative else ''}{days} day{'' if days == 1 and not negative else 's'}")
    if micros:
        seconds, micro = divmod(micros, 1_000000)
        h, rest = divmod(seconds, 3600)
        m, s = divmod(rest, 60)
        parts.append(f"{'-' if negative else ''}{h:02d}:{m:02d}:{_seconds_text(s, micro)}")
    return " ".join(parts)


def _array_item(text: str | None) -> str:
    if text is None:
        return "NULL"
    if text == "" or text.upper() == "NULL" or any(c in text for c in '{}",\\ \t\n\r\v\f'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def pg_text(value: Any, oid: int) -> str | None:
    """``value`` (as Puff decoded a column of type ``oid``) in Postgres's text form."""
    if value is None:
        return None
    if oid in (_JSON, _JSONB):
        # jsonb prints as json.dumps does (", " and ": ", non-ASCII as it is).
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        element = ARRAY_ELEMENTS.get(oid, 0)
        return "{" + ",".join(
            pg_text(v, oid) or "{}" if isinstance(v, list) else _array_item(pg_text(v, element))
            for v in value
        ) + "}"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value, oid == _FLOAT4)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, datetime.datetime):
        return f"{value.date().isoformat()} {_time_text(value)}{_offset_text(value.utcoffset())}"
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, datetime.time):
        return _time_text(value) + _offset_text(value.utcoffset())
    if isinstance(value, datetime.timedelta):
        return _interval_text(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def _array_caster(base: Callable[[Any, Any], Any], element: int) -> Callable[[Any, Any], Any]:
    """An array type's caster: the base caster on each element's text, nesting kept."""

    def cast(value: Any, cursor: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            return [
                cast(v, cursor) if isinstance(v, list) else base(pg_text(v, element), cursor)
                for v in value
            ]
        # Puff returns arrays of types it does not know as their text.
        return base(value, cursor)

    return cast


def _scopes(cursor: Any) -> list[dict[int, Any]]:
    """The registries that apply to ``cursor``, most specific first (the empty left out)."""
    own = getattr(cursor, "_casters", None)
    conn = getattr(cursor.connection, "_casters", None)
    return [d for d in (own, conn, global_casters) if d]


def _lookup(scopes: list[dict[int, Any]], oid: int) -> Any:
    return next((s[oid] for s in scopes if oid in s), None)


_INTERVAL_OIDS = (1186, 1187)


def interval_text_oids(cursor: Any) -> tuple[int, ...] | None:
    """Of ``interval`` and ``interval[]``, the types with a caster for ``cursor``: Puff
    returns their intervals as the server's text (None: neither has one)."""
    scopes = _scopes(cursor)
    if not scopes:
        return None
    oids = tuple(oid for oid in _INTERVAL_OIDS if _lookup(scopes, oid) is not None)
    return oids or None


def column_casters(cursor: Any, description: Any) -> list[Callable[[Any], Any] | None] | None:
    """Per column of ``description``: the function that turns Puff's value into what the
    registered caster returns, or None (no caster); None when no column has one."""
    scopes = _scopes(cursor)
    if not scopes or not description:
        return None
    out: list[Callable[[Any], Any] | None] = []
    for column in description:
        oid = column[1]
        typ = _lookup(scopes, oid)
        out.append(None if typ is None else _column_cast(typ, oid, cursor))
    return out if any(out) else None


def _column_cast(typ: Any, oid: int, cursor: Any) -> Callable[[Any], Any] | None:
    if typ.base is not None:
        if typ.base.caster is None:
            return None
        element = ARRAY_ELEMENTS.get(oid, 0)
        array_cast = _array_caster(typ.base.caster, element)
        return lambda v: array_cast(v, cursor)
    caster = typ.caster
    return lambda v: caster(pg_text(v, oid), cursor)


def cast_rows(cursor: Any, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """``rows`` with the registered casters applied (the same list when none applies)."""
    casts = column_casters(cursor, cursor.description)
    if casts is None:
        return rows
    pairs = [(i, f) for i, f in enumerate(casts) if f is not None]
    out = []
    for row in rows:
        values = list(row)
        for i, f in pairs:
            values[i] = f(values[i])
        out.append(tuple(values))
    return out
