"""`bench client` for Puff: GETs with puff.http.global_http_client (reqwest in Rust).

`greenlets` (puff_client.toml) runs the callers as greenlets (puff.spawn);
`coroutines` (puff_client_asyncio.toml, asyncio = true) runs them as coroutines
(asyncio.gather) on Puff's event loop.
"""

from __future__ import annotations

import asyncio
import time

import puff
from client_common import Counter, Settings, report, settings
from puff.http import global_http_client


def _greenlet_round(s: Settings, total: int) -> Counter:
    counter = Counter(total)
    client = global_http_client()

    def worker() -> None:
        while counter.take():
            try:
                r = client.get(s.url)
                body = r.body()
                if r.status != 200 or len(body) != 1024:
                    counter.error(f"status {r.status}, {len(body)} bytes")
            except Exception as e:  # noqa: BLE001 - counted and reported
                counter.error(repr(e))

    handles = [puff.spawn(worker) for _ in range(s.concurrency)]
    for h in handles:
        h.join()
    return counter


def greenlets() -> int:
    s = settings()
    if s.warmup:
        _greenlet_round(s, s.warmup)
    start = time.perf_counter()
    counter = _greenlet_round(s, s.requests)
    report("puff (greenlets)", s, counter, time.perf_counter() - start)
    return 1 if counter.errors else 0


async def _coroutine_round(s: Settings, total: int) -> Counter:
    counter = Counter(total)
    client = global_http_client()

    async def worker() -> None:
        while counter.take():
            try:
                r = await client.get(s.url)
                body = await r.body()
                if r.status != 200 or len(body) != 1024:
                    counter.error(f"status {r.status}, {len(body)} bytes")
            except Exception as e:  # noqa: BLE001 - counted and reported
                counter.error(repr(e))

    await asyncio.gather(*(worker() for _ in range(s.concurrency)))
    return counter


async def _coroutines_main(s: Settings) -> tuple[Counter, float]:
    if s.warmup:
        await _coroutine_round(s, s.warmup)
    start = time.perf_counter()
    counter = await _coroutine_round(s, s.requests)
    return counter, time.perf_counter() - start


def coroutines() -> int:
    s = settings()
    counter, seconds = puff.run_coroutine(_coroutines_main(s))
    report("puff (coroutines)", s, counter, seconds)
    return 1 if counter.errors else 0
