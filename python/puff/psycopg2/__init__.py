"""A psycopg2-compatible driver on Puff's Postgres pools (``puff.postgres``).

Good enough for Django's stock ``django.db.backends.postgresql`` backend: with
``django = true`` Puff installs it as ``psycopg2`` (see ``puff.contrib.django``), so the
ORM, migrations and the admin run on the ``[[postgres]]`` pool named like the database
alias. It can also be imported directly: ``import puff.psycopg2 as psycopg2``.

What differs from psycopg2:
- ``connect()`` takes the pool from ``puff_pool=`` (default ``"default"``); host, user and
  password come from the pool's URL and are ignored here. A ``dbname`` other than the
  pool's database opens that database on the same server (Django's test database).
- A connection holds a pooled server connection only while a transaction is open, so
  thousands of connection objects share the pool; ``get_backend_pid()`` and session-level
  ``SET`` therefore apply to one statement's server connection only.
- Named (server-side) cursors stream with ``DECLARE`` / ``FETCH``; ``COPY`` streams through
  the pooled connection; ``LISTEN`` keeps it checked out (see docs/postgres.md).
- Queries send parameters separately (``%s`` become ``$n``), each typed as psycopg2's
  literal for it would be, so results match psycopg2's; only ``AsIs`` and users'
  ``getquoted()`` adapters (and ``mogrify``) write values into the text.
- ``Date``, ``Time``, ``Timestamp`` and the ``*FromTicks`` constructors return ``datetime``
  objects (psycopg2 wraps them in adapters); ``cursor.description`` holds
  ``puff.postgres.Column`` objects with psycopg2's attributes.
- Connection and cursor methods of psycopg2 that Puff lacks (``cancel``, ``lobject``, the
  ``tpc_*`` two-phase commit calls, ``fileno``, ``cast``, ...)
  raise ``NotSupportedError`` naming the call.
"""

from __future__ import annotations

import datetime
from typing import Any

from puff.postgres import (
    BINARY,
    NUMBER,
    ROWID,
    STRING,
    Binary,
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    Date,
    DateFromTicks,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Time,
    TimeFromTicks,
    Timestamp,
    TypeObject,
    Warning,  # noqa: A004
)
from puff.psycopg2 import errors, extensions, extras, sql

__version__ = "2.9.10 (dt dec pq3 ext lo64 puff)"
__libpq_version__ = 160000
apilevel = "2.0"
threadsafety = 2
paramstyle = "pyformat"

__all__ = [
    "connect",
    "Binary",
    "Date",
    "Time",
    "Timestamp",
    "DateFromTicks",
    "TimeFromTicks",
    "TimestampFromTicks",
    "STRING",
    "BINARY",
    "NUMBER",
    "DATETIME",
    "ROWID",
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
    "errors",
    "extensions",
    "extras",
    "sql",
]

# psycopg2's DATETIME is `timestamp` only (puff.postgres's covers every date/time type).
DATETIME = TypeObject("DATETIME", (1114,))


def TimestampFromTicks(ticks: float) -> datetime.datetime:  # noqa: N802 (DB-API name)
    """The timestamp at ``ticks`` seconds since the epoch, aware, in the local time zone
    (as psycopg2 gives it)."""
    return datetime.datetime.fromtimestamp(ticks).astimezone()


# Connection keywords that only libpq needs: the pool's URL already decides them.
_IGNORED = {
    "user",
    "password",
    "host",
    "hostaddr",
    "port",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "options",
    "application_name",
    "connect_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "target_session_attrs",
    "passfile",
    "service",
    "gssencmode",
}


def connect(
    dsn: str | None = None,
    connection_factory: Any = None,
    cursor_factory: Any = None,
    **kwargs: Any,
) -> extensions.connection:
    """A connection on the Puff pool ``puff_pool`` (default ``"default"``).

    ``dbname`` / ``database`` other than the pool's own opens that database of the same
    server; ``client_encoding`` must be UTF8; other libpq keywords are ignored (the
    pool's URL decides server, user and password)."""
    params: dict[str, Any] = extensions.parse_dsn(dsn) if dsn else {}
    params.update(kwargs)
    pool = str(params.pop("puff_pool", None) or "default")
    database = params.pop("dbname", None) or params.pop("database", None)
    encoding = params.pop("client_encoding", None)
    if encoding is not None:
        extensions.check_encoding(str(encoding))
    unknown = sorted(k for k in params if k not in _IGNORED)
    if unknown:
        raise ProgrammingError(f"invalid connection option {unknown[0]!r} for Puff's psycopg2 shim")
    factory = connection_factory or extensions.connection
    return factory(dsn or "", pool=pool, database=database, cursor_factory=cursor_factory)
