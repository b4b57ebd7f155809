"""Greenlet discipline: queries never block other greenlets; pools stay within bounds."""

from __future__ import annotations

import time

import puff
from puff import postgres


def wait_until(cond, timeout_s: float = 5.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cond():
            return True
        puff.sleep_ms(10)
    return cond()


def test_200_greenlets_pg_sleep_on_pool_of_20() -> None:
    assert postgres.pool_status()["max_open"] == 20
    events: list[tuple[str, int]] = []
    max_seen = {"in_use": 0, "connections": 0}
    stop = {"flag": False}

    def worker(i: int) -> int:
        events.append(("start", i))
        c = postgres.connect()
        cur = c.cursor()
        cur.execute("SELECT pg_sleep(0.1), %s::int", (i,))
        row = cur.fetchone()
        c.close()
        events.append(("end", i))
        assert row is not None
        return int(row[1])

    def monitor() -> None:
        while not stop["flag"]:
            s = postgres.pool_status()
            max_seen["in_use"] = max(max_seen["in_use"], s["in_use"])
            max_seen["connections"] = max(max_seen["connections"], s["connections"])
            puff.sleep_ms(5)

    mon = puff.spawn(monitor)
    handles = [puff.spawn(worker, i) for i in range(200)]
    results = [h.join() for h in handles]
    stop["flag"] = True
    mon.join()
    assert sorted(results) == list(range(200))
    # Interleaved: many greenlets started before the first one finished.
    first_end = next(k for k, (what, _) in enumerate(events) if what == "end")
    assert first_end >= 20, first_end
    assert 0 < max_seen["in_use"] <= 20, max_seen
    assert max_seen["connections"] <= 20, max_seen
    # And the server agrees: never more than 20 backends for this pool.
    assert postgres.pool_status()["connections"] <= 20


def test_other_greenlets_run_while_a_query_waits() -> None:
    ticks = {"n": 0}
    done = {"flag": False}

    def ticker() -> None:
        while not done["flag"]:
            ticks["n"] += 1
            puff.sleep_ms(5)

    t = puff.spawn(ticker)
    c = postgres.connect()
    c.cursor().execute("SELECT pg_sleep(0.3)")
    c.close()
    done["flag"] = True
    t.join()
    assert ticks["n"] >= 10, ticks


def test_forgotten_connection_returns_to_pool_when_greenlet_ends() -> None:
    def leaky() -> None:
        c = postgres.connect("tiny")
        c.cursor().execute("SELECT 1")  # opens a transaction and holds the connection
        assert postgres.pool_status("tiny")["in_use"] == 1
        # no commit, no close

    puff.spawn(leaky).join()
    assert wait_until(lambda: postgres.pool_status("tiny")["in_use"] == 0)
    # The pool's single connection is usable again, and its transaction was rolled back.
    c = postgres.connect("tiny")
    cur = c.cursor()
    cur.execute("SELECT now() = statement_timestamp()")  # fresh transaction
    assert cur.fetchone() is not None
    c.close()


def test_pool_exhaustion_waits_for_acquire_timeout_then_clear_error() -> None:
    holder = postgres.connect("tiny")
    holder.cursor().execute("SELECT 1")  # holds the only connection
    other = postgres.connect("tiny")
    started = time.monotonic()
    try:
        other.cursor().execute("SELECT 1")
    except postgres.OperationalError as e:
        waited = time.monotonic() - started
        assert "timed out" in str(e) and "tiny" in str(e), str(e)
        assert waited >= 0.25, waited
    else:
        raise AssertionError("expected OperationalError")
    holder.close()
    # Released: the other connection gets it now.
    other.cursor().execute("SELECT 1")
    other.close()


def test_waiter_gets_connection_when_released() -> None:
    holder = postgres.connect("tiny")
    holder.cursor().execute("SELECT 1")

    def release_soon() -> None:
        puff.sleep_ms(100)
        holder.close()

    puff.spawn(release_soon)
    c = postgres.connect("tiny")
    c.cursor().execute("SELECT 2")
    c.close()


def test_statement_timeout_cancels_long_queries() -> None:
    c = postgres.connect("tiny")  # statement_timeout_ms = 500
    c.autocommit = True
    try:
        c.cursor().execute("SELECT pg_sleep(2)")
    except postgres.OperationalError as e:
        assert e.pgcode == "57014", e.pgcode  # query_canceled
    else:
        raise AssertionError("expected OperationalError")
    c.cursor().execute("SELECT 1")  # the connection is still usable
    c.close()
