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
