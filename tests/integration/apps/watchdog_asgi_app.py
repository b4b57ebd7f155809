"""ASGI app for the blocked-thread detector tests: a coroutine that makes a blocking call
on the event loop. The line marked ``# held here`` is the one the warning must name."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any


async def app(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/sleep":
        time.sleep(0.5)  # held here
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"done"})
