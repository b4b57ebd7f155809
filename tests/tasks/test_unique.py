"""``unique_key``: one queued or running task per key and queue, on Redis and in process.

The `unique` queue is run by nobody (``max_concurrent_tasks = 0``), so what is scheduled
there stays queued and can be counted; the `default` queue runs its tasks here."""

from __future__ import annotations

import time
import uuid

import puff
import pytest
import tasks_lib
from puff.task_queue import TaskError, global_task_queue, named_queue

tq = global_task_queue


def now_ms() -> float:
    return time.time() * 1000


def wait_until_started(kind: str, n: int, timeout_ms: int = 30_000) -> None:
    for _ in range(timeout_ms // 10):
        if any(k == kind and i == n for k, i, _ in tasks_lib.STARTS):
            return
        puff.sleep_ms(10)
    raise AssertionError(f"task {kind} {n} never started")


def test_fifty_concurrent_schedulers_create_one_task_and_all_get_its_id() -> None:
    unique = named_queue("unique")
    assert unique.counts() == {"queued": 0, "running": 0}
    key = f"race:{uuid.uuid4().hex}"
    start_at = now_ms() + 200

    def schedule(i: int) -> str:
        puff.sleep_ms(max(0, int(start_at - now_ms())))
        task: str = unique.schedule_function(tasks_lib.echo, {"i": i}, unique_key=key)
        return task

    handles = [puff.spawn(schedule, i) for i in range(50)]
    ids = [h.join() for h in handles]
    assert len(set(ids)) == 1, f"{len(set(ids))} different ids"
    assert unique.counts() == {"queued": 1, "running": 0}
    # The key belongs to this queue: another queue schedules its own task.
    elsewhere = tq.schedule_function(
        tasks_lib.echo, 1, scheduled_time_unix_ms=int(now_ms()) + 60_000, unique_key=key
    )
    assert elsewhere != ids[0]
    assert tq.cancel(elsewhere) is True
    # Cancelled, the key is free again.
    assert unique.cancel(ids[0]) is True
    again = unique.schedule_function(tasks_lib.echo, {"i": -1}, unique_key=key)
    assert again != ids[0]
    assert unique.schedule_function(tasks_lib.echo, {"i": -2}, unique_key=key) == again
    assert unique.counts() == {"queued": 1, "running": 0}
    assert unique.cancel(again) is True


def test_the_key_is_held_while_running_and_free_once_the_result_is_stored() -> None:
    key = f"run:{uuid.uuid4().hex}"
    first = tq.schedule_function(tasks_lib.slow_echo, {"n": 1, "sleep_ms": 800}, unique_key=key)
    wait_until_started("slow", 1)
    assert (
        tq.schedule_function(tasks_lib.slow_echo, {"n": 2, "sleep_ms": 0}, unique_key=key) == first
    )
    assert tq.wait_for_task_result(first, 10, 30_000) == {"n": 1, "sleep_ms": 800}
    second = tq.schedule_function(tasks_lib.echo, {"n": 3}, unique_key=key)
    assert second != first
    assert tq.wait_for_task_result(second, 10, 30_000) == {"n": 3}
    assert not [s for s in tasks_lib.STARTS if s[0] == "slow" and s[1] == 2]


def test_a_dead_lettered_task_frees_its_key() -> None:
    key = f"dead:{uuid.uuid4().hex}"
    task = tq.schedule_function(
        tasks_lib.always_slow, {"sleep_ms": 2000}, timeout_ms=200, max_retries=0, unique_key=key
    )
    with pytest.raises(TaskError, match="gave up after 1 attempts"):
        tq.wait_for_task_result(task, 20, 30_000)
    again = tq.schedule_function(tasks_lib.echo, {"k": 1}, unique_key=key)
    assert again != task
    assert tq.wait_for_task_result(again, 10, 30_000) == {"k": 1}


def test_a_task_without_a_key_is_never_deduplicated() -> None:
    unique = named_queue("unique")
    a = unique.schedule_function(tasks_lib.echo, 1)
    b = unique.schedule_function(tasks_lib.echo, 1)
    assert a != b
    assert unique.counts() == {"queued": 2, "running": 0}
    assert unique.cancel(a) and unique.cancel(b)


def test_an_empty_unique_key_is_refused() -> None:
    with pytest.raises(ValueError, match="unique_key must be a non-empty str"):
        tq.schedule_function(tasks_lib.echo, 1, unique_key="")
