"""Periodic tasks across processes on one Redis: three `wait-forever` workers run the
scheduler of one `every_ms = 1000` schedule (periodic-worker.toml) and one is killed -9
midway (a new one with `--workers 2` joins later), yet every tick runs exactly once; a restarted scheduler
never fires a tick twice; ticks missed while no scheduler ran follow `catch_up` and are
counted in the metrics."""

from __future__ import annotations

import re
import signal
import subprocess
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable

import puff
import pytest
import tasks_lib
from puff.redis import global_redis
from puff.task_queue import global_task_queue, named_queue
from test_tasks_distributed import wait_until  # puts tests/redis on sys.path

from redis_server import free_port  # noqa: E402  isort: skip

Worker = Callable[..., subprocess.Popen[bytes]]

# The schedule of periodic-worker.toml and where its task notes its runs.
SCHEDULE = "every-second"
STARTS = "periodic-kill:starts"
# A daily schedule: no new tick comes while a test runs (but at midnight UTC).
DAY = 86_400_000
# Where a queue keeps its schedules' last fired ticks (docs/tasks.md).
LAST_TICKS = "puff:tq:{%s}:periodic"


def now_ms() -> int:
    return int(time.time() * 1000)


def recorded() -> list[tuple[int, int, int]]:
    """(tick, pid, attempt) of every run of the workers' schedule."""
    out = []
    for entry in global_redis.lrange(STARTS, 0, -1):
        tick, pid, attempt = entry.decode().split(":")
        out.append((int(tick), int(pid), int(attempt)))
    return out


def test_three_schedulers_one_killed_every_tick_once(start_worker: Worker) -> None:
    global_redis.delete(STARTS)
    global_redis.hdel(LAST_TICKS % "periodic", SCHEDULE)
    workers = [start_worker("periodic-worker.toml") for _ in range(3)]
    wait_until(lambda: len(recorded()) >= 2, 60_000, "the first ticks")
    first = min(tick for tick, _, _ in recorded())
    # ~8 s with three schedulers, then ~12 s with two.
    wait_until(lambda: now_ms() >= first + 8_000, 30_000, "8 s of ticks")
    victim = workers[0]
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = now_ms()
    # A process (re)started with the schedule joins without firing a tick again: one with
    # two worker processes of its own (`--workers 2`), each running the scheduler.
    wait_until(lambda: now_ms() >= first + 12_000, 30_000, "12 s of ticks")
    start_worker("periodic-worker.toml", env={"PUFF_WORKERS": "2"})
    wait_until(lambda: now_ms() >= first + 20_000, 30_000, "20 s of ticks")
    # Ticks up to here must all have run (allowing 3 s for the last ones to finish).
    end = now_ms() - 3_000
    wait_until(lambda: max(t for t, _, _ in recorded()) >= end, 10_000, "the last ticks")
    runs = recorded()
    window = list(range(first, end + 1, 1000))
    first_runs = Counter(tick for tick, _, attempt in runs if attempt == 1)
    twice = [tick for tick in window if first_runs[tick] > 1]
    assert not twice, f"ticks run twice: {twice}"
    any_runs = Counter(tick for tick, _, _ in runs)
    missing = [tick for tick in window if any_runs[tick] == 0]
    assert not missing, f"ticks never run: {missing} (window {first}..{end})"
    # A second attempt only for a tick the killed worker was running (it may have died
    # before noting its start).
    for tick in {tick for tick, _, attempt in runs if attempt > 1}:
        holders = {pid for t, pid, a in runs if t == tick and a == 1}
        assert holders <= {victim.pid}, f"tick {tick} rerun, first run by {holders}"
    after_kill = {pid for tick, pid, _ in runs if tick > killed_at + 2_000}
    assert after_kill and victim.pid not in after_kill, "the survivors ran the later ticks"
    # Each tick's result is stored under its deterministic id.
    periodic = named_queue("periodic")
    assert periodic.task_result(periodic.periodic_task_id(SCHEDULE, window[-1])) == window[-1]
    assert int(global_redis.hget(LAST_TICKS % "periodic", SCHEDULE) or 0) >= window[-1]
    global_redis.delete(STARTS)


