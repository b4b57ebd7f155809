"""`bench client` for the peers, run from bench/.venv-peers under uvloop:

python peer_client.py httpx      # one httpx.AsyncClient
python peer_client.py aiohttp    # one aiohttp.ClientSession
"""

from __future__ import annotations

import asyncio
import sys
import time

import uvloop
from client_common import Counter, Settings, report, settings


async def _round_httpx(client, s: Settings, total: int) -> Counter:
    counter = Counter(total)

    async def worker() -> None:
        while counter.take():
            try:
                r = await client.get(s.url)
                if r.status_code != 200 or len(r.content) != 1024:
                    counter.error(f"status {r.status_code}, {len(r.content)} bytes")
            except Exception as e:  # noqa: BLE001 - counted and reported
                counter.error(repr(e))

    await asyncio.gather(*(worker() for _ in range(s.concurrency)))
    return counter


async def _round_aiohttp(session, s: Settings, total: int) -> Counter:
    counter = Counter(total)

    async def worker() -> None:
        while counter.take():
            try:
                async with session.get(s.url) as r:
                    body = await r.read()
                    if r.status != 200 or len(body) != 1024:
                        counter.error(f"status {r.status}, {len(body)} bytes")
            except Exception as e:  # noqa: BLE001 - counted and reported
                counter.error(repr(e))

    await asyncio.gather(*(worker() for _ in range(s.concurrency)))
    return counter


async def main(which: str) -> int:
    s = settings()
    if which == "httpx":
        import httpx

        limits = httpx.Limits(
            max_connections=s.concurrency, max_keepalive_connections=s.concurrency
        )
        async with httpx.AsyncClient(limits=limits) as client:
            if s.warmup:
                await _round_httpx(client, s, s.warmup)
            start = time.perf_counter()
            counter = await _round_httpx(client, s, s.requests)
            seconds = time.perf_counter() - start
    elif which == "aiohttp":
        import aiohttp

        connector = aiohttp.TCPConnector(limit=s.concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            if s.warmup:
                await _round_aiohttp(session, s, s.warmup)
            start = time.perf_counter()
            counter = await _round_aiohttp(session, s, s.requests)
            seconds = time.perf_counter() - start
    else:
        print(f"unknown client {which!r} (httpx, aiohttp)", file=sys.stderr)
        return 2
    report(f"{which} (uvloop)", s, counter, seconds)
    return 1 if counter.errors else 0


if __name__ == "__main__":
    sys.exit(uvloop.run(main(sys.argv[1] if len(sys.argv) > 1 else "")))
