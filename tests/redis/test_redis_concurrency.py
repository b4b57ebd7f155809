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
    """20 greenlets each hold a pooled connection for 200 ms (WAIT for a replica that
    never comes) on a pool of 10: the second ten wait for a free connection instead of
    failing or opening more."""
    started = time.monotonic()
    handles = [puff.spawn(r.execute_command, "WAIT", 1, 200) for _ in range(20)]
    puff.sleep_ms(100)
    assert r.pool_status()["connections"] <= 10
    assert [h.join() for h in handles] == [0] * 20
    # Two waves of 200 ms: the pool never ran more than 10 at once.
    assert time.monotonic() - started >= 0.38
    assert r.pool_status()["connections"] <= 10


def test_100_blpop_waiters_on_a_pool_of_10_leave_it_to_the_others(key: Key) -> None:
    """Blocking commands wait on connections of their own: with 100 greenlets in BLPOP
    (no timeout) the pool of 10 keeps serving every other greenlet, then one push per
    list wakes each waiter with its own element."""
    assert r.pool_status()["max_open"] == 10
    woken: list[tuple[bytes, bytes] | None] = []

    def waiter(i: int) -> None:
        woken.append(r.blpop([key(f"q{i}")], timeout=0))

    waiters = [puff.spawn(waiter, i) for i in range(100)]
    puff.sleep_ms(200)  # every waiter is now parked in BLPOP on the server
    assert woken == []

    served = {"n": 0}

    def worker(i: int) -> None:
        for j in range(20):
            r.set(key(f"w{i}"), j)
            assert r.get(key(f"w{i}")) == str(j).encode()
            served["n"] += 1

    workers = [puff.spawn(worker, i) for i in range(20)]
    for w in workers:
        w.join()
    assert served["n"] == 400
    assert woken == []  # still waiting, and they never held the pool
    assert r.pool_status()["connections"] <= 10
    clients = r.info("clients")["blocked_clients"]
    assert clients >= 100, clients

    for i in range(100):
        assert r.rpush(key(f"q{i}"), f"v{i}") == 1
    for w in waiters:
        w.join()
    assert sorted(woken, key=lambda pair: int(pair[1][1:])) == [  # type: ignore[index]
        (key(f"q{i}").encode(), f"v{i}".encode()) for i in range(100)
    ]


def test_blocking_commands_each_kind_on_its_own_connection(key: Key) -> None:
    """BRPOP, BLMOVE, BZPOPMIN and XREAD BLOCK wait outside the pool too."""
    results: dict[str, object] = {}

    def run(name: str, call: Callable[[], object]) -> None:
        results[name] = call()

    stream = key("stream")
    calls = {
        "brpop": lambda: r.brpop(key("l1"), timeout=5),
        "blmove": lambda: r.blmove(key("l2"), key("dst"), 5),
        "bzpopmin": lambda: r.bzpopmin(key("z"), timeout=5),
        "xread": lambda: r.xread({stream: "$"}, block=5000),
    }
    # 15 of each on a pool of 10: only possible if none of them holds a pooled connection.
    handles = [
        puff.spawn(run, f"{name}{i}", call)
        for i in range(15)
        for name, call in calls.items()
    ]
    puff.sleep_ms(200)
    assert r.ping() is True
    assert results == {}
    r.rpush(key("l1"), *[f"a{i}" for i in range(15)])
    r.rpush(key("l2"), *[f"b{i}" for i in range(15)])
    r.zadd(key("z"), {f"m{i}": i for i in range(15)})
    entry_id = r.xadd(stream, {"f": "v"})
    for h in handles:
        h.join()
    assert sorted(str(results[f"brpop{i}"]) for i in range(15)) == sorted(
        str((key("l1").encode(), f"a{i}".encode())) for i in range(15)
    )
    assert sorted(results[f"blmove{i}"] for i in range(15)) == sorted(  # type: ignore[type-var]
        f"b{i}".encode() for i in range(15)
    )
    assert {results[f"bzpopmin{i}"][1] for i in range(15)} == {  # type: ignore[index]
        f"m{i}".encode() for i in range(15)
    }
    for i in range(15):
        assert results[f"xread{i}"] == [[stream.encode(), [(entry_id, {b"f": b"v"})]]]
