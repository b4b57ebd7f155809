"""`bench postgres` for the peers, run from bench/.venv-peers:

python peer_pg.py asyncpg     # asyncpg under uvloop: a pool of BENCH_CONCURRENCY connections
python peer_pg.py psycopg2    # psycopg2: one connection for (a) and (b); for (c) one thread
                              # with its own connection per caller
"""

from __future__ import annotations

import sys
import threading
import time

from pg_common import (
    COUNT_SQL,
    FETCH_SQL,
    INSERT_SQL,
    SMALL_SQL,
    TRUNCATE_SQL,
    Counter,
    Settings,
    check_row,
    dollar,
    insert_rows,
    query_ids,
    report,
    settings,
)

# ---------------------------------------------------------------- asyncpg (uvloop)


async def _asyncpg_fetch(pool, s: Settings, counter: Counter) -> None:
    rows = await pool.fetch(FETCH_SQL)
    if len(rows) != s.rows:
        counter.error(f"{len(rows)} rows instead of {s.rows}")
    elif bad := check_row(tuple(rows[-1])):
        counter.error(bad)


async def _asyncpg_small(pool, s: Settings, counter: Counter, n: int) -> None:
    import asyncio

    ids = query_ids(s, n)
    sql = dollar(SMALL_SQL)

    async def worker(mine: list[int]) -> None:
        for key in mine:
            try:
                rows = await pool.fetch(sql, key)
                if len(rows) != 1 or rows[0][0] != key:
                    counter.error(f"id {key}: {rows!r}")
            except Exception as e:  # noqa: BLE001 - counted and reported
                counter.error(repr(e))

    await asyncio.gather(
        *(worker(ids[k :: s.concurrency]) for k in range(s.concurrency))
    )


async def run_asyncpg(s: Settings, counter: Counter) -> float:
    import asyncpg

    pool = await asyncpg.create_pool(
        s.url, min_size=s.concurrency, max_size=s.concurrency
    )
    try:
        if s.case == "a":
            await _asyncpg_fetch(pool, s, counter)  # untimed
            start = time.perf_counter()
            for _ in range(s.repeat):
                await _asyncpg_fetch(pool, s, counter)
            return (time.perf_counter() - start) / s.repeat
        if s.case == "b":
            params = insert_rows(s.inserts)
            async with pool.acquire() as conn:
                await conn.execute(TRUNCATE_SQL)
                start = time.perf_counter()
                async with conn.transaction():
                    await conn.executemany(dollar(INSERT_SQL), params)
                seconds = time.perf_counter() - start
                n = await conn.fetchval(COUNT_SQL)
            if n != s.inserts:
                counter.error(f"{n} rows in the table after {s.inserts} inserts")
            return seconds
        await _asyncpg_small(pool, s, Counter(0), max(s.concurrency, s.queries // 10))
        start = time.perf_counter()
        await _asyncpg_small(pool, s, counter, s.queries)
        return time.perf_counter() - start
    finally:
        await pool.close()


# ---------------------------------------------------------------- psycopg2


def _psycopg2_fetch(conn, s: Settings, counter: Counter) -> None:
    with conn.cursor() as cur:
        cur.execute(FETCH_SQL)
        rows = cur.fetchall()
    if len(rows) != s.rows:
        counter.error(f"{len(rows)} rows instead of {s.rows}")
    elif bad := check_row(rows[-1]):
        counter.error(bad)


def _psycopg2_small(s: Settings, counter: Counter, n: int, conns: list) -> None:
    ids = query_ids(s, n)
    lock = threading.Lock()

    def worker(conn, mine: list[int]) -> None:
        with conn.cursor() as cur:
            for key in mine:
                try:
                    cur.execute(SMALL_SQL, (key,))
                    rows = cur.fetchall()
                    if len(rows) != 1 or rows[0][0] != key:
                        with lock:
                            counter.error(f"id {key}: {rows!r}")
                except Exception as e:  # noqa: BLE001 - counted and reported
                    with lock:
                        counter.error(repr(e))

    threads = [
        threading.Thread(target=worker, args=(conns[k], ids[k :: s.concurrency]))
        for k in range(s.concurrency)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def run_psycopg2(s: Settings, counter: Counter) -> float:
    import psycopg2

    if s.case == "c":
        conns = [psycopg2.connect(s.url) for _ in range(s.concurrency)]
        for c in conns:
            c.autocommit = True
        try:
            _psycopg2_small(s, Counter(0), max(s.concurrency, s.queries // 10), conns)
            start = time.perf_counter()
            _psycopg2_small(s, counter, s.queries, conns)
            return time.perf_counter() - start
        finally:
            for c in conns:
                c.close()
    conn = psycopg2.connect(s.url)
    try:
        if s.case == "a":
            conn.autocommit = True
            _psycopg2_fetch(conn, s, counter)  # untimed
            start = time.perf_counter()
            for _ in range(s.repeat):
                _psycopg2_fetch(conn, s, counter)
            return (time.perf_counter() - start) / s.repeat
        params = insert_rows(s.inserts)
        with conn.cursor() as cur:
            cur.execute(TRUNCATE_SQL)
            conn.commit()
            start = time.perf_counter()
            cur.executemany(INSERT_SQL, params)
            conn.commit()
            seconds = time.perf_counter() - start
            cur.execute(COUNT_SQL)
            (n,) = cur.fetchone()
        if n != s.inserts:
            counter.error(f"{n} rows in the table after {s.inserts} inserts")
        return seconds
    finally:
        conn.close()


def main(which: str) -> int:
    s = settings()
    counter = Counter(0)
    if which == "asyncpg":
        import uvloop

        seconds = uvloop.run(run_asyncpg(s, counter))
        name = "asyncpg (uvloop)"
    elif which == "psycopg2":
        seconds = run_psycopg2(s, counter)
        name = "psycopg2"
    else:
        print(f"unknown client {which!r} (asyncpg, psycopg2)", file=sys.stderr)
        return 2
    ops = {"a": s.rows, "b": s.inserts}.get(s.case, s.queries)
    report(name, s, ops, counter, seconds)
    return 1 if counter.errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ""))
