"""`bench redis` for the peer, run from bench/.venv-peers under uvloop:

python peer_redis.py redis-py

redis-py's asyncio client (`redis.asyncio.Redis`, hiredis reply parser). (a): one client
whose pool holds up to BENCH_CONCURRENCY connections, one coroutine per caller. (b): one
`PubSub` per subscriber (each holds its own connection, as redis-py's pub/sub does),
reading with `get_message(timeout=...)`, and one publisher coroutine; the pool is sized for
all of them. The case comes from BENCH_CASE (see redis_common.py).
"""

from __future__ import annotations

import asyncio
import sys
import time

import redis.asyncio as aioredis
import uvloop
from redis.utils import HIREDIS_AVAILABLE
from redis_common import (
    CHANNEL,
    RECEIVE_MS,
    Board,
    Counter,
    Inbox,
    Settings,
    agetset_round,
    apublish_run,
    commands,
    missing,
    report,
    settings,
    work,
)


async def _subscriber(client: aioredis.Redis, inbox: Inbox) -> None:
    ps = client.pubsub(ignore_subscribe_messages=True)
    await ps.subscribe(CHANNEL)
    while not inbox.stop():
        msg = await ps.get_message(timeout=RECEIVE_MS / 1000)
        if msg is None:
            inbox.board.idle()
        elif msg["type"] == "message":
            inbox.on_message(msg["data"])
    await ps.aclose()


async def _pubsub(s: Settings) -> int:
    client = aioredis.Redis.from_url(s.url, max_connections=s.subscribers + 10)
    board = Board(s)
    subs = [
        asyncio.ensure_future(_subscriber(client, board.inbox()))
        for _ in range(s.subscribers)
    ]
    await apublish_run(board, client.publish)
    await asyncio.gather(*subs)
    await client.aclose()
    missing(board)
    n, seconds, p50, p99 = board.results()
    return report("redis-py (pub/sub)", s, n, board.counter, seconds, (p50, p99))


async def _getset(s: Settings) -> int:
    client = aioredis.Redis.from_url(s.url, max_connections=s.concurrency)
    await agetset_round(client, work(s, s.warmup, "w"), Counter())
    plan, counter = work(s, s.ops, "t"), Counter()
    start = time.perf_counter()
    await agetset_round(client, plan, counter)
    seconds = time.perf_counter() - start
    await client.aclose()
    return report("redis-py (GET/SET)", s, commands(plan), counter, seconds)


def main(which: str) -> int:
    if which != "redis-py":
        raise SystemExit(f"unknown client {which!r} (redis-py)")
    if not HIREDIS_AVAILABLE:
        raise SystemExit(
            "hiredis is not installed in this venv: redis-py would parse in Python"
        )
    s = settings()
    return uvloop.run(_pubsub(s) if s.case == "b" else _getset(s))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "redis-py"))
