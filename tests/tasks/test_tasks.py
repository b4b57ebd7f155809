"""Task queue semantics, on Redis and in process (the same tests in both runs)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import puff
import pytest
import tasks_lib
from puff.task_queue import TaskError, global_task_queue, named_queue

tq = global_task_queue


def now_ms() -> int:
    return int(time.time() * 1000)


def test_the_docs_example_three_kinds_ordered_kind_in_order() -> None:
    """The seeds' run_main: 100 each of a plain, an async and an ordered async task."""
    del tasks_lib.STARTS[:]
    all_tasks = []
    for x in range(100):
        task1 = tq.schedule_function(
            tasks_lib.my_awesome_task,
            {"type": "coroutine", "x": [x]},
            timeout_ms=10_000,
            keep_results_for_ms=5 * 1000,
        )
        task2 = tq.schedule_function(
            tasks_lib.my_awesome_task_async,
            {"type": "async", "x": [x]},
            scheduled_time_unix_ms=1,
        )
        task3 = tq.schedule_function(
            tasks_lib.my_awesome_task_async,
            {"type": "async-ordered", "x": [x]},
            scheduled_time_unix_ms=x,
        )
        all_tasks.append((x, task1, task2, task3))
    for x, *tasks in all_tasks:
        for task in tasks:
            assert isinstance(task, str)
            assert tq.wait_for_task_result(task, 100, 30_000) == x
    ordered = [n for kind, n, _ in tasks_lib.STARTS if kind == "async-ordered"]
    assert ordered == list(range(100))
    kinds = [kind for kind, _, _ in tasks_lib.STARTS]
    assert sorted(kinds.count(k) for k in ("coroutine", "async", "async-ordered")) == [
        100,
        100,
        100,
    ]


def test_priorities_run_before_fifo_tasks() -> None:
    """With the queue full, small scheduled times jump ahead of "now" tasks."""
    del tasks_lib.STARTS[:]
    # Delay the backlog a little so everything is queued before anything starts.
    start_at = now_ms() + 300
    backlog = [
        tq.schedule_function(
            tasks_lib.my_awesome_task,
            {"type": "fifo", "x": [i]},
            scheduled_time_unix_ms=start_at + i,
        )
        for i in range(20)
    ]
    urgent = tq.schedule_function(
        tasks_lib.my_awesome_task,
        {"type": "urgent", "x": [0]},
        scheduled_time_unix_ms=start_at - 1,
    )
    for task in [*backlog, urgent]:
        tq.wait_for_task_result(task, 20, 30_000)
    kinds = [kind for kind, _, _ in tasks_lib.STARTS]
    assert kinds[0] == "urgent"
    assert [n for kind, n, _ in tasks_lib.STARTS if kind == "fifo"] == list(range(20))


def test_a_delayed_task_does_not_start_before_its_time() -> None:
    scheduled = now_ms() + 500
    task = tq.schedule_function(
        tasks_lib.delayed, {"n": 1}, scheduled_time_unix_ms=scheduled
    )
    assert tq.task_result(task) is None
    started = tq.wait_for_task_result(task, 20, 30_000)
    assert started >= scheduled


def test_a_task_past_its_timeout_is_retried_and_its_result_arrives() -> None:
    token = uuid.uuid4().hex
    task = tq.schedule_function(
        tasks_lib.flaky_slow,
        {"token": token, "sleep_ms": 3000},
        timeout_ms=300,
    )
    # The retry (attempt 2) returns at once, while attempt 1 still sleeps.
    assert tq.wait_for_task_result(task, 20, 30_000) == 2
    assert tasks_lib.ATTEMPTS[token] == 2


def test_running_out_of_retries_dead_letters_the_task() -> None:
    marker = uuid.uuid4().hex
    task = tq.schedule_function(
        tasks_lib.always_slow,
        {"sleep_ms": 3000, "marker": marker},
        timeout_ms=200,
        max_retries=1,
    )
    with pytest.raises(TaskError) as raised:
        tq.wait_for_task_result(task, 20, 30_000)
    assert raised.value.error_type == "puff.task_queue.RetriesExhausted"
    assert "2 attempts" in raised.value.message
    assert raised.value.task_id == task
    dead = [d for d in tq.dead_letters() if d["task_id"] == task]
    assert len(dead) == 1
    assert dead[0]["function"] == "tasks_lib:always_slow"
    assert dead[0]["payload"] == {"sleep_ms": 3000, "marker": marker}
    assert dead[0]["attempts"] == 2
    assert dead[0]["reason"] == "timed out"


