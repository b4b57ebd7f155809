"""A real FastAPI app served by Puff's ASGI adapter (asyncio = true)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import puff
from asgiref.sync import async_to_sync, sync_to_async
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse

stats = {"in_flight": 0, "max_in_flight": 0, "done": 0}


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, str]]:
    # The server runs with its log folder as the working directory; the test reads these.
    await puff.sleep_ms(1)  # Puff functions are awaitable during startup too
    Path("lifespan-startup.txt").write_text("started")
    app.state.started = True
    yield {"resource": "from-lifespan"}
    Path("lifespan-shutdown.txt").write_text("stopped")


app = FastAPI(lifespan=lifespan)


@app.get("/")
async def root() -> dict[str, str]:
    return {"hello": "fastapi"}


@app.post("/reset")
async def reset() -> dict[str, int]:
    stats.update(in_flight=0, max_in_flight=0, done=0)
    return stats


@app.get("/stats")
async def get_stats() -> dict[str, int]:
    return stats


@app.get("/sleep")
async def sleep(ms: int = 100) -> dict[str, int]:
    stats["in_flight"] += 1
    stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])
    try:
        await puff.sleep_ms(ms)
    finally:
        stats["in_flight"] -= 1
        stats["done"] += 1
    return {"slept_ms": ms}


# Requests of /wait-disconnect that are waiting, and those that saw http.disconnect.
disconnects = {"waiting": 0, "seen": 0}


@app.get("/wait-disconnect")
async def wait_disconnect(request: Request) -> dict[str, str]:
    """Answers only once the client went away: the next receive() after the (empty) body
    must be `http.disconnect`."""
    await request.body()
    disconnects["waiting"] += 1
    try:
        message = await request.receive()
    finally:
        disconnects["waiting"] -= 1
    if message["type"] == "http.disconnect":
        disconnects["seen"] += 1
    return {"received": message["type"]}


@app.get("/disconnects")
async def get_disconnects() -> dict[str, int]:
    return disconnects


@app.get("/lifespan")
async def lifespan_state(request: Request) -> dict[str, Any]:
    return {"started": app.state.started, "resource": request.state.resource}


@app.post("/echo")
async def echo(request: Request) -> dict[str, Any]:
    body = await request.body()
    return {"len": len(body), "sha256": hashlib.sha256(body).hexdigest()}


@app.get("/stream")
async def stream(parts: int = 3) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        for i in range(parts):
            if i:
                await puff.sleep_ms(20)
            yield f"part-{i};".encode()

    return StreamingResponse(body(), media_type="text/plain")


def greenlet_side(x: int) -> int:
    """Plain synchronous code on a Puff greenlet, calling back into a coroutine."""
    puff.sleep_ms(5)
    return puff.run_coroutine(coroutine_side(x)) + 1


async def coroutine_side(x: int) -> int:
    await puff.sleep_ms(5)
    return x * 10


@app.get("/greenlet/{x}")
async def via_greenlet(x: int) -> dict[str, int]:
    # coroutine -> greenlet -> coroutine, each waiting without blocking the others
    return {"value": await puff.spawn(greenlet_side, x).join()}


def sync_calls_async(x: int) -> int:
    """Sync code (a greenlet) calling async code through asgiref's patched bridge."""
    puff.sleep_ms(5)
    return async_to_sync(coroutine_side)(x) + 2


@app.get("/asgiref/{x}")
async def via_asgiref(x: int) -> dict[str, int]:
    return {"value": await sync_to_async(sync_calls_async)(x)}


@app.get("/wrap")
async def wrap() -> dict[str, Any]:
    return {"value": await puff.wrap_async(lambda ret: ret({"from": "return func"}))}


@app.get("/error")
async def error() -> None:
    raise RuntimeError("fastapi route fails on purpose")


ws_stats: dict[str, Any] = {
    "disconnects": 0,
    "last_code": None,
    "send_after_close": None,
}


@app.websocket("/ws/echo")
async def ws_echo(websocket: WebSocket) -> None:
    offered = websocket.scope["subprotocols"]
    await websocket.accept(subprotocol="chat.v2" if "chat.v2" in offered else None)
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            if message.get("text") is not None:
                text = message["text"]
                if text.startswith("close:"):
                    await websocket.close(code=int(text[6:]), reason="asked to")
                    return
                if text == "scope":
                    scope = websocket.scope
                    await websocket.send_json(
                        {
                            "type": scope["type"],
                            "scheme": scope["scheme"],
                            "path": scope["path"],
                            "query_string": scope["query_string"].decode(),
                            "subprotocols": scope["subprotocols"],
                            "resource": scope["state"]["resource"],
                        }
                    )
                    continue
                await websocket.send_text(text)
            else:
                await websocket.send_bytes(message["bytes"])
    except WebSocketDisconnect as exc:
        ws_stats["disconnects"] += 1
        ws_stats["last_code"] = exc.code


@app.get("/ws/stats")
async def get_ws_stats() -> dict[str, Any]:
    return ws_stats


@app.websocket("/ws/reject")
async def ws_reject(websocket: WebSocket) -> None:
    await websocket.close(code=1008)


@app.websocket("/ws/send-after-close")
async def ws_send_after_close(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.close(code=4002)
    try:  # the raw ASGI send: Starlette's own wrapper refuses before reaching the server
        await websocket._send({"type": "websocket.send", "text": "too late"})
    except OSError as exc:
        ws_stats["send_after_close"] = type(exc).__name__
