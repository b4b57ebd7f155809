"""The Redis server of `bench redis` (and `bench tasks`), run from bench/.venv-peers:

    python redis_bench_server.py [--postgres]

Starts a private throwaway redis-server from the installed binary
(tests/redis/redis_server.py: free loopback port, `--save ""`, `--appendonly no`) unless
PUFF_BENCH_REDIS_URL or PUFF_TEST_REDIS_URL names one, prints `BENCH_REDIS_VERSION=...` and
`BENCH_REDIS_URL=<url>` and waits until its standard input closes; then removes the private
server (or deletes the bench's `puff-bench:*` keys from a given server).

With `--postgres` (`bench tasks`' puff-outbox program, transactional enqueue) it also
starts a private Postgres (tests/postgres/pg_server.py) unless PUFF_BENCH_POSTGRES_URL or
PUFF_TEST_POSTGRES_URL names one, and prints `BENCH_OUTBOX_POSTGRES_URL=<url>` first.
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "redis"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "postgres"))

import redis  # noqa: E402
from pg_server import PgServer  # noqa: E402
from redis_server import RedisServer  # noqa: E402


def main() -> int:
    url = os.environ.get("PUFF_BENCH_REDIS_URL") or os.environ.get(
        "PUFF_TEST_REDIS_URL"
    )
    server = None
    if not url:
        server = RedisServer.create()
        url = server.url
        print(f"private server in {server.root} (log {server.logfile})", flush=True)
    client = redis.Redis.from_url(url)
    pg_server = None
    try:
        if "--postgres" in sys.argv[1:]:
            pg_url = os.environ.get("PUFF_BENCH_POSTGRES_URL") or os.environ.get(
                "PUFF_TEST_POSTGRES_URL"
            )
            if not pg_url:
                pg_server = PgServer.create()
                pg_url = pg_server.url
                print(f"private Postgres in {pg_server.root}", flush=True)
            print(f"BENCH_OUTBOX_POSTGRES_URL={pg_url}", flush=True)
        version = client.info("server")["redis_version"]
        print(f"BENCH_REDIS_VERSION=Redis {version}", flush=True)
        print(f"BENCH_REDIS_URL={url}", flush=True)
        sys.stdin.read()  # until the bench closes our stdin (or exits)
    finally:
        if pg_server is not None:
            pg_server.destroy()
        if server is not None:
            server.destroy()
        else:
            for key in client.scan_iter(match="puff-bench:*", count=1000):
                client.delete(key)
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
