"""``unique_key`` raced from three processes, and a rate limit of 10/s (worker.toml's
``[[task_queue.rate_limit]]``) held across two `wait-forever` workers, on one Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import puff
import tasks_lib
from puff.redis import global_redis
from puff.task_queue import named_queue

sys.path.insert(0, os.path.dirname(__file__))
from test_tasks_distributed import starts, wait_all, wait_until  # noqa: E402

Worker = Callable[[], subprocess.Popen[bytes]]


def test_unique_key_raced_by_three_processes_creates_one_task(start_worker: Worker) -> None:
    """Each worker runs 8 `schedule_unique_at` tasks at once and this process 50
    greenlets, all scheduling the same key at the same moment."""
    remote, unique = named_queue("remote"), named_queue("unique")
    assert unique.counts() == {"queued": 0, "running": 0}
    first, second = start_worker(), start_worker()
    key = f"race:{uuid.uuid4().hex}"
    # Time for both workers to start and claim their share first.
    at_ms = time.time() * 1000 + 4000
    racers = [
        remote.schedule_function(
            tasks_lib.schedule_unique_at, {"key": key, "at_ms": at_ms}, timeout_ms=60_000
        )
        for _ in range(16)
    ]

    def schedule_here() -> str:
        puff.sleep_ms(max(0, int(at_ms - time.time() * 1000)))
        task: str = unique.schedule_function(tasks_lib.echo, {"key": key}, unique_key=key)
        return task

    handles = [puff.spawn(schedule_here) for _ in range(50)]
    here = [h.join() for h in handles]
    there = wait_all(remote, racers, callers=16)
    assert None not in there, "every remote scheduler finished"
    assert len(set(here + there)) == 1, f"{len(set(here + there))} different ids"
    assert unique.counts() == {"queued": 1, "running": 0}
    # A holder whose task hash vanished (e.g. deleted by hand) does not hold the key.
    global_redis.delete(f"puff:tq:{{unique}}:task:{here[0]}")
    fresh = unique.schedule_function(tasks_lib.echo, 1, unique_key=key)
    assert fresh != here[0]
    assert unique.cancel(fresh) is True
    global_redis.delete("puff:tq:{unique}:queue")
    assert {first.poll(), second.poll()} == {None}


def wait_for_both(remote: Any, workers: list[subprocess.Popen[bytes]]) -> None:
    """Until both workers have run tasks (so both are up, their task code imported)."""
    run = f"warm:{uuid.uuid4().hex[:8]}"
    seen: set[int] = set()
    for _ in range(30):
        tasks = [
            remote.schedule_function(tasks_lib.remote_work, {"run": run, "i": i, "sleep_ms": 200})
            for i in range(16)
        ]
        seen |= {r["pid"] for r in wait_all(remote, tasks)}
        if seen == {w.pid for w in workers}:
            break
    global_redis.delete(f"{run}:starts")
    assert seen == {w.pid for w in workers}, "both workers run tasks"


def test_ten_per_second_across_two_workers(start_worker: Worker) -> None:
    """50 tasks of a function limited to 10 per second, then 20 of another: the others
    are not held back, and the limited ones start at 10/s (within 10%) in total."""
    remote = named_queue("remote")
    run = f"rate:{uuid.uuid4().hex[:8]}"
    workers = [start_worker(), start_worker()]
    wait_for_both(remote, workers)
    rated = [
        remote.schedule_function(tasks_lib.rated_remote, {"run": run, "n": i}) for i in range(50)
    ]
    others = [
        remote.schedule_function(tasks_lib.remote_work, {"run": f"{run}:o", "i": i})
        for i in range(20)
    ]
    assert [r["i"] for r in wait_all(remote, others)] == list(range(20))
    started_when_others_done = len(starts(run))
    assert wait_all(remote, rated) == list(range(50))
    assert started_when_others_done < 40, "the other function waited for the limited one"
    noted = [s.split(":") for s in starts(run)]
    times = sorted(float(ms) for ms, _ in noted)
    assert len(times) == 50
    assert {int(pid) for _, pid in noted} == {w.pid for w in workers}
    # With a backlog, start k follows start k - 10 by one period: the rate is 10 over the
    # mean of those gaps. The gaps to the first burst are left out (it is claimed while
    # the tasks are still being scheduled).
    gaps = [times[k] - times[k - 10] for k in range(20, len(times))]
    rate = 10 / (sum(gaps) / len(gaps) / 1000)
    assert 9.0 <= rate <= 11.0, f"{rate:.2f} tasks/s"
    # Never more than 10 in a second (starts are noted a moment after the claim: a
    # shorter window, for a loaded machine).
    most = max(sum(1 for t in times[i:] if t < s + 700) for i, s in enumerate(times))
    assert most <= 10, f"{most} starts within 700 ms"
    global_redis.delete(f"{run}:starts", f"{run}:o:starts")
    wait_until(lambda: remote.counts() == {"queued": 0, "running": 0}, 10_000, "an idle queue")
