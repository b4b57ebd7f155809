"""Shared by the `bench tasks` programs: settings, the work plan, the checks and the result
line.

`cargo xtask bench tasks` sets BENCH_REDIS_URL, BENCH_TASKS, BENCH_CONCURRENCY and
BENCH_WARMUP and reads the `BENCH_RESULT ...` line each program prints last.

Every program schedules BENCH_TASKS no-op tasks (``noop({"i": i})`` returns ``i``) from
BENCH_CONCURRENCY concurrent callers, the numbers split evenly between them: each caller
schedules its share one task after another, then waits for each of its results in turn
and checks it. The clock runs from the first schedule to the last result. BENCH_WARMUP
untimed tasks go first, with the same callers (which also starts the worker's machinery
and opens the connections). The worker runs on the same node: in the same process for
Puff, in a child process for arq and Celery (pinned to the same CPU).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

QUEUE = (
    "puff-bench-tasks"  # queue name (arq, Celery); Redis keys start with "puff-bench"
)
TIMEOUT_S = 30.0  # longest wait for one result (a task that takes longer is an error)
POLL_MS = 5  # how often a caller polls for a result, where the client polls
KEEP_RESULTS_S = 60  # results expire after this long
WARMUP_BASE = 1_000_000  # warm-up tasks are numbered from here


@dataclass
class Settings:
    url: str
    tasks: int
    concurrency: int
    warmup: int


def settings() -> Settings:
    env = os.environ.get
    return Settings(
        url=env("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        tasks=max(1, int(env("BENCH_TASKS", "10000"))),
        concurrency=max(1, int(env("BENCH_CONCURRENCY", "64"))),
        warmup=max(0, int(env("BENCH_WARMUP", "1000"))),
    )


def noop(payload: dict) -> int:
    """The task: returns its payload's number."""
    return payload["i"]


def plan(s: Settings, n: int, base: int = 0) -> list[list[int]]:
    """The task numbers of each caller: ``base .. base + n`` split evenly between
    ``s.concurrency`` callers (callers without a share are left out)."""
    numbers = range(base, base + n)
    shares = [list(numbers[c :: s.concurrency]) for c in range(s.concurrency)]
    return [share for share in shares if share]


def warmup_plan(s: Settings) -> list[list[int]]:
    return plan(s, s.warmup, WARMUP_BASE)


class Counter:
    """Counts results and errors, keeps the first error (thread-safe: Celery's callers
    are threads)."""

    def __init__(self) -> None:
        self.done = 0
        self.errors = 0
        self.first_error = ""
        self._lock = threading.Lock()

    def error(self, what: str) -> None:
        with self._lock:
            self.errors += 1
            if not self.first_error:
                self.first_error = what.replace("\n", " ")[:300]

    def failed(self, i: int, what: str) -> None:
        """Waiting for task ``i``'s result failed (the task raised, say)."""
        with self._lock:
            self.done += 1
        self.error(f"task {i}: {what}")

    def check(self, i: int, value: object) -> None:
        """Task ``i`` returned ``value``: it must be ``i``."""
        with self._lock:
            self.done += 1
        if value is None:
            self.error(f"task {i}: no result within {TIMEOUT_S:.0f} s")
        elif value != i:
            self.error(f"task {i}: returned {value!r}")


def report(name: str, s: Settings, counter: Counter, seconds: float) -> int:
    """``s.tasks`` tasks took ``seconds`` end to end; the exit status."""
    rate = s.tasks / seconds if seconds > 0 else 0.0
    if counter.done != s.tasks and not counter.errors:
        counter.error(f"{counter.done} of {s.tasks} results checked")
    print(
        f"{name}: {s.tasks} tasks from {s.concurrency} callers, {seconds * 1000:.1f} ms, "
        f"{rate:.0f} tasks/s, {counter.errors} errors",
        flush=True,
    )
    if counter.first_error:
        print(f"first error: {counter.first_error}", flush=True)
    print(
        f"BENCH_RESULT requests={s.tasks} errors={counter.errors} "
        f"seconds={seconds:.6f} rps={rate:.3f}",
        flush=True,
    )
    return 1 if counter.errors else 0
