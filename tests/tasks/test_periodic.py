"""Periodic tasks added from Python (`TaskQueue.add_periodic`), on Redis and in process:
they tick at multiples of `every_ms`, each tick once, `current_task()` tells the tick,
`remove_periodic` stops them, and bad arguments are refused with the key named."""

from __future__ import annotations

import uuid

import puff
import pytest
import tasks_lib
from puff.task_queue import current_task, global_task_queue


def runs_of(run: str) -> list[tuple[int | None, int]]:
    return [(tick, attempt) for r, tick, attempt in tasks_lib.PERIODIC_RUNS if r == run]


def test_add_periodic_ticks_each_interval_once_until_removed() -> None:
    run = f"add:{uuid.uuid4().hex[:8]}"
    name = global_task_queue.add_periodic(
        tasks_lib.periodic_record, every_ms=200, payload={"run": run}, name=run
    )
    assert name == run
    assert run in global_task_queue.periodic_names()
    for _ in range(300):
        if len(runs_of(run)) >= 5:
            break
        puff.sleep_ms(20)
    assert global_task_queue.remove_periodic(run)
    assert not global_task_queue.remove_periodic(run), "already removed"
    assert run not in global_task_queue.periodic_names()
    puff.sleep_ms(600)  # a tick claimed just before the removal still runs
    runs = runs_of(run)
    ticks = sorted(tick for tick, _ in runs if tick is not None)
    assert len(ticks) == len(runs) >= 5, runs
    assert all(tick % 200 == 0 for tick in ticks), ticks
    assert ticks == list(range(ticks[0], ticks[-1] + 1, 200)), "each tick once, no gap"
    assert {attempt for _, attempt in runs} == {1}
    # The result is stored under the tick's id, the same in every process.
    task_id = global_task_queue.periodic_task_id(run, ticks[0])
    assert global_task_queue.task_result(task_id) == ticks[0]
    # Stopped: nothing more runs.
    count = len(runs_of(run))
    puff.sleep_ms(500)
    assert len(runs_of(run)) == count


def test_current_task_outside_and_inside_ordinary_tasks() -> None:
    assert current_task() is None
    task = global_task_queue.schedule_function(tasks_lib.periodic_record, {"run": "plain"})
    assert global_task_queue.wait_for_task_result(task, 20, 10_000) is None
    assert runs_of("plain") == [(None, 1)], "not periodic: no tick"
    task = global_task_queue.schedule_function(tasks_lib.current_task_id_async, None)
    assert global_task_queue.wait_for_task_result(task, 20, 10_000) == task


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cron": "0 99 * * *"}, "`cron`: hour field `99`: 99 is out of range 0-23"),
        ({"cron": "0 3 * * *", "every_ms": 1000}, "`cron`: set either `cron` or `every_ms`"),
        ({}, "`cron`: set `cron`"),
        ({"cron": "0 3 * * *", "tz": "Mars/Base"}, "`tz`: unknown time zone `Mars/Base`"),
        ({"every_ms": 1000, "catch_up": "sometimes"}, "`catch_up`: `sometimes` is not one of"),
        ({"every_ms": 0}, "`every_ms` must be at least 1"),
    ],
)
def test_add_periodic_refuses_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match="add_periodic") as err:
        global_task_queue.add_periodic(tasks_lib.periodic_record, **kwargs)  # type: ignore[arg-type]
    assert message in str(err.value)


def test_add_periodic_takes_a_cron_in_a_time_zone() -> None:
    name = global_task_queue.add_periodic(
        "tasks_lib:periodic_record",
        cron="0 30 2 * * *",
        tz="Europe/Berlin",
        payload={"run": "never"},
        catch_up="once",
    )
    assert name == "tasks_lib:periodic_record cron 0 30 2 * * * Europe/Berlin"
    assert global_task_queue.remove_periodic(name)
