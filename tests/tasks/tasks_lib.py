"""Task functions for the task queue suite. They live in their own module so that every
process (the test process and the `wait-forever` workers) imports them by the same name.

In-process recorders (``STARTS``, ``ATTEMPTS``) serve the tests whose tasks run in the
test process; tasks run by worker processes record in Redis instead (``record_start``).
"""

from __future__ import annotations

import os
import time
from typing import Any

import puff
from puff.task_queue import current_task

# (kind, number, unix ms) of every start of `ordered_*` and `delayed` tasks in this process.
STARTS: list[tuple[str, int, float]] = []
# (run, tick, attempt) of every `periodic_record` run in this process.
PERIODIC_RUNS: list[tuple[str, int | None, int]] = []
# token -> how many times `flaky_slow` started.
ATTEMPTS: dict[str, int] = {}


def my_awesome_task(payload: dict[str, Any]) -> int:
    STARTS.append((payload["type"], payload["x"][0], time.time() * 1000))
    return int(payload["x"][0])


async def my_awesome_task_async(payload: dict[str, Any]) -> int:
    STARTS.append((payload["type"], payload["x"][0], time.time() * 1000))
    await puff.sleep_ms(1)
    return int(payload["x"][0])


def delayed(payload: dict[str, Any]) -> float:
    started = time.time() * 1000
    STARTS.append(("delayed", int(payload["n"]), started))
    return started


def flaky_slow(payload: dict[str, Any]) -> int:
    """Sleeps past its timeout on the first attempt only; returns the attempt number."""
    token = payload["token"]
    ATTEMPTS[token] = attempt = ATTEMPTS.get(token, 0) + 1
    if attempt == 1:
        puff.sleep_ms(int(payload["sleep_ms"]))
    return attempt


def always_slow(payload: dict[str, Any]) -> None:
    puff.sleep_ms(int(payload["sleep_ms"]))


def fails(payload: dict[str, Any]) -> None:
    raise ValueError(f"bad payload {payload['n']}")


def returns_non_json(payload: Any) -> object:
    return object()


def echo(payload: Any) -> Any:
    return payload


async def echo_async(payload: Any) -> Any:
    await puff.sleep_ms(1)
    return payload


def record_start(run: str, value: str) -> None:
    from puff.redis import global_redis

    global_redis.rpush(f"{run}:starts", value)


def remote_work(payload: dict[str, Any]) -> dict[str, int]:
    """Run by the worker processes: note the start in Redis, take a moment, say who ran."""
    record_start(payload["run"], f"{payload['i']}:{os.getpid()}")
    puff.sleep_ms(int(payload.get("sleep_ms", 20)))
    return {"i": int(payload["i"]), "pid": os.getpid()}


def hog_the_gil(payload: dict[str, Any]) -> int:
    """Holds the Python thread (and the GIL) for longer than the worker's lease."""
    record_start(payload["run"], f"hog:{os.getpid()}")
    deadline = time.monotonic() + payload["seconds"]
    spins = 0
    while time.monotonic() < deadline:
        spins += 1
    return os.getpid()


def periodic_record(payload: dict[str, Any]) -> int | None:
    """A periodic task run in this process: note its tick and attempt."""
    info = current_task()
    assert info is not None, "current_task() inside a task"
    PERIODIC_RUNS.append((payload["run"], info.periodic_tick_unix_ms, info.attempt))
    return info.periodic_tick_unix_ms


def periodic_tick(payload: dict[str, Any]) -> int | None:
    """The periodic task of the worker processes (periodic-worker.toml): notes
    `tick:pid:attempt` in Redis."""
    info = current_task()
    assert info is not None, "current_task() inside a task"
    tick = info.periodic_tick_unix_ms
    record_start(payload["run"], f"{tick}:{os.getpid()}:{info.attempt}")
    return tick


async def current_task_id_async(payload: Any) -> str | None:
    """`current_task()` from a coroutine task, across an await."""
    await puff.sleep_ms(1)
    info = current_task()
    return info.task_id if info else None


def slow_echo(payload: dict[str, Any]) -> Any:
    """Notes its start in ``STARTS`` (kind ``slow``), then sleeps ``sleep_ms``."""
    STARTS.append(("slow", int(payload["n"]), time.time() * 1000))
    puff.sleep_ms(int(payload["sleep_ms"]))
    return payload


def rated_local(payload: dict[str, Any]) -> int:
    """The in-process rate limit tests' limited function: notes its start in ``STARTS``."""
    STARTS.append(("rated", int(payload["n"]), time.time() * 1000))
    return int(payload["n"])


def rated_remote(payload: dict[str, Any]) -> int:
    """Limited to 10/s on the `remote` queue by worker.toml: notes `ms:pid` in Redis."""
    record_start(payload["run"], f"{time.time() * 1000:.1f}:{os.getpid()}")
    return int(payload["n"])


def schedule_unique_at(payload: dict[str, Any]) -> str:
    """Waits until ``at_ms``, then schedules a never-run task on the `unique` queue with
    ``unique_key=key``; returns the id it got (run by worker processes, racing others)."""
    from puff.task_queue import named_queue

    wait_ms = payload["at_ms"] - time.time() * 1000
    if wait_ms > 0:
        puff.sleep_ms(int(wait_ms))
    task: str = named_queue("unique").schedule_function(
        echo, {"key": payload["key"]}, unique_key=payload["key"]
    )
    return task


# run -> the numbers of the `outbox_effect` tasks that ran in this process, one entry per run.
OUTBOX_RUNS: dict[str, list[int]] = {}


def outbox_effect(payload: dict[str, Any]) -> int:
    """The side effect of a task enqueued in a transaction: counted per run."""
    OUTBOX_RUNS.setdefault(payload["run"], []).append(int(payload["i"]))
    return int(payload["i"])
