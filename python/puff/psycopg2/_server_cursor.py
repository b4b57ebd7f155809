"""Named (server-side) cursors of ``puff.psycopg2``: ``connection.cursor(name=...)``.

``execute()`` runs ``DECLARE name CURSOR ... FOR <query>`` (parameters still bound, never
quoted in) and the fetch methods read the result with ``FETCH FORWARD n`` as they need it:
``itersize`` rows at a time for ``fetchone()`` and iteration, ``size`` rows for
``fetchmany(size)``, the rest for ``fetchall()``. Only those rows are ever in memory, so
Django's ``QuerySet.iterator()`` streams a table of any size.

A cursor declared ``WITH HOLD`` (``withhold=True``, what Django asks for in autocommit
mode) outlives transactions on its session; the DB-API connection keeps its pooled
connection checked out until the cursor is closed (or the connection is), and the pooled
connection runs ``CLOSE ALL`` before another user gets it.
"""

from __future__ import annotations

from typing import Any

import puff.postgres as _pg
from puff.psycopg2 import _casters


class ServerCursor:
    """The server half of one named cursor: its DECLARE, FETCH, MOVE and CLOSE."""

    def __init__(self, name: str, scrollable: bool | None, withhold: bool) -> None:
        self.quoted = '"' + name.replace('"', '""') + '"'
        self.scrollable = scrollable
        self.withhold = withhold
        self.declared = False
        # Rows fetched from the server and not yet handed out: `buffer[pos:]`.
        self.buffer: list[Any] = []
        self.pos = 0
        # Rows the server cursor has moved past (its position).
        self.server_pos = 0
        self.native: Any = None  # the native connection holding the session, while held

    # ---- statements -----------------------------------------------------------------

    def declare(self, cursor: Any, sql: str, param_sets: list[Any]) -> None:
        conn = cursor.connection
        if self.declared:
            raise _pg.ProgrammingError("can't call .execute() on named cursors more than once")
        if conn.autocommit and not self.withhold:
            raise _pg.ProgrammingError("can't use a named cursor outside of transactions")
        scroll = "" if self.scrollable is None else ("SCROLL " if self.scrollable else "NO SCROLL ")
        hold = "WITH HOLD" if self.withhold else "WITHOUT HOLD"
        text = f"DECLARE {self.quoted} {scroll}CURSOR {hold} FOR {sql}"
        native = conn._native
        if self.withhold:
            # Before the DECLARE: an autocommit statement would give the session back.
            _pg._require_native().hold_session(native, True)
            self.native = native
        try:
            # No rows come back from DECLARE: no tzinfo factory needed.
            native.execute(text, param_sets or [[]], not conn.autocommit, None)
        except BaseException:
            self._unhold(wait=True)
            raise
        self.declared = True

    def _run(self, cursor: Any, sql: str) -> tuple[Any, list[Any], int]:
        if not self.declared:
            raise _pg.ProgrammingError("no results to fetch: execute() the named cursor first")
        conn = cursor.connection
        result: tuple[Any, list[Any], int] = conn._native.execute(
            sql,
            [[]],
            not conn.autocommit,
            cursor.tzinfo_factory,
            cursor._bytea_memoryview,
            _casters.interval_text_oids(cursor),
        )
        return result

    def _fetch(self, cursor: Any, count: int | None) -> list[Any]:
        """FETCH ``count`` rows (None: all the rest) from the server."""
        what = "ALL" if count is None else str(int(count))
        description, rows, _ = self._run(cursor, f"FETCH FORWARD {what} FROM {self.quoted}")
        cursor.description = description
        rows = _casters.cast_rows(cursor, rows)
        cursor.rowcount = len(rows)
        self.server_pos += len(rows)
        return rows

    def _unhold(self, wait: bool) -> None:
        native, self.native = self.native, None
        if native is not None:
            _pg._require_native().hold_session(native, False, wait)

    def close(self, cursor: Any) -> None:
        """CLOSE the server cursor (if it can still exist) and release the session."""
        conn = cursor.connection
        try:
            if self.declared and not conn.closed and (self.withhold or conn.in_transaction):
                conn._native.execute(f"CLOSE {self.quoted}", [[]], False, None)
        finally:
            self.declared = False
            self.buffer = []
            self.pos = 0
            self._unhold(wait=True)

    def forget(self) -> None:
        """The cursor object is going away unclosed: release the session in the background
        (the pooled connection's reset closes the server cursor)."""
        self._unhold(wait=False)

    # ---- fetching -------------------------------------------------------------------

    def _take(self, count: int) -> list[Any]:
        rows = self.buffer[self.pos : self.pos + count]
        self.pos += len(rows)
        return rows

    def fetchone(self, cursor: Any) -> Any:
        if self.pos >= len(self.buffer):
            self.buffer = self._fetch(cursor, max(1, int(cursor.itersize)))
            self.pos = 0
        rows = self._take(1)
        return rows[0] if rows else None

    def fetchmany(self, cursor: Any, size: int) -> list[Any]:
        rows = self._take(size)
        if len(rows) < size:
            rows += self._fetch(cursor, size - len(rows))
        return rows

    def fetchall(self, cursor: Any) -> list[Any]:
        rows = self._take(len(self.buffer))
        return rows + self._fetch(cursor, None)

    def position(self) -> int:
        """Rows handed out so far (the DB-API ``rownumber``)."""
        return self.server_pos - (len(self.buffer) - self.pos)

    def scroll(self, cursor: Any, value: int, mode: str) -> None:
        if mode not in ("relative", "absolute"):
            raise _pg.ProgrammingError(
                f"scroll mode must be 'relative' or 'absolute', not {mode!r}"
            )
        target = self.position() + value if mode == "relative" else value
        start = self.server_pos - len(self.buffer)
        if start <= target <= self.server_pos:
            self.pos = target - start  # inside the rows already fetched
            return
        delta = target - self.server_pos
        direction = "FORWARD" if delta > 0 else "BACKWARD"
        self._run(cursor, f"MOVE {direction} {abs(delta)} FROM {self.quoted}")
        self.server_pos = target
        self.buffer = []
        self.pos = 0
