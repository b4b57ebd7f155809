"""The Postgres suite runs inside puff-cli with a real server; see run.py."""

from __future__ import annotations

import os
from collections.abc import Iterator

import puff
import pytest

RUN_HINT = "run the Postgres suite with `.venv/bin/python tests/postgres/run.py`"


@pytest.fixture(autouse=True)
def _inside_puff_with_postgres() -> None:
    if puff._native is None:
        pytest.fail(f"not inside the Puff runtime: {RUN_HINT}", pytrace=False)
    if not os.environ.get("PUFF_DEFAULT_POSTGRES_URL"):
        pytest.fail(f"PUFF_DEFAULT_POSTGRES_URL is not set: {RUN_HINT}", pytrace=False)


@pytest.fixture
def conn() -> Iterator[puff.postgres.Connection]:  # type: ignore[name-defined]
    from puff import postgres

    c = postgres.connect()
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def table(conn: object) -> Iterator[str]:
    """A fresh scratch table name, dropped afterwards."""
    from puff import postgres

    name = f"t_{os.getpid()}_{id(conn)}"
    c = postgres.connect()
    c.autocommit = True
    c.cursor().execute(f"DROP TABLE IF EXISTS {name}")
    yield name
    c.cursor().execute(f"DROP TABLE IF EXISTS {name}")
    c.close()


# ---- helpers of the streaming tests (named cursors, COPY, LISTEN/NOTIFY, extras) -------


def rss_mb() -> float:
    """This process's resident set size in MB, from /proc/self/status."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def real_psycopg2() -> object:
    """The real psycopg2 module (psycopg2-binary, pinned in python/requirements-dev.txt):
    a missing one is a broken set-up, not a skip."""
    import importlib

    import puff.psycopg2

    try:
        module = importlib.import_module("psycopg2")
    except ImportError:
        module = None
    if module is None or module is puff.psycopg2:
        pytest.fail("psycopg2-binary is not installed: run `cargo xtask setup`", pytrace=False)
    return module


def real_connect() -> object:
    """A connection of the real psycopg2 to the server of the `default` pool."""
    return real_psycopg2().connect(os.environ["PUFF_DEFAULT_POSTGRES_URL"])  # type: ignore[attr-defined]


def on_every_pooled_connection(sql: str) -> list[tuple[object, ...]]:
    """The first row of ``sql`` on each connection of the `default` pool (as many checkouts
    as it may open, each running ``sql`` on whatever connection it gets)."""
    from puff import postgres

    rows = []
    for _ in range(postgres.pool_status()["max_open"]):
        conn = postgres.connect()
        conn.autocommit = True
        try:
            cur = conn.cursor()
            cur.execute(sql)
            rows.append(cur.fetchone())
        finally:
            conn.close()
    return rows


def in_use_settles_at(count: int, timeout_s: float = 5.0) -> bool:
    """Whether the `default` pool's ``in_use`` reaches ``count`` within ``timeout_s`` (a
    connection given back reaches the pool a moment later, on Tokio)."""
    import time

    from puff import postgres

    deadline = time.monotonic() + timeout_s
    while postgres.pool_status()["in_use"] != count:
        if time.monotonic() > deadline:
            return False
        puff.sleep_ms(10)
    return True
