"""Shared by the `bench postgres` programs: settings, the SQL, the rows and the result line.

`cargo xtask bench postgres` sets BENCH_PG_URL, BENCH_CASE (a, b or c), BENCH_ROWS,
BENCH_INSERTS, BENCH_QUERIES, BENCH_CONCURRENCY and BENCH_REPEAT and reads the
`BENCH_RESULT ...` line each program prints last. Every client runs the same SQL; only the
placeholders differ (`%s` for puff.postgres and psycopg2, `$n` for asyncpg).

- (a) fetch: ``FETCH_SQL`` returns the whole table (BENCH_ROWS rows x 6 columns: int8, text,
  float8, bool, timestamptz, numeric) as Python objects; the figure is the mean of BENCH_REPEAT
  fetches after one untimed fetch.
- (b) insert: BENCH_INSERTS single-row ``INSERT_SQL`` statements with one ``executemany`` call
  and a commit, into the emptied (TRUNCATE, untimed) table ``puff_bench_insert``.
- (c) small queries: BENCH_QUERIES ``SMALL_SQL`` lookups by primary key from BENCH_CONCURRENCY
  concurrent callers (after BENCH_QUERIES / 10 untimed ones with the same callers).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from decimal import Decimal

COLUMNS = "id, name, score, active, created, amount"
FETCH_SQL = f"SELECT {COLUMNS} FROM puff_bench_rows"
INSERT_SQL = (
    f"INSERT INTO puff_bench_insert ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)"
)
SMALL_SQL = f"SELECT {COLUMNS} FROM puff_bench_rows WHERE id = %s"
TRUNCATE_SQL = "TRUNCATE puff_bench_insert"
COUNT_SQL = "SELECT count(*) FROM puff_bench_insert"

SCHEMA_SQL = """
DROP TABLE IF EXISTS puff_bench_rows;
DROP TABLE IF EXISTS puff_bench_insert;
CREATE TABLE puff_bench_rows (
    id int8 PRIMARY KEY, name text NOT NULL, score float8 NOT NULL, active bool NOT NULL,
    created timestamptz NOT NULL, amount numeric(12, 2) NOT NULL
);
CREATE TABLE puff_bench_insert (
    id int8 PRIMARY KEY, name text NOT NULL, score float8 NOT NULL, active bool NOT NULL,
    created timestamptz NOT NULL, amount numeric(12, 2) NOT NULL
);
"""

# Fills puff_bench_rows server-side with {rows} rows (the same values as insert_rows() below).
FILL_SQL = """
INSERT INTO puff_bench_rows
SELECT i, 'name-' || i, i * 0.5, i % 2 = 0,
       timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second', (i * 1.25)::numeric(12, 2)
FROM generate_series(1, {rows}) AS i;
ANALYZE puff_bench_rows;
"""

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def dollar(sql: str) -> str:
    """`%s` placeholders as asyncpg's `$1, $2, ...`."""
    parts = sql.split("%s")
    out = parts[0]
    for i, p in enumerate(parts[1:], 1):
        out += f"${i}{p}"
    return out


@dataclass
class Settings:
    url: str
    case: str
    rows: int
    inserts: int
    queries: int
    concurrency: int
    repeat: int


def settings() -> Settings:
    return Settings(
        url=os.environ.get("BENCH_PG_URL", ""),
        case=os.environ.get("BENCH_CASE", "a"),
        rows=int(os.environ.get("BENCH_ROWS", "10000")),
        inserts=int(os.environ.get("BENCH_INSERTS", "10000")),
        queries=int(os.environ.get("BENCH_QUERIES", "5000")),
        concurrency=int(os.environ.get("BENCH_CONCURRENCY", "50")),
        repeat=max(1, int(os.environ.get("BENCH_REPEAT", "5"))),
    )


def insert_rows(n: int) -> list[tuple]:
    """The parameter sets of case (b): one per row, all six types."""
    return [
        (
            i,
            f"name-{i}",
            i * 0.5,
            i % 2 == 0,
            EPOCH + dt.timedelta(seconds=i),
            Decimal(i * 125) / 100,
        )
        for i in range(1, n + 1)
    ]


def query_ids(s: Settings, n: int) -> list[int]:
    """The keys of case (c), spread over the table."""
    return [(i * 7919) % s.rows + 1 for i in range(n)]


def check_row(row) -> str:
    """'' when a fetched row has the expected Python types, else what is wrong."""
    types = (int, str, float, bool, dt.datetime, Decimal)
    got = tuple(type(v) for v in row)
    if len(row) != 6 or not all(isinstance(v, t) for v, t in zip(row, types)):
        return f"unexpected row types {got}"
    if row[4].tzinfo is None:
        return "timestamptz came back naive"
    return ""


class Counter:
    """Hands out work items until `total` have been taken; counts errors."""

    def __init__(self, total: int) -> None:
        self.left = total
        self.errors = 0
        self.first_error = ""

    def take(self) -> int | None:
        if self.left <= 0:
            return None
        self.left -= 1
        return self.left

    def error(self, what: str) -> None:
        self.errors += 1
        if not self.first_error:
            self.first_error = what.replace("\n", " ")[:300]


def report(name: str, s: Settings, ops: int, counter: Counter, seconds: float) -> None:
    """`ops` operations (rows fetched, rows inserted or queries) took `seconds`."""
    rate = ops / seconds if seconds > 0 else 0.0
    what = {"a": "rows fetched", "b": "rows inserted", "c": "queries"}.get(
        s.case, "ops"
    )
    print(
        f"{name}: case ({s.case}) {ops} {what}, {seconds * 1000:.1f} ms, {rate:.0f}/s, "
        f"{counter.errors} errors",
        flush=True,
    )
    if counter.first_error:
        print(f"first error: {counter.first_error}", flush=True)
    print(
        f"BENCH_RESULT requests={ops} errors={counter.errors} "
        f"seconds={seconds:.6f} rps={rate:.3f}",
        flush=True,
    )