def test_an_exception_is_the_result_with_type_message_and_traceback() -> None:
    task = tq.schedule_function(tasks_lib.fails, {"n": 7})
    with pytest.raises(TaskError) as raised:
        tq.wait_for_task_result(task, 20, 30_000)
    err = raised.value
    assert isinstance(err, puff.PuffError)
    assert err.error_type == "builtins.ValueError"
    assert err.message == "bad payload 7"
    assert "in fails" in err.traceback and "ValueError: bad payload 7" in err.traceback
    # Stored, not retried: reading it again gives the same error.
    with pytest.raises(TaskError, match="bad payload 7"):
        tq.task_result(task)


def test_results_that_are_not_json_fail_the_task() -> None:
    task = tq.schedule_function(tasks_lib.returns_non_json, None)
    with pytest.raises(TaskError, match="not JSON-serializable") as raised:
        tq.wait_for_task_result(task, 20, 30_000)
    assert raised.value.error_type == "builtins.TypeError"


def test_json_payloads_round_trip() -> None:
    payload = {"s": "naïve ☁", "i": -(2**62), "f": 1.5, "l": [None, True, {"x": []}]}
    for fn in (tasks_lib.echo, tasks_lib.echo_async):
        task = tq.schedule_function(fn, payload)
        assert tq.wait_for_task_result(task, 20, 30_000) == payload


def test_bad_arguments_are_refused_at_schedule_time() -> None:
    def nested(payload: Any) -> None:
        return None

    with pytest.raises(ValueError, match="lambda, a nested function or a method"):
        tq.schedule_function(lambda p: p, {})
    with pytest.raises(ValueError, match="nested"):
        tq.schedule_function(nested, {})
    with pytest.raises(TypeError, match="the task payload: set is not JSON"):
        tq.schedule_function(tasks_lib.echo, {1, 2})
    with pytest.raises(TypeError, match="dict keys must be str"):
        tq.schedule_function(tasks_lib.echo, {1: "x"})
    with pytest.raises(ValueError, match="keep_results_for_ms"):
        tq.schedule_function(tasks_lib.echo, 1, keep_results_for_ms=0)
    with pytest.raises(ValueError, match="no task queue named `nope`"):
        named_queue("nope")


def test_cancel_keeps_a_queued_task_from_running() -> None:
    del tasks_lib.STARTS[:]
    task = tq.schedule_function(
        tasks_lib.delayed, {"n": 99}, scheduled_time_unix_ms=now_ms() + 300
    )
    assert tq.cancel(task) is True
    assert tq.cancel(task) is False
    assert tq.wait_for_task_result(task, 20, 800) is None
    assert not [s for s in tasks_lib.STARTS if s[1] == 99]


def test_wait_for_task_result_gives_none_on_timeout() -> None:
    task = tq.schedule_function(
        tasks_lib.echo, 1, scheduled_time_unix_ms=now_ms() + 60_000
    )
    assert tq.wait_for_task_result(task, 10, 100) is None
    assert tq.task_result(task) is None
    assert tq.cancel(task) is True


def test_from_coroutines_every_call_is_awaitable() -> None:
    async def main() -> tuple[Any, Any, Any]:
        task = await tq.schedule_function(tasks_lib.echo_async, {"a": 1})
        result = await tq.wait_for_task_result(task, 10, 30_000)
        again = await tq.task_result(task)
        return task, result, again

    task, result, again = puff.run_coroutine(main())
    assert isinstance(task, str)
    assert result == again == {"a": 1}


def test_many_greenlets_schedule_and_wait_at_once() -> None:
    def one(i: int) -> Any:
        task = tq.schedule_function(tasks_lib.echo, {"i": i})
        return tq.wait_for_task_result(task, 10, 30_000)

    handles = [puff.spawn(one, i) for i in range(200)]
    assert [h.join() for h in handles] == [{"i": i} for i in range(200)]


def test_queue_reports_its_backend_and_counts() -> None:
    assert tq.backend in ("redis", "memory")
    assert tq.max_concurrent_tasks == 8
    assert tq() is tq
    counts = tq.counts()
    assert set(counts) == {"queued", "running"}
