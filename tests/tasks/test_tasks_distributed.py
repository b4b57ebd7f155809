"""Several processes on one Redis: worker processes (`wait-forever`) run what this process
schedules; a killed worker loses no task; a worker whose Python code holds the GIL keeps
its lease; queued tasks survive a Redis restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

import puff
import tasks_lib
from puff.redis import global_redis
from puff.task_queue import named_queue

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "redis"))
from redis_server import RedisServer  # noqa: E402

Worker = Callable[[], subprocess.Popen[bytes]]


def starts(run: str) -> list[str]:
    return [s.decode() for s in global_redis.lrange(f"{run}:starts", 0, -1)]


def wait_until(predicate: Callable[[], bool], timeout_ms: int, what: str) -> None:
    for _ in range(timeout_ms // 20):
        if predicate():
            return
        puff.sleep_ms(20)
    raise AssertionError(f"timed out waiting for {what}")


def wait_all(queue: Any, tasks: list[str], callers: int = 20) -> list[Any]:
    """Every task's result, waited for from `callers` greenlets."""

    def share(part: list[str]) -> list[Any]:
        return [queue.wait_for_task_result(t, 50, 60_000) for t in part]

    handles = [puff.spawn(share, tasks[i::callers]) for i in range(callers)]
    parts = [h.join() for h in handles]
    results: list[Any] = [None] * len(tasks)
    for i, part in enumerate(parts):
        results[i::callers] = part
    return results


def test_a_killed_worker_loses_no_task(start_worker: Worker) -> None:
    remote = named_queue("remote")
    assert remote.max_concurrent_tasks == 0  # this process only schedules
    run = f"fault:{uuid.uuid4().hex[:8]}"
    victim, survivor = start_worker(), start_worker()
    # A long timeout: only the lapsed lease of the killed worker can bring its tasks back.
    # 200 ms tasks: 1,000 of them keep two workers of 8 slots busy for about 12 s, far
    # longer than scheduling them takes, so the victim is killed with its slots full (with
    # 20 ms tasks the workers could finish everything before the kill and nothing was
    # left to hand over).
    tasks = [
        remote.schedule_function(
            tasks_lib.remote_work,
            {"run": run, "i": i, "sleep_ms": 200},
            timeout_ms=600_000,
        )
        for i in range(1000)
    ]
    wait_until(
        lambda: {s.split(":")[1] for s in starts(run)}
        >= {str(victim.pid), str(survivor.pid)}
        and len(starts(run)) >= 200,
        60_000,
        "both workers to run tasks",
    )
    # Tasks still queued: every slot of the victim holds one.
    assert remote.counts()["queued"] > 0, "the workers ran out of tasks before the kill"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    results = wait_all(remote, tasks)
    missing = [i for i, r in enumerate(results) if r is None]
    assert not missing, f"{len(missing)} tasks never got a result, e.g. {missing[:5]}"
    assert [r["i"] for r in results] == list(range(1000)), "every task has its result"
    assert {r["pid"] for r in results} == {victim.pid, survivor.pid}
    started_on_victim = {
        int(s.split(":")[0]) for s in starts(run) if s.endswith(f":{victim.pid}")
    }
    rerun = [i for i in started_on_victim if results[i]["pid"] == survivor.pid]
    assert rerun, "the tasks the killed worker held were run again by the other one"
    assert remote.counts() == {"queued": 0, "running": 0}
    global_redis.delete(f"{run}:starts")


def test_a_worker_holding_the_gil_keeps_its_lease(start_worker: Worker) -> None:
    """The task holds the worker's Python thread for 3 lease periods; the lease is renewed
    from Rust, so the other worker never takes the task over (timeout_ms is long)."""
    remote = named_queue("remote")
    run = f"gil:{uuid.uuid4().hex[:8]}"
    start_worker(), start_worker()
    task = remote.schedule_function(
        tasks_lib.hog_the_gil, {"run": run, "seconds": 3.0}, timeout_ms=600_000
    )
    pid = remote.wait_for_task_result(task, 50, 60_000)
    assert starts(run) == [f"hog:{pid}"], "started exactly once"
    global_redis.delete(f"{run}:starts")


def test_sigterm_lets_short_tasks_finish_and_hands_long_ones_back(
    start_worker: Worker,
) -> None:
    """The worker stops claiming, lets running tasks finish for shutdown_timeout_ms
    (1.5 s in worker.toml), hands the rest back and exits 0; timeout_ms is long, so only
    the hand-back lets another worker run the long task soon."""
    remote = named_queue("remote")
    run = f"term:{uuid.uuid4().hex[:8]}"
    first = start_worker()
    short = remote.schedule_function(
        tasks_lib.remote_work,
        {"run": run, "i": 0, "sleep_ms": 500},
        timeout_ms=600_000,
    )
    long = remote.schedule_function(
        tasks_lib.remote_work,
        {"run": run, "i": 1, "sleep_ms": 6000},
        timeout_ms=600_000,
        max_retries=0,  # handing it back does not use up a retry
    )
    wait_until(lambda: len(starts(run)) == 2, 30_000, "both tasks to start")
    first.send_signal(signal.SIGTERM)
    assert remote.wait_for_task_result(short, 20, 30_000) == {"i": 0, "pid": first.pid}
    wait_until(lambda: first.poll() is not None, 30_000, "the worker to exit")
    assert first.returncode == 0
    # Nobody runs the long task until a worker is there to take it.
    assert remote.counts() == {"queued": 1, "running": 0}
    second = start_worker()
    assert remote.wait_for_task_result(long, 50, 60_000) == {"i": 1, "pid": second.pid}
    global_redis.delete(f"{run}:starts")


def test_queued_tasks_survive_a_redis_restart(start_worker: Worker) -> None:
    server = RedisServer.from_env()
    assert server.persistent
    persist = named_queue("persist")
    run = f"persist:{uuid.uuid4().hex[:8]}"
    tasks = [
        persist.schedule_function(tasks_lib.echo, {"run": run, "i": i})
        for i in range(50)
    ]
    assert persist.counts() == {"queued": 50, "running": 0}
    server.restart()
    assert persist.counts() == {"queued": 50, "running": 0}
    start_worker()
    assert wait_all(persist, tasks, callers=5) == [
        {"run": run, "i": i} for i in range(50)
    ]
