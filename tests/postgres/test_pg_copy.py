"""COPY through ``puff.psycopg2``: ``copy_expert``, ``copy_from`` and ``copy_to`` stream
between a file and the pooled connection. About 1,000,000 rows (over 100 MB of COPY text,
with tabs, backslashes, newlines, non-ASCII text and NULLs in it) go out to a file and back
in with the process's RSS growing by less than 50 MB, the data round-trips byte for byte,
and the real psycopg2 (psycopg2-binary) writes exactly the same bytes for the same table.
Smaller cases compare ``copy_from`` / ``copy_to`` options, text vs binary files and
rowcounts with psycopg2."""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import real_connect, rss_mb

import puff.psycopg2 as shim

ROWS = 1_000_000
RSS_LIMIT_MB = 50


@pytest.fixture
def tables() -> Iterator[str]:
    """A table-name prefix; every table starting with it is dropped afterwards."""
    prefix = f"copy_{os.getpid()}_{time.monotonic_ns()}"
    yield prefix
    conn = shim.connect()
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE %s", (prefix + "%",))
    for (name,) in cur.fetchall():
        cur.execute(f"DROP TABLE {name}")
    conn.close()


class Sampling:
    """A binary file on disk that samples the RSS on every read and write."""

    def __init__(self, path: Path, mode: str) -> None:
        self.f = open(path, mode)  # noqa: SIM115 (closed by close())
        self.peak = rss_mb()

    def _sample(self) -> None:
        self.peak = max(self.peak, rss_mb())

    def read(self, size: int = -1) -> bytes:
        self._sample()
        return self.f.read(size)

    def write(self, data: bytes) -> int:
        self._sample()
        return self.f.write(data)

    def close(self) -> None:
        self.f.close()


class Hashing:
    """A binary sink that only hashes what it is given."""

    def __init__(self) -> None:
        self.h = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.h.update(data)
        self.size += len(data)


FILL = """
CREATE TABLE {t} (id int8, label text, note text, amount numeric, at timestamptz);
INSERT INTO {t}
SELECT g,
       md5(g::text) || E'\\t<tab> \\\\back\\\\slash\\n<newline> ' || 'é ✓ ' || repeat('x', g % 20),
       CASE WHEN g % 5 = 0 THEN NULL ELSE 'n' || g END,
       g * 1.25,
       timestamptz '2026-01-01 00:00+00' + g * interval '1 minute'
FROM generate_series(1, {rows}) g;
"""


def test_a_million_rows_out_and_back_in_bounded_memory(tables: str, tmp_path: Path) -> None:
    src, dst = f"{tables}_src", f"{tables}_dst"
    conn = shim.connect()
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute(FILL.format(t=src, rows=ROWS))
    cur.execute(f"CREATE TABLE {dst} (LIKE {src})")
    out_path = tmp_path / "out.copy"

    base = rss_mb()
    out = Sampling(out_path, "wb")
    cur.copy_to(out, src)
    out.close()
    assert cur.rowcount == ROWS
    size = out_path.stat().st_size
    assert size > 100 * 1024 * 1024, size

    back = Sampling(out_path, "rb")
    cur.copy_from(back, dst, size=65536)
    back.close()
    assert cur.rowcount == ROWS
    growth = max(out.peak, back.peak) - base
    print(f"\nCOPY out and in of {ROWS} rows, {size / 2**20:.1f} MiB: RSS growth {growth:.1f} MB")
    assert growth < RSS_LIMIT_MB, f"RSS grew {growth:.1f} MB copying {size} bytes"

    # Byte for byte: the copy of the copy, and psycopg2's COPY of the same table.
    again = Hashing()
    cur.copy_expert(f"COPY {dst} TO STDOUT", again)
    with open(out_path, "rb") as f:
        written = hashlib.file_digest(f, "sha256").hexdigest()
    assert (again.size, again.h.hexdigest()) == (size, written)
    theirs = Hashing()
    other = real_connect()
    try:
        other.cursor().copy_to(theirs, src)
    finally:
        other.close()
    assert (theirs.size, theirs.h.hexdigest()) == (size, written)
    conn.close()


def _both(tables: str, run: Any) -> tuple[Any, Any]:
    out = []
    for connect, suffix in ((shim.connect, "puff"), (real_connect, "real")):
        conn = connect()
        try:
            out.append(run(conn, f"{tables}_{suffix}"))
            conn.commit()
        finally:
            conn.close()
    return out[0], out[1]


def test_copy_options_as_psycopg2(tables: str) -> None:
    def run(conn: Any, t: str) -> Any:
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE {t} (a int, b text, c text DEFAULT 'dflt')")
        seen = []
        cur.copy_from(io.StringIO("1\tx\n2\t\\N\n"), t, columns=("a", "b"))
        seen.append(cur.rowcount)
        cur.copy_from(io.BytesIO(b"3|y|z\n4|NULL|w\n"), t, sep="|", null="NULL", size=3)
        seen.append(cur.rowcount)
        cur.copy_expert(f"COPY {t} FROM STDIN WITH (FORMAT csv)", io.StringIO('5,"q,""r",s\n'))
        seen.append(cur.rowcount)
        text = io.StringIO()
        cur.copy_to(text, t, sep=",", null="-", columns=["a", "b"])
        raw = io.BytesIO()
        cur.copy_expert(f"COPY (SELECT * FROM {t} ORDER BY a) TO STDOUT WITH CSV HEADER", raw)
        seen += [text.getvalue(), raw.getvalue(), cur.rowcount]
        # Errors in the data come back as the server's.
        with pytest.raises(Exception, match="invalid input syntax for type integer") as e:
            cur.copy_from(io.StringIO("not a number\tx\n"), t)
        seen.append(type(e.value).__name__)
        conn.rollback()
        return seen

    ours, theirs = _both(tables, run)
    assert ours == theirs
    assert ours[3].startswith("1,x\n2,-\n3,y\n4,-\n")


def test_execute_refuses_copy_as_psycopg2(tables: str) -> None:
    def run(conn: Any, t: str) -> Any:
        # Autocommit: psycopg2 sends the COPY before refusing, which aborts a transaction.
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE {t} (a int)")
        seen = []
        for sql in (f"COPY {t} FROM STDIN", "  copy (SELECT 1) TO stdout"):
            with pytest.raises(Exception) as e:
                cur.execute(sql)
            seen.append((type(e.value).__name__, str(e.value)))
        cur.execute(f"SELECT count(*) FROM {t}")  # the connection still works
        seen.append(cur.fetchone())
        return seen

    ours, theirs = _both(tables, run)
    assert ours == theirs
    assert ours[0][1] == "can't execute COPY FROM: use the copy_from() method instead"


def test_copy_in_a_transaction_rolls_back(tables: str) -> None:
    def run(conn: Any, t: str) -> Any:
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE {t} (a int)")
        conn.commit()
        cur.copy_from(io.StringIO("1\n2\n"), t)
        conn.rollback()
        cur.execute(f"SELECT count(*) FROM {t}")
        return cur.fetchone()

    ours, theirs = _both(tables, run)
    assert ours == theirs == (0,)
