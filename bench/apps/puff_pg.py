"""`bench postgres` for Puff: puff.postgres (DB-API 2.0 on Rust pools), run as a
`[[commands]]` entry of puff_pg.toml: `puff-cli --config puff_pg.toml --default-postgres-url URL pg`.
Case (c) runs the callers as greenlets (puff.spawn), each with its own connection.
"""

from __future__ import annotations

import time

import puff
from pg_common import (
    COUNT_SQL,
    FETCH_SQL,
    INSERT_SQL,
    SMALL_SQL,
    TRUNCATE_SQL,
    Counter,
    Settings,
    check_row,
    insert_rows,
    query_ids,
    report,
    settings,
)
from puff import postgres


def _fetch(counter: Counter, s: Settings) -> None:
    conn = postgres.connect()
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute(FETCH_SQL)
    rows = cur.fetchall()
    conn.close()
    if len(rows) != s.rows:
        counter.error(f"{len(rows)} rows instead of {s.rows}")
    elif bad := check_row(rows[-1]):
        counter.error(bad)


def case_a(s: Settings, counter: Counter) -> float:
    _fetch(counter, s)  # untimed
    start = time.perf_counter()
    for _ in range(s.repeat):
        _fetch(counter, s)
    return (time.perf_counter() - start) / s.repeat


def case_b(s: Settings, counter: Counter) -> float:
    params = insert_rows(s.inserts)
    conn = postgres.connect()
    conn.autocommit = True
    conn.cursor().execute(TRUNCATE_SQL)
    conn.autocommit = False
    cur = conn.cursor()
    start = time.perf_counter()
    cur.executemany(INSERT_SQL, params)
    conn.commit()
    seconds = time.perf_counter() - start
    conn.autocommit = True
    cur.execute(COUNT_SQL)
    (n,) = cur.fetchone()
    conn.close()
    if n != s.inserts:
        counter.error(f"{n} rows in the table after {s.inserts} inserts")
    return seconds


def _small_round(s: Settings, counter: Counter, n: int) -> None:
    ids = query_ids(s, n)

    def worker(mine: list[int]) -> None:
        conn = postgres.connect()
        conn.autocommit = True
        cur = conn.cursor()
        for key in mine:
            try:
                cur.execute(SMALL_SQL, (key,))
                rows = cur.fetchall()
                if len(rows) != 1 or rows[0][0] != key:
                    counter.error(f"id {key}: {rows!r}")
            except Exception as e:  # noqa: BLE001 - counted and reported
                counter.error(repr(e))
        conn.close()

    handles = [
        puff.spawn(worker, ids[k :: s.concurrency]) for k in range(s.concurrency)
    ]
    for h in handles:
        h.join()


def case_c(s: Settings, counter: Counter) -> float:
    _small_round(s, Counter(0), max(s.concurrency, s.queries // 10))  # untimed
    start = time.perf_counter()
    _small_round(s, counter, s.queries)
    return time.perf_counter() - start


def main() -> int:
    s = settings()
    counter = Counter(0)
    if s.case == "a":
        seconds, ops = case_a(s, counter), s.rows
    elif s.case == "b":
        seconds, ops = case_b(s, counter), s.inserts
    else:
        seconds, ops = case_c(s, counter), s.queries
    report("puff.postgres", s, ops, counter, seconds)
    return 1 if counter.errors else 0
