"""Python side of puff-http's ASGI adapter; imported by the runtime, not meant for users.

- ``_run`` runs the app for one ``http`` request and reports the outcome to its ``send``;
- ``run_app`` runs the app for one ``websocket`` connection as a task with a done-callback;
- ``Lifespan`` drives the ASGI lifespan protocol (``new_lifespan`` builds it on the loop).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("puff.asgi")

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Message, Receive, Send], Awaitable[None]]


async def _run(app: App, scope: Message, receive: Receive, send: Any) -> None:
    # Reports the outcome to `send` itself: cheaper than a done-callback on the task.
    try:
        await app(scope, receive, send)
    except BaseException as exc:
        send.finished(exc)
        if not isinstance(exc, Exception):  # cancelled, SystemExit, ...
            raise
    else:
        send.finished(None)


def run_app(
    loop: asyncio.AbstractEventLoop,
    app: App,
    scope: Message,
    receive: Receive,
    send: Send,
    on_done: Callable[[asyncio.Task[None]], object],
) -> None:
    # An ASGI app is a coroutine function; `App` only promises an awaitable.
    coro = app(scope, receive, send)
    task: asyncio.Task[None] = loop.create_task(coro)  # type: ignore[arg-type]
    task.add_done_callback(on_done)


class Lifespan:
    """Runs the ASGI lifespan protocol; apps that do not support it are tolerated quietly."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self.supported = True
        self.queue: asyncio.Queue[Message] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        self.started: asyncio.Future[None] = loop.create_future()
        self.stopped: asyncio.Future[None] = loop.create_future()
        self.task: asyncio.Future[None] | None = None

    async def receive(self) -> Message:
        return await self.queue.get()

    async def send(self, message: Message) -> None:
        kind = message.get("type")
        if kind in ("lifespan.startup.complete", "lifespan.startup.failed"):
            future, step = self.started, "startup"
        elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            future, step = self.stopped, "shutdown"
        else:
            return
        if future.done():
            return
        if kind.endswith(".failed"):
            reason = message.get("message") or f"ASGI lifespan {step} failed"
            future.set_exception(RuntimeError(reason))
        else:
            future.set_result(None)

    async def main(self) -> None:
        scope: Message = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self.app(scope, self.receive, self.send)
        except BaseException as exc:
            if not self.started.done():
                self.supported = False
                log.debug("ASGI app does not support lifespan: %r", exc)
                self.started.set_result(None)
            elif not self.stopped.done():
                self.stopped.set_exception(exc)
        finally:
            if not self.started.done():
                self.started.set_result(None)
            if not self.stopped.done():
                self.stopped.set_result(None)

    async def startup(self) -> bool:
        self.task = asyncio.ensure_future(self.main())
        await self.queue.put({"type": "lifespan.startup"})
        await self.started
        return self.supported

    async def shutdown(self) -> None:
        if not self.supported:
            return
        await self.queue.put({"type": "lifespan.shutdown"})
        await self.stopped


async def new_lifespan(app: App) -> Lifespan:
    """A :class:`Lifespan` for ``app``; a coroutine because ``__init__`` needs the loop."""
    return Lifespan(app)
