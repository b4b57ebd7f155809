"""Greenlet concurrency as seen from outside: many sleeping requests overlap, and a
``@puff.blocking`` call does not stop other requests from being served."""

from __future__ import annotations

import threading

from puffserver import HttpResult, PuffServer, wait_until

N_REQUESTS = 200


def test_200_sleeping_requests_run_concurrently(flask_server: PuffServer) -> None:
    assert flask_server.post("/reset").status == 200
    results: list[HttpResult | BaseException | None] = [None] * N_REQUESTS
    barrier = threading.Barrier(N_REQUESTS)

    def client(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[i] = flask_server.get(f"/sleep?ms=100&i={i}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            results[i] = exc

    threads = [threading.Thread(target=client, args=(i,)) for i in range(N_REQUESTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "some requests never completed"

    failures = []
    for i, result in enumerate(results):
        if not isinstance(result, HttpResult):
            failures.append(f"request {i}: {result!r}")
        elif result.status != 200 or result.json() != {"slept_ms": 100, "i": i}:
            failures.append(f"request {i}: {result.describe()}")
    assert not failures, f"{len(failures)} of {N_REQUESTS} failed, e.g. {failures[:5]}"

    stats = flask_server.get("/stats").json()
    assert stats["sleeps_done"] == N_REQUESTS, stats
    assert stats["in_flight"] == 0, stats
    assert stats["max_in_flight"] >= 100, (
        f"at most {stats['max_in_flight']} requests were inside puff.sleep_ms at once: "
        "sleeping greenlets are not overlapping"
    )


def test_blocking_call_does_not_stop_other_greenlets(flask_server: PuffServer) -> None:
    """A request sits in ``@puff.blocking`` ``time.sleep(1)``; /ping requests made while it
    is in flight all complete before it does."""
    assert flask_server.post("/reset").status == 200
    blocking_done = threading.Event()
    blocking_result: list[HttpResult | BaseException] = []

    def slow_client() -> None:
        try:
            blocking_result.append(flask_server.get("/blocking-sleep?seconds=1"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            blocking_result.append(exc)
        finally:
            blocking_done.set()

    slow = threading.Thread(target=slow_client)
    slow.start()
    try:
        # Wait until the server reports the blocking call in progress. These requests are
        # themselves served while the blocking call runs (or only after it, if the greenlet
        # thread is blocked, in which case the counter is already back to 0).
        def in_progress() -> bool:
            stats = flask_server.get("/stats").json()
            assert stats["blocking_done"] == 0, (
                "the /blocking-sleep request finished before any other request could be "
                f"served while it ran: {stats}"
            )
            return stats["blocking_in_progress"] == 1

        wait_until(in_progress, lambda: f"/blocking-sleep never started: {blocking_result}")

        pings_done_while_blocking = 0
        for _ in range(5):
            ping = flask_server.get("/ping")
            assert ping.status == 200, ping.describe()
            if not blocking_done.is_set() and ping.json()["blocking_in_progress"] == 1:
                pings_done_while_blocking += 1
        assert pings_done_while_blocking == 5, (
            f"only {pings_done_while_blocking}/5 pings completed while the blocking call was "
            "in flight"
        )
    finally:
        slow.join(timeout=60)

    assert len(blocking_result) == 1, blocking_result
    assert isinstance(blocking_result[0], HttpResult), blocking_result
    response = blocking_result[0]
    assert response.status == 200, response.describe()
    threads = response.json()
    assert threads["blocking_thread"] != threads["greenlet_thread"], (
        f"@puff.blocking ran on the greenlet thread: {threads}"
    )


def test_blocking_call_waiting_on_event_lets_requests_through(flask_server: PuffServer) -> None:
    """Same property, fully ordering-based: the blocking function waits (on the blocking
    pool) for an event that only a later HTTP request can set."""
    assert flask_server.post("/reset").status == 200
    waiter_result: list[HttpResult | BaseException] = []

    def waiter() -> None:
        try:
            waiter_result.append(flask_server.get("/blocking-wait"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            waiter_result.append(exc)

    thread = threading.Thread(target=waiter)
    thread.start()
    try:
        wait_until(
            lambda: flask_server.get("/stats").json()["blocking_in_progress"] == 1,
            lambda: f"/blocking-wait was never seen in progress: {waiter_result}",
        )
        for _ in range(3):
            assert flask_server.get("/ping").status == 200
        # If the greenlet thread were stuck in the blocking call, this request could not
        # be served and the waiter would time out after 30 s with released=False.
        assert flask_server.post("/release").status == 200
    finally:
        thread.join(timeout=60)
    assert len(waiter_result) == 1, waiter_result
    assert isinstance(waiter_result[0], HttpResult), waiter_result
    assert waiter_result[0].status == 200, waiter_result[0].describe()
    assert waiter_result[0].json() == {"released": True}
