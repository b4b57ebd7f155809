"""Greenlet discipline: commands never block other greenlets; the pool stays within bounds."""

from __future__ import annotations

import time
from collections.abc import Callable

import puff
from puff.redis import global_redis as r

Key = Callable[[str], str]


def test_100_greenlets_get_and_set_on_a_pool_of_10(key: Key) -> None:
    assert r.pool_status()["max_open"] == 10
    events: list[tuple[str, int]] = []
    most = {"connections": 0}
    stop = {"flag": False}

    def worker(i: int) -> list[bytes | None]:
        events.append(("start", i))
        seen = []
        for j in range(20):
            value = f"{i}-{j}"
            assert r.set(key(f"k{i}"), value) is True
            seen.append(r.get(key(f"k{i}")))
            r.incr(key("total"))
        events.append(("end", i))
        return seen

    def monitor() -> None:
        while not stop["flag"]:
            most["connections"] = max(
                most["connections"], r.pool_status()["connections"]
            )
            puff.sleep_ms(2)

    mon = puff.spawn(monitor)
    handles = [puff.spawn(worker, i) for i in range(100)]
    results = [h.join() for h in handles]
    stop["flag"] = True
    mon.join()

    for i, seen in enumerate(results):
        assert seen == [f"{i}-{j}".encode() for j in range(20)]
    assert r.get(key("total")) == b"2000"
    # Interleaved: many greenlets had started before the first one finished.
    first_end = next(n for n, (what, _) in enumerate(events) if what == "end")
    assert first_end >= 10, first_end
    status = r.pool_status()
    assert 0 < most["connections"] <= 10, most
    assert status["connections"] <= 10, status
    assert set(status) >= {"connections", "idle", "max_open"}


def test_other_greenlets_run_while_commands_wait(key: Key) -> None:
    ticks = {"n": 0}
    stop = {"flag": False}

    def ticker() -> None:
        while not stop["flag"]:
            ticks["n"] += 1
            puff.sleep_ms(1)

    t = puff.spawn(ticker)
    # BLPOP with a timeout keeps this greenlet waiting on Redis for ~300 ms.
    assert r.blpop(key("empty"), timeout=0.3) is None
    stop["flag"] = True
    t.join()
    assert ticks["n"] >= 10, ticks


def test_pool_exhaustion_queues_instead_of_failing(key: Key) -> None:
    """20 greenlets each hold a connection for 200 ms (BLPOP timing out) on a pool of 10:
    the second ten wait for a free connection instead of failing or opening more."""
    started = time.monotonic()
    handles = [puff.spawn(r.blpop, key(f"q{i}"), 0.2) for i in range(20)]
    puff.sleep_ms(100)
    assert r.pool_status()["connections"] <= 10
    assert [h.join() for h in handles] == [None] * 20
    # Two waves of 200 ms: the pool never ran more than 10 at once.
    assert time.monotonic() - started >= 0.38
    assert r.pool_status()["connections"] <= 10
