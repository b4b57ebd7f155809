"""The Redis + pub/sub suite runs inside puff-cli against a real server; see run.py.

run.py runs it three times; the config of each run names it in PUFF_REDIS_SUITE, which
picks the test files below.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import puff
import pytest

RUN_HINT = "run the Redis suite with `.venv/bin/python tests/redis/run.py`"

SUITE = os.environ.get("PUFF_REDIS_SUITE", "")
SUITES = {
    # puff.toml: Redis configured (default, restart, down pools; default, restart pubsub).
    "redis": [
        "test_redis_commands.py",
        "test_redis_compat.py",
        "test_redis_pipeline.py",
        "test_redis_concurrency.py",
        "test_redis_faults.py",
        "test_redis_metrics.py",
        "test_pubsub.py",
        "test_pubsub_redis.py",
        "test_django_cache.py",
    ],
    # puff-memory.toml: no Redis at all, so pub/sub runs in-process.
    "memory": ["test_pubsub.py"],
    # puff-asyncio.toml: asyncio = true.
    "asyncio": ["test_asyncio.py", "test_redis_compat.py"],
}
_ALL = sorted({f for files in SUITES.values() for f in files})
collect_ignore = [f for f in _ALL if f not in SUITES.get(SUITE, _ALL)]


@pytest.fixture(autouse=True)
def _inside_puff_with_redis() -> None:
    if puff._native is None:
        pytest.fail(f"not inside the Puff runtime: {RUN_HINT}", pytrace=False)
    if SUITE not in SUITES:
        pytest.fail(f"PUFF_REDIS_SUITE is {SUITE!r}: {RUN_HINT}", pytrace=False)
    if SUITE != "memory" and not os.environ.get("PUFF_DEFAULT_REDIS_URL"):
        pytest.fail(f"PUFF_DEFAULT_REDIS_URL is not set: {RUN_HINT}", pytrace=False)


@pytest.fixture
def key() -> Iterator[Callable[[str], str]]:
    """``key("name")``: a key name private to this test (the `default` pool may be a shared
    server from PUFF_TEST_REDIS_URL); every key made this way is deleted afterwards."""
    from puff.redis import global_redis

    prefix = f"puff-test:{uuid.uuid4().hex[:12]}:"
    yield lambda name: prefix + name
    keys = list(global_redis.scan_iter(match=prefix + "*"))
    if keys:
        global_redis.delete(*keys)


@pytest.fixture
def channel() -> Callable[[str], str]:
    """``channel("name")``: a pub/sub channel name private to this test."""
    prefix = f"puff-test:{uuid.uuid4().hex[:12]}:"
    return lambda name: prefix + name
