"""`bench redis` for Puff: puff.redis (GET/SET) and puff.pubsub on the Redis backend.

`greenlets` (puff_redis.toml: `puff-cli --config puff_redis.toml --default-redis-url URL
redis`) runs the callers, subscribers and publisher as greenlets (puff.spawn);
`coroutines` (puff_redis_asyncio.toml, asyncio = true) runs them as coroutines on Puff's
event loop. The case comes from BENCH_CASE (see redis_common.py).
"""

from __future__ import annotations

import asyncio
import time

import puff
from puff.pubsub import global_pubsub
from puff.redis import global_redis as r
from redis_common import (
    CHANNEL,
    PROBE_PAUSE_MS,
    RECEIVE_MS,
    Board,
    Counter,
    Inbox,
    Settings,
    agetset_round,
    apublish_run,
    check_get,
    check_set,
    commands,
    missing,
    report,
    settings,
    publisher_steps,
    work,
)


def _check_backend() -> None:
    if global_pubsub.backend != "redis":
        raise SystemExit(
            f"puff.pubsub backend is {global_pubsub.backend!r}, not 'redis'"
        )


# ---- greenlets -----------------------------------------------------------------------


def _getset_round(plan: list[list[tuple[str, bytes]]], counter: Counter) -> None:
    def caller(mine: list[tuple[str, bytes]]) -> None:
        for key, value in mine:
            try:
                check_set(r.set(key, value), key, counter)
                check_get(r.get(key), key, value, counter)
            except Exception as e:  # noqa: BLE001 - counted and reported
                counter.error(repr(e))

    for h in [puff.spawn(caller, mine) for mine in plan]:
        h.join()


def _subscriber(inbox: Inbox) -> None:
    conn = global_pubsub.connection()
    conn.subscribe(CHANNEL)
    while not inbox.stop():
        msg = conn.receive(RECEIVE_MS)
        if msg is None:
            inbox.board.idle()
        else:
            inbox.on_message(msg.body)
    conn.close()


def _publisher(board: Board) -> None:
    """``publisher_steps`` from a greenlet."""
    for step in publisher_steps(board):
        if isinstance(step, bytes):
            global_pubsub.publish(CHANNEL, step)
        elif step is None:
            puff.sleep_ms(PROBE_PAUSE_MS)
        else:  # parks this greenlet until the subscriber completing the burst calls ret()
            puff.wrap_async(lambda ret, end=step: board.park(end, lambda: ret(None)))


def _pubsub_greenlets(s: Settings) -> int:
    _check_backend()
    board = Board(s)
    subs = [puff.spawn(_subscriber, board.inbox()) for _ in range(s.subscribers)]
    _publisher(board)
    for h in subs:
        h.join()
    missing(board)
    n, seconds, p50, p99 = board.results()
    return report("puff.pubsub (greenlets)", s, n, board.counter, seconds, (p50, p99))


def greenlets() -> int:
    s = settings()
    if s.case == "b":
        return _pubsub_greenlets(s)
    _getset_round(work(s, s.warmup, "w"), Counter())
    plan, counter = work(s, s.ops, "t"), Counter()
    start = time.perf_counter()
    _getset_round(plan, counter)
    seconds = time.perf_counter() - start
    return report("puff.redis (greenlets)", s, commands(plan), counter, seconds)


# ---- coroutines ----------------------------------------------------------------------


async def _asubscriber(inbox: Inbox) -> None:
    conn = global_pubsub.connection()
    await conn.subscribe(CHANNEL)
    while not inbox.stop():
        msg = await conn.receive(RECEIVE_MS)
        if msg is None:
            inbox.board.idle()
        else:
            inbox.on_message(msg.body)
    conn.close()


async def _coroutines_main(s: Settings) -> int:
    if s.case == "b":
        board = Board(s)
        subs = [
            asyncio.ensure_future(_asubscriber(board.inbox()))
            for _ in range(s.subscribers)
        ]
        await apublish_run(board, global_pubsub.publish)
        await asyncio.gather(*subs)
        missing(board)
        n, seconds, p50, p99 = board.results()
        return report(
            "puff.pubsub (coroutines)", s, n, board.counter, seconds, (p50, p99)
        )
    await agetset_round(r, work(s, s.warmup, "w"), Counter())
    plan, counter = work(s, s.ops, "t"), Counter()
    start = time.perf_counter()
    await agetset_round(r, plan, counter)
    seconds = time.perf_counter() - start
    return report("puff.redis (coroutines)", s, commands(plan), counter, seconds)


def coroutines() -> int:
    s = settings()
    if s.case == "b":
        _check_backend()
    return puff.run_coroutine(_coroutines_main(s))
