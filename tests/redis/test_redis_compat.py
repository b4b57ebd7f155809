"""``puff.redis`` against the real redis-py: the same calls, the same results.

Every case of ``compat_cases.py`` runs once through redis-py (``compat_peer.py``, a plain
Python subprocess of this virtualenv, redis-py pinned in python/requirements-dev.txt)
and once here through ``puff.redis``, both on the `compat` pool's private server, every
database flushed before each case. Each step's result (type and value, recursively) or
exception (class name and, for Redis errors, message) must be the same; cases run on the
client, again queued on a pipeline and again in a MULTI/EXEC transaction.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import tempfile
from typing import Any

import puff
import pytest
from puff import redis

from compat_cases import (
    CASES,
    Case,
    describe_signature,
    run_case,
    run_case_async,
    run_case_pipelined,
    run_case_pipelined_async,
)

HERE = os.path.dirname(os.path.abspath(__file__))
# Under puff-asyncio.toml (asyncio = true) every call is made, and awaited, from a
# coroutine on Puff's event loop.
FROM_COROUTINES = os.environ.get("PUFF_REDIS_SUITE") == "asyncio"


def ours(client: redis.RedisClient, case: Case, mode: str) -> list[Any]:
    """puff.redis's outcomes for ``case``: on the client, a pipeline or a transaction."""
    if FROM_COROUTINES:
        if mode == "client":
            return puff.run_coroutine(run_case_async(client, case))
        return puff.run_coroutine(
            run_case_pipelined_async(client, case, mode == "transaction")
        )
    if mode == "client":
        return run_case(client, case)
    return run_case_pipelined(client, case, mode == "transaction")


# Methods of puff.redis's client that are not Redis commands, or are covered by another
# name (incrby = incr's command, ...) and need no case of their own.
NOT_COMMANDS = {"command", "pipeline", "pool_status", "name"}
# Puff's own: `command([...])` sends any command raw (redis-py's `command()` is COMMAND).
NOT_REDIS_PY = {"command", "pool_status"}
# Refused on purpose (they pin a connection); test_redis_commands.py checks the message.
REFUSED = {"watch", "unwatch", "pubsub", "monitor", "script_debug"}


@pytest.fixture(scope="module")
def client() -> redis.RedisClient:
    return redis.named_client("compat")


@pytest.fixture(scope="module")
def peer() -> dict[str, Any]:
    """redis-py's outcomes for every case, computed once by compat_peer.py."""
    url = os.environ.get("PUFF_COMPAT_REDIS_URL")
    if not url:
        pytest.fail(
            "PUFF_COMPAT_REDIS_URL is not set: run tests/redis/run.py", pytrace=False
        )

    @puff.blocking
    def run_peer() -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "peer.json")
            proc = subprocess.run(
                [sys.executable, os.path.join(HERE, "compat_peer.py"), url, out],
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert proc.returncode == 0, proc.stdout + proc.stderr
            with open(out) as f:
                return json.load(f)

    results = run_peer()
    assert results["redis_py"].startswith("8."), results["redis_py"]
    return results


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_as_redis_py(
    case: Case, client: redis.RedisClient, peer: dict[str, Any]
) -> None:
    assert ours(client, case, "client") == peer["cases"][case.name]["client"]


PIPELINED = [c for c in CASES if c.pipeline]


@pytest.mark.parametrize("case", PIPELINED, ids=[c.name for c in PIPELINED])
def test_same_as_redis_py_on_a_pipeline(
    case: Case, client: redis.RedisClient, peer: dict[str, Any]
) -> None:
    assert ours(client, case, "pipeline") == peer["cases"][case.name]["pipeline"]


@pytest.mark.parametrize("case", PIPELINED, ids=[c.name for c in PIPELINED])
def test_same_as_redis_py_in_a_transaction(
    case: Case, client: redis.RedisClient, peer: dict[str, Any]
) -> None:
    assert ours(client, case, "transaction") == peer["cases"][case.name]["transaction"]


def test_signatures_are_redis_pys(peer: dict[str, Any]) -> None:
    """Every public method of the client and the pipeline takes the parameters redis-py's
    takes: same names, kinds and defaults."""
    differ = []
    for cls, prefix in ((redis.RedisClient, ""), (redis.Pipeline, "Pipeline.")):
        for name, fn in inspect.getmembers(cls, callable):
            if name.startswith("_") or name in NOT_REDIS_PY:
                continue
            theirs = peer["signatures"].get(prefix + name)
            if theirs != describe_signature(fn):
                differ.append((prefix + name, theirs, describe_signature(fn)))
    assert differ == []


def test_every_command_method_has_cases() -> None:
    """The table covers every public command method of the client (so adding a method
    without its differential cases fails here)."""
    methods = {
        name
        for name, _ in inspect.getmembers(redis.RedisClient, callable)
        if not name.startswith("_")
    }
    covered = {step.method for c in CASES for step in c.steps}
    covered |= {"bitfield", "register_script", "restore", "dump"}
    missing = sorted(methods - covered - NOT_COMMANDS - REFUSED)
    assert missing == [], f"methods without differential cases: {missing}"
