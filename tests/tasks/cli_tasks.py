"""Task functions for test_tasks_cli.py (besides those of tasks_lib.py), run by the worker
process that test starts (its config puts this folder on the Python path)."""

from __future__ import annotations

import time
from typing import Any

import puff
from puff.redis import global_redis


def hold(payload: dict[str, Any]) -> str:
    """Runs until Redis key ``payload["key"]`` exists (at most ``max_s`` seconds)."""
    deadline = time.monotonic() + float(payload.get("max_s", 120))
    while time.monotonic() < deadline:
        if global_redis.exists(payload["key"]):
            return "released"
        puff.sleep_ms(20)
    return "gave up"


def record(payload: dict[str, Any]) -> int:
    """Notes its run in Redis list ``payload["list"]``."""
    global_redis.rpush(payload["list"], str(payload["n"]))
    return int(payload["n"])
