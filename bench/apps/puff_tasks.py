"""`bench tasks` for Puff: puff.task_queue on Redis, client and worker in one process.

`greenlets` (puff_tasks.toml: `puff-cli --config puff_tasks.toml --default-redis-url URL
tasks`) runs the callers as greenlets (puff.spawn); `coroutines` (puff_tasks_asyncio.toml,
asyncio = true) runs them as coroutines on Puff's event loop, awaiting the same calls;
`outbox` (puff_tasks_outbox.toml) runs the greenlet callers with each task scheduled in a
Postgres transaction of its own (``transaction=conn``, then ``conn.commit()``), moved into
the queue by the same process's outbox relay. The `[[task_queue]]` worker
(max_concurrent_tasks = 64) runs the tasks in the same puff-cli process. The work and the
checks are in tasks_common.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import puff
from puff import postgres
from puff.task_queue import TaskError, global_task_queue
from tasks_common import (
    KEEP_RESULTS_S,
    POLL_MS,
    TIMEOUT_S,
    Counter,
    Settings,
    plan,
    report,
    settings,
    warmup_plan,
)


def noop(payload: dict) -> int:
    """The task (top level, so the worker can import it): returns its payload's number."""
    return payload["i"]


q = global_task_queue  # a TaskQueue (global_task_queue() returns it too)
SCHEDULE = {
    "timeout_ms": int(TIMEOUT_S * 1000),
    "keep_results_for_ms": KEEP_RESULTS_S * 1000,
}
WAIT = {"poll_interval_ms": POLL_MS, "timeout_ms": int(TIMEOUT_S * 1000)}


def _check_backend() -> None:
    """Stop unless the queue is on Redis and runs tasks in this process."""
    if q.backend != "redis":
        raise SystemExit(f"puff.task_queue backend is {q.backend!r}, not 'redis'")
    if q.max_concurrent_tasks < 1:
        raise SystemExit("this process runs no tasks (max_concurrent_tasks = 0)")
    print(
        f"queue {q.name!r}: backend {q.backend}, max_concurrent_tasks "
        f"{q.max_concurrent_tasks}",
        flush=True,
    )


def _failed(counter: Counter, i: int, e: BaseException) -> None:
    kind = "raised" if isinstance(e, TaskError) else "wait failed"
    counter.failed(i, f"{kind}: {e!r}")


# ---- greenlets -----------------------------------------------------------------------


Scheduler = Callable[[int], str]


def _plain() -> Scheduler:
    return lambda i: q.schedule_function(noop, {"i": i}, **SCHEDULE)


def _in_transactions() -> Scheduler:
    """Each task in a transaction of its own on one connection of the caller."""
    conn = postgres.connect("outbox")

    def schedule(i: int) -> str:
        try:
            task = q.schedule_function(noop, {"i": i}, transaction=conn, **SCHEDULE)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        return str(task)

    return schedule


def _round(
    shares: list[list[int]], counter: Counter, new_scheduler: Callable[[], Scheduler] = _plain
) -> None:
    def caller(mine: list[int]) -> None:
        schedule = new_scheduler()
        scheduled = []
        for i in mine:
            try:
                scheduled.append((i, schedule(i)))
            except Exception as e:  # noqa: BLE001 - counted and reported
                counter.error(f"schedule {i}: {e!r}")
        for i, task_id in scheduled:
            try:
                value = q.wait_for_task_result(task_id, **WAIT)
            except Exception as e:  # noqa: BLE001 - counted and reported
                _failed(counter, i, e)
                continue
            counter.check(i, value)

    for h in [puff.spawn(caller, mine) for mine in shares]:
        h.join()


def _run(
    name: str, s: Settings, one_round: Callable[[list[list[int]], Counter], None]
) -> int:
    _check_backend()
    first = Counter()
    one_round([[-1]], first)
    if first.errors:
        print(f"the worker did not run a first task: {first.first_error}", flush=True)
        return 1
    one_round(warmup_plan(s), Counter())
    shares, counter = plan(s, s.tasks), Counter()
    start = time.perf_counter()
    one_round(shares, counter)
    seconds = time.perf_counter() - start
    return report(name, s, counter, seconds)


def greenlets() -> int:
    return _run("puff.task_queue (greenlets)", settings(), _round)


def outbox() -> int:
    return _run(
        "puff.task_queue (greenlets, transactional enqueue)",
        settings(),
        lambda shares, counter: _round(shares, counter, _in_transactions),
    )


# ---- coroutines ----------------------------------------------------------------------


async def _around(shares: list[list[int]], counter: Counter) -> None:
    async def caller(mine: list[int]) -> None:
        scheduled = []
        for i in mine:
            try:
                scheduled.append(
                    (i, await q.schedule_function(noop, {"i": i}, **SCHEDULE))
                )
            except Exception as e:  # noqa: BLE001 - counted and reported
                counter.error(f"schedule {i}: {e!r}")
        for i, task_id in scheduled:
            try:
                value = await q.wait_for_task_result(task_id, **WAIT)
            except Exception as e:  # noqa: BLE001 - counted and reported
                _failed(counter, i, e)
                continue
            counter.check(i, value)

    await asyncio.gather(*(caller(mine) for mine in shares))


async def _coroutines_main(s: Settings) -> int:
    _check_backend()
    first = Counter()
    await _around([[-1]], first)
    if first.errors:
        print(f"the worker did not run a first task: {first.first_error}", flush=True)
        return 1
    await _around(warmup_plan(s), Counter())
    shares, counter = plan(s, s.tasks), Counter()
    start = time.perf_counter()
    await _around(shares, counter)
    seconds = time.perf_counter() - start
    return report("puff.task_queue (coroutines)", s, counter, seconds)


def coroutines() -> int:
    return puff.run_coroutine(_coroutines_main(settings()))