def scrape(port: int, name: str) -> int:
    """The worker's counter `name` of the workers' schedule (0 before its first tick)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    labels = f'queue="periodic",schedule="{SCHEDULE}"'
    found = re.search(rf"^{name}\{{{labels}\}} (\S+)$", text, re.MULTILINE)
    return int(float(found.group(1))) if found else 0


def test_ticks_missed_while_no_scheduler_ran_are_skipped_and_counted(
    start_worker: Worker,
) -> None:
    """No process ran the schedule for 10 s: the one starting now drops the late ticks
    (catch_up = "skip"), runs the rest, and its metrics count both."""
    global_redis.delete(STARTS)
    # Ticks of the last 10 s may have run in the test before: their results would keep
    # them from being enqueued again (by design), so they go.
    old_results = global_redis.keys("puff:tq:{periodic}:result:*")
    if old_results:
        global_redis.delete(*old_results)
    last = now_ms() // 1000 * 1000 - 10_000
    global_redis.hset(LAST_TICKS % "periodic", SCHEDULE, str(last))
    port = free_port()
    start_worker("periodic-worker.toml", env={"PUFF_METRICS_BIND": f"127.0.0.1:{port}"})
    wait_until(lambda: len(recorded()) >= 3, 60_000, "three ticks")
    ran = sorted(tick for tick, _, _ in recorded())
    assert ran == list(range(ran[0], ran[-1] + 1, 1000)), ran
    # The ticks between the stored one and the first run were dropped, none ran.
    missed = (ran[0] - last) // 1000 - 1
    assert missed >= 8, (last, ran)
    counted = scrape(port, "puff_task_periodic_missed_total")
    assert counted == missed, (counted, missed, last, ran)
    before = len(recorded())
    fired = scrape(port, "puff_task_periodic_fired_total")
    assert before <= fired <= len(recorded()) + 1, (before, fired)
    global_redis.delete(STARTS)


def start_from(name: str, catch_up: str, last: int | None) -> None:
    """Pretend schedule `name` last fired at `last` (None: leave the stored tick), then
    start its scheduler here (replacing the one running here)."""
    if last is not None:
        global_redis.hset(LAST_TICKS % "default", name, str(last))
    global_task_queue.add_periodic(
        tasks_lib.periodic_record,
        every_ms=DAY,
        payload={"run": name},
        catch_up=catch_up,  # type: ignore[arg-type]
        catch_up_max=3,
        grace_ms=0,
        name=name,
    )


def stored_last(name: str) -> int:
    stored = global_redis.hget(LAST_TICKS % "default", name)
    return -1 if stored is None else int(stored)


def ticks_run(name: str) -> list[int | None]:
    return sorted(t for r, t, _ in tasks_lib.PERIODIC_RUNS if r == name)


@pytest.mark.parametrize(
    ("catch_up", "expected"),
    [
        # After ten missed days (grace_ms = 0: all late), relative to the newest tick.
        ("skip", []),
        ("once", [0]),
        ("all", [-2 * DAY, -DAY, 0]),
    ],
)
def test_missed_ticks_follow_catch_up_and_a_restart_fires_nothing_twice(
    catch_up: str, expected: list[int]
) -> None:
    name = f"catch-up-{catch_up}:{uuid.uuid4().hex[:8]}"
    today = now_ms() // DAY * DAY
    start_from(name, catch_up, today - 10 * DAY)
    wait_until(lambda: stored_last(name) >= today, 10_000, "the claim")
    newest = stored_last(name)
    want = [newest + offset for offset in expected]
    wait_until(lambda: len(ticks_run(name)) >= len(want), 10_000, f"{len(want)} runs")
    puff.sleep_ms(300)  # nothing else comes
    assert ticks_run(name) == want
    # A restart (a new scheduler for the same schedule) fires nothing already fired.
    assert global_task_queue.remove_periodic(name)
    start_from(name, catch_up, None)
    puff.sleep_ms(500)
    assert global_task_queue.remove_periodic(name)
    runs = ticks_run(name)
    assert runs[: len(want)] == want and len(set(runs)) == len(runs), runs
    # Only a new day's tick may have come meanwhile.
    assert all(t is not None and t > newest for t in runs[len(want) :]), runs
    global_redis.hdel(LAST_TICKS % "default", name)
