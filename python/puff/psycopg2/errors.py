"""``psycopg2.errors``: one exception class per common SQLSTATE, as psycopg2 has.

Each subclasses the DB-API class of ``puff.postgres`` its SQLSTATE class maps to, so code
catching ``IntegrityError`` still catches ``UniqueViolation``. ``lookup(code)`` gives the
class for a code (``KeyError`` when there is none).
"""

from __future__ import annotations

from typing import Any

from puff.postgres import (
    DataError,
    Error,
    IntegrityError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
)

__all__ = ["lookup"]

_BY_CODE: dict[str, type[Error]] = {}


def _define(name: str, code: str, base: type[Error]) -> type[Error]:
    cls = type(name, (base,), {"__module__": __name__, "sqlstate": code})
    _BY_CODE[code] = cls
    globals()[name] = cls
    __all__.append(name)
    return cls


# SQLSTATEs Django and typical applications tell apart (PostgreSQL appendix A).
for _name, _code, _base in [
    ("FeatureNotSupported", "0A000", NotSupportedError),
    ("StringDataRightTruncation", "22001", DataError),
    ("NumericValueOutOfRange", "22003", DataError),
    ("InvalidDatetimeFormat", "22007", DataError),
    ("DatetimeFieldOverflow", "22008", DataError),
    ("DivisionByZero", "22012", DataError),
    ("InvalidTextRepresentation", "22P02", DataError),
    ("InvalidParameterValue", "22023", DataError),
    ("IntegrityConstraintViolation", "23000", IntegrityError),
    ("RestrictViolation", "23001", IntegrityError),
    ("NotNullViolation", "23502", IntegrityError),
    ("ForeignKeyViolation", "23503", IntegrityError),
    ("UniqueViolation", "23505", IntegrityError),
    ("CheckViolation", "23514", IntegrityError),
    ("ExclusionViolation", "23P01", IntegrityError),
    ("InvalidCursorState", "24000", InternalError),
    ("ActiveSqlTransaction", "25001", InternalError),
    ("ReadOnlySqlTransaction", "25006", InternalError),
    ("InFailedSqlTransaction", "25P02", InternalError),
    ("InvalidCatalogName", "3D000", ProgrammingError),
    ("InvalidSchemaName", "3F000", ProgrammingError),
    ("SerializationFailure", "40001", OperationalError),
    ("DeadlockDetected", "40P01", OperationalError),
    ("InsufficientPrivilege", "42501", ProgrammingError),
    ("SyntaxError", "42601", ProgrammingError),
    ("UndefinedColumn", "42703", ProgrammingError),
    ("UndefinedFunction", "42883", ProgrammingError),
    ("UndefinedTable", "42P01", ProgrammingError),
    ("UndefinedObject", "42704", ProgrammingError),
    ("DuplicateColumn", "42701", ProgrammingError),
    ("DuplicateDatabase", "42P04", ProgrammingError),
    ("DuplicateObject", "42710", ProgrammingError),
    ("DuplicateTable", "42P07", ProgrammingError),
    ("DuplicateSchema", "42P06", ProgrammingError),
    ("ObjectInUse", "55006", OperationalError),
    ("LockNotAvailable", "55P03", OperationalError),
    ("QueryCanceled", "57014", OperationalError),
    ("AdminShutdown", "57P01", OperationalError),
    ("RaiseException", "P0001", InternalError),
]:
    _define(_name, _code, _base)


def lookup(code: str) -> type[Error]:
    """The exception class for SQLSTATE ``code``."""
    return _BY_CODE[code]


class Diagnostics:
    """``exc.diag``: what the server said, as far as Puff keeps it."""

    def __init__(self, exc: Any) -> None:
        self.sqlstate: str | None = getattr(exc, "pgcode", None)
        pgerror = getattr(exc, "pgerror", None) or ""
        self.message_primary: str | None = str(exc) or None
        detail = pgerror.partition("\nDETAIL:  ")[2]
        self.message_detail: str | None = detail or None


def specific(exc: Error) -> Error:
    """``exc`` as the class of its SQLSTATE (psycopg2 raises those), with ``diag``."""
    code = getattr(exc, "pgcode", None)
    cls = _BY_CODE.get(code) if code else None
    if cls is not None and not isinstance(exc, cls):
        new = cls(*exc.args)
        new.pgcode = code
        new.pgerror = getattr(exc, "pgerror", None)
        new.with_traceback(exc.__traceback__)
        exc = new
    try:
        exc.diag = Diagnostics(exc)  # type: ignore[attr-defined]
    except AttributeError:
        pass
    return exc
