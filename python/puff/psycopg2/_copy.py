"""COPY for ``puff.psycopg2``'s ``copy_expert``, ``copy_from`` and ``copy_to``.

The data streams between the file and the pooled connection in chunks (see the Rust side,
``puff-postgres/src/copy.rs``): ``COPY ... FROM STDIN`` reads ``file.read(size)`` until it
returns nothing, ``COPY ... TO STDOUT`` calls ``file.write`` with whole rows, as ``str`` for
text files (``io.TextIOBase``) and ``bytes`` otherwise, as psycopg2 does.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

import puff.postgres as _pg

# The direction clause of a COPY statement; the last one wins (a query inside
# `COPY (...) TO STDOUT` comes before it).
_DIRECTION = re.compile(r"\b(FROM\s+STDIN|TO\s+STDOUT)\b", re.IGNORECASE)


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    if "\\" in text:
        return "E'" + text.replace("\\", "\\\\").replace("'", "''") + "'"
    return "'" + text.replace("'", "''") + "'"


def copy_sql(table: str, direction: str, sep: str, null: str, columns: Sequence[str] | None) -> str:
    """psycopg2's statement for ``copy_from`` / ``copy_to`` (the table name quoted whole,
    as psycopg2 2.9 does: a schema-qualified name needs ``copy_expert``)."""
    cols = "(" + ",".join(_quote_ident(c) for c in columns) + ")" if columns else ""
    return (
        f"COPY {_quote_ident(table)}{cols} {direction} "
        f"WITH DELIMITER AS {_literal(sep)} NULL AS {_literal(null)}"
    )


def refuse_in_execute(sql: str) -> None:
    """``execute()`` of a COPY to or from the client raises psycopg2's ProgrammingError (the
    server would wait for data no one sends)."""
    found = _DIRECTION.findall(sql)
    if found:
        method = "copy_from" if found[-1].upper().startswith("FROM") else "copy_to"
        direction = "FROM" if method == "copy_from" else "TO"
        raise _pg.ProgrammingError(
            f"can't execute COPY {direction}: use the {method}() method instead"
        )


def copy(conn: Any, sql: str, file: Any, size: int) -> int:
    """Run the COPY statement ``sql`` on ``conn`` with ``file``; returns the rows copied."""
    native = _pg._require_native()
    begin = not conn.autocommit
    found = _DIRECTION.findall(sql)
    if not found:
        # Not a COPY to or from the client: psycopg2 runs it like any statement.
        conn._native.execute(sql, [[]], begin, None)
        return -1
    if found[-1].upper().startswith("FROM"):
        if not hasattr(file, "read"):
            raise TypeError("copy_from() and COPY FROM STDIN need a file with a read() method")
        return int(native.copy_in(conn._native, sql, file.read, int(size), begin))
    if not hasattr(file, "write"):
        raise TypeError("copy_to() and COPY TO STDOUT need a file with a write() method")
    text = isinstance(file, io.TextIOBase)
    messages = int(native.copy_out(conn._native, sql, file.write, text, begin))
    return messages - _extra_messages(sql[sql.upper().rfind("STDOUT") :])


_BINARY = re.compile(r"\bFORMAT\s*'?binary\b|\bBINARY\b", re.IGNORECASE)
_HEADER = re.compile(r"\bHEADER\b(?!\s*'?(false|off|0)\b)", re.IGNORECASE)


def _extra_messages(options: str) -> int:
    """Messages of a COPY TO output that are not rows (the server sends one per row, plus
    the header and trailer of the binary format or a CSV header line)."""
    if _BINARY.search(options):
        return 2
    return 1 if _HEADER.search(options) else 0
