"""The Postgres server of `bench postgres`, run from bench/.venv-peers (needs psycopg2):

    python pg_bench_server.py ROWS

Starts a private throwaway server from the installed binaries (tests/postgres/pg_server.py;
as the `postgres` user when root, fsync off, trust auth on a free loopback port) unless
PUFF_BENCH_POSTGRES_URL or PUFF_TEST_POSTGRES_URL names one, creates and fills the tables
(pg_common.SCHEMA_SQL, ROWS rows), prints `BENCH_PG_VERSION=...` and `BENCH_PG_URL=<url>` and waits until its standard
input closes; then removes the private server (or drops the tables on a given server).
`bench graphql` runs the same server through `serve()` (graphql_pg_server.py).
"""

from __future__ import annotations

import os
import sys
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "postgres"))

import psycopg2  # noqa: E402
from pg_common import FILL_SQL, SCHEMA_SQL  # noqa: E402
from pg_server import PgServer  # noqa: E402


def prepare(url: str, rows: int) -> str:
    """Creates and fills the tables; returns the server version."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(SCHEMA_SQL)
        cur.execute(FILL_SQL.format(rows=int(rows)))
        cur.execute("SELECT count(*) FROM puff_bench_rows")
        (n,) = cur.fetchone()
        cur.execute("SHOW server_version")
        (version,) = cur.fetchone()
    conn.close()
    if n != rows:
        raise RuntimeError(f"puff_bench_rows has {n} rows, expected {rows}")
    return f"PostgreSQL {version}"


def serve(
    prepare: Callable[[str], str], drop_sql: str, server_options: str = ""
) -> int:
    """Runs the server (private unless named by the environment; `server_options` are extra
    `postgres` options for the private one), `prepare(url)` (which returns the server
    version), prints the `BENCH_PG_*` lines, waits until standard input closes, then removes
    the private server or runs `drop_sql` on the given one."""
    url = os.environ.get("PUFF_BENCH_POSTGRES_URL") or os.environ.get(
        "PUFF_TEST_POSTGRES_URL"
    )
    server = None
    if not url:
        server = PgServer.create(server_options)
        url = server.url
        print(f"private server in {server.root} (log {server.logfile})", flush=True)
    try:
        print(f"BENCH_PG_VERSION={prepare(url)}", flush=True)
        print(f"BENCH_PG_URL={url}", flush=True)
        sys.stdin.read()  # until the bench closes our stdin (or exits)
    finally:
        if server is not None:
            server.destroy()
        else:
            conn = psycopg2.connect(url)
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(drop_sql)
            conn.close()
    return 0


def main() -> int:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    return serve(
        lambda url: prepare(url, rows),
        "DROP TABLE IF EXISTS puff_bench_rows, puff_bench_insert",
    )


if __name__ == "__main__":
    sys.exit(main())
