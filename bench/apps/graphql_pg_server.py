"""The Postgres server of `bench graphql`, run from bench/.venv-peers (needs psycopg2):

    python graphql_pg_server.py

The server of `bench postgres` (pg_bench_server.serve: private and throwaway unless
PUFF_BENCH_POSTGRES_URL or PUFF_TEST_POSTGRES_URL names one) with the tables of
graphql_common.SCHEMA_SQL: `bench_parent` (PARENTS rows) and `bench_child`
(CHILDREN_PER_PARENT rows per parent, indexed on parent_id). Prints `BENCH_PG_VERSION=...` and
`BENCH_PG_URL=<url>` and waits until its standard input closes; then removes the private
server (or drops the two tables on a given server).
"""

from __future__ import annotations

import sys

import psycopg2
from graphql_common import CHILDREN_PER_PARENT, DROP_SQL, PARENTS, SCHEMA_SQL
from pg_bench_server import serve


def prepare(url: str) -> str:
    """Creates and fills the tables; returns the server version."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(SCHEMA_SQL)
        cur.execute("SELECT count(*) FROM bench_parent")
        (parents,) = cur.fetchone()
        cur.execute("SELECT count(*) FROM bench_child")
        (children,) = cur.fetchone()
        cur.execute("SHOW server_version")
        (version,) = cur.fetchone()
    conn.close()
    if (parents, children) != (PARENTS, PARENTS * CHILDREN_PER_PARENT):
        raise RuntimeError(f"the tables have {parents} parents and {children} children")
    return f"PostgreSQL {version}"


if __name__ == "__main__":
    sys.exit(serve(prepare, DROP_SQL))
