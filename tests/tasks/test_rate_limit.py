"""Per-function rate limits set from Python, enforced by this process's claims, on Redis
and in process (test_unique_rate_distributed.py checks 10/s across two workers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import tasks_lib
from puff.task_queue import global_task_queue

tq = global_task_queue


@pytest.fixture
def limited() -> Iterator[None]:
    """`rated_local` limited to 5 starts per 500 ms on the `default` queue."""
    tq.set_rate_limit(tasks_lib.rated_local, 5, 500)
    try:
        yield
    finally:
        tq.set_rate_limit(tasks_lib.rated_local, None)


def most_in_any_window(times: list[float], window_ms: float) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + window_ms) for i, start in enumerate(times))


@pytest.mark.usefixtures("limited")
def test_a_limited_function_starts_at_most_limit_per_period() -> None:
    del tasks_lib.STARTS[:]
    assert tq.rate_limits() == {"tasks_lib:rated_local": {"limit": 5, "period_ms": 500}}
    rated = [tq.schedule_function(tasks_lib.rated_local, {"n": i}) for i in range(15)]
    # Scheduled after the limited backlog, other functions still run at once.
    others = [
        tq.schedule_function(tasks_lib.my_awesome_task, {"type": "other", "x": [i]})
        for i in range(5)
    ]
    assert [tq.wait_for_task_result(t, 10, 30_000) for t in others] == list(range(5))
    rated_started_before_others_done = len([s for s in tasks_lib.STARTS if s[0] == "rated"])
    assert [tq.wait_for_task_result(t, 10, 30_000) for t in rated] == list(range(15))
    assert rated_started_before_others_done <= 10, "other tasks waited for the limited ones"
    starts = [t for kind, _, t in tasks_lib.STARTS if kind == "rated"]
    # 15 starts at 5 per 500 ms: three waves, the last one 1 s after the first (starts
    # are noted a moment after the claim: generous margins for a loaded machine).
    assert max(starts) - min(starts) >= 800
    assert most_in_any_window(starts, 250) <= 5
    # In order within the function.
    assert [n for kind, n, _ in tasks_lib.STARTS if kind == "rated"] == list(range(15))


def test_lifting_a_limit_and_bad_limits() -> None:
    tq.set_rate_limit("tasks_lib:rated_local", 1, 60_000)
    tq.set_rate_limit(tasks_lib.rated_local, None)
    assert tq.rate_limits() == {}
    with pytest.raises(ValueError, match="limit must be at least 1"):
        tq.set_rate_limit(tasks_lib.rated_local, 0)
    with pytest.raises(ValueError, match="period_ms must be at least 1"):
        tq.set_rate_limit(tasks_lib.rated_local, 1, 0)
    with pytest.raises(ValueError, match="`function`: `nocolon` is not a `module:function`"):
        tq.set_rate_limit("nocolon", 1, 1000)
