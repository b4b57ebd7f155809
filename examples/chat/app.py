"""Multi-node websocket chat: rooms shared by every Puff process on the same Redis.

Each websocket takes its own ``puff.pubsub`` connection (whose id identifies the user's
connection), subscribes to ``chat:{room}`` and runs two things at once:

* websocket -> ``global_pubsub.publish_as(connection_id, channel, json)``
* ``conn.receive()`` -> websocket

With the ``default`` ``[[redis]]`` pool configured (see puff.toml), the ``default`` pub/sub
goes through Redis, so a message sent to one process reaches the room's members on every
process. Run two nodes and open one browser on each: see README.md in this folder.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse
from puff.pubsub import PubSubConnection, global_pubsub

log = logging.getLogger("chat")

app = FastAPI()

ROOM_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")
MAX_NAME_CHARS = 32
MAX_TEXT_CHARS = 500
# Close codes (RFC 6455): 1003 unsupported data (a binary frame), 1008 policy violation
# (a bad room or name).
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_POLICY_VIOLATION = 1008

# The relay tasks of the websockets open on this process (reported by /health).
relays: set[asyncio.Task[None]] = set()


def room_problem(room: str) -> str | None:
    if not ROOM_PATTERN.fullmatch(room):
        return "room must be 1-32 characters: letters, digits, '-' or '_'"
    return None


def name_problem(name: str) -> str | None:
    if not name:
        return "name is required: /ws/{room}?name=..."
    if len(name) > MAX_NAME_CHARS:
        return f"name is longer than {MAX_NAME_CHARS} characters"
    if not name.isprintable():
        return "name contains control characters"
    return None


def event(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields})


async def relay(conn: PubSubConnection, websocket: WebSocket) -> None:
    """pub/sub -> websocket, until the connection is closed (``receive()`` gives None)."""
    while True:
        message = await conn.receive()
        if message is None:  # conn.close(): the client left
            return
        try:
            payload = json.loads(message.text)
        except ValueError:
            continue  # not one of ours
        if not isinstance(payload, dict):
            continue
        # The sender's id comes from pub/sub itself, not from what the sender wrote.
        payload["connection_id"] = message.from_connection_id
        try:
            await websocket.send_text(json.dumps(payload))
        except (OSError, RuntimeError, WebSocketDisconnect):
            return  # the websocket is gone; the handler closes conn


@app.get("/")
async def page() -> HTMLResponse:
    return HTMLResponse(PAGE)


@app.get("/health")
async def health() -> dict[str, Any]:
    return {"status": "ok", "pubsub": global_pubsub.backend, "open_connections": len(relays)}


@app.websocket("/ws/{room}")
async def chat(websocket: WebSocket, room: str) -> None:
    await websocket.accept()
    name = websocket.query_params.get("name", "").strip()
    problem = room_problem(room) or name_problem(name)
    if problem is not None:
        await websocket.send_text(event("error", error=problem))
        await websocket.close(code=CLOSE_POLICY_VIOLATION, reason=problem)
        return

    channel = f"chat:{room}"
    conn = global_pubsub.connection()
    me = conn.connection_id
    task: asyncio.Task[None] | None = None
    joined = False
    try:
        await conn.subscribe(channel)
        # Subscribed: from here on every message of the room is queued on `conn`.
        await websocket.send_text(event("welcome", room=room, name=name, connection_id=me))
        task = asyncio.ensure_future(relay(conn, websocket))
        relays.add(task)
        task.add_done_callback(relays.discard)
        await global_pubsub.publish_as(
            me, channel, event("join", **{"from": name}, text=f"{name} joined")
        )
        joined = True
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                await websocket.close(
                    code=CLOSE_UNSUPPORTED_DATA, reason="send text messages, not binary"
                )
                return
            text = text.strip()
            if not text:
                continue
            if len(text) > MAX_TEXT_CHARS:
                await websocket.send_text(
                    event("error", error=f"message is longer than {MAX_TEXT_CHARS} characters")
                )
                continue
            await global_pubsub.publish_as(
                me, channel, event("message", **{"from": name}, text=text)
            )
    except WebSocketDisconnect:
        pass
    finally:
        if joined:
            try:
                await global_pubsub.publish_as(
                    me, channel, event("leave", **{"from": name}, text=f"{name} left")
                )
            except Exception:  # Redis down: the others just miss the notice
                log.warning("could not announce that %s left %s", name, channel, exc_info=True)
        conn.close()  # unsubscribes; the relay's pending receive() returns None
        if task is not None:
            await asyncio.wait({task}, timeout=5)
            task.cancel()  # a no-op once it has finished


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Puff multi-node chat</title>
<style>
body { font-family: sans-serif; max-width: 40rem; margin: 2rem auto; }
#messages { list-style: none; padding: 0; min-height: 10rem; border: 1px solid #ccc; }
#messages li { padding: .2rem .5rem; }
.notice { color: #777; font-style: italic; }
.error { color: #b00; }
</style></head>
<body>
<h1>Puff chat</h1>
<p>Served by <code id="node"></code>. Open another node in a second browser: same room,
same conversation.</p>
<form id="join">
  <input id="room" value="lobby" placeholder="room" maxlength="32" required>
  <input id="name" placeholder="your name" maxlength="32" required>
  <button>Join</button>
</form>
<ul id="messages"></ul>
<form id="send"><input id="text" autocomplete="off" maxlength="500" disabled>
<button disabled>Send</button></form>
<script>
document.getElementById("node").textContent = location.host;
let ws = null;
const list = document.getElementById("messages");
function show(text, cls) {
  const item = document.createElement("li");
  item.textContent = text;
  if (cls) item.className = cls;
  list.appendChild(item);
}
function setSending(on) {
  for (const el of document.querySelectorAll("#send input, #send button")) el.disabled = !on;
}
document.getElementById("join").onsubmit = (event) => {
  event.preventDefault();
  if (ws) ws.close();
  const room = document.getElementById("room").value.trim();
  const name = document.getElementById("name").value.trim();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  ws = new WebSocket(`${scheme}://${location.host}/ws/${encodeURIComponent(room)}` +
                     `?name=${encodeURIComponent(name)}`);
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.type === "welcome") {
      show(`joined room ${m.room} as ${m.name}`, "notice");
      setSending(true);
    } else if (m.type === "message") {
      show(`${m.from}: ${m.text}`);
    } else if (m.type === "join" || m.type === "leave") {
      show(m.text, "notice");
    } else if (m.type === "error") {
      show(`error: ${m.error}`, "error");
    }
  };
  ws.onclose = (e) => {
    setSending(false);
    show(`disconnected (${e.code}${e.reason ? ": " + e.reason : ""})`, "notice");
  };
};
document.getElementById("send").onsubmit = (event) => {
  event.preventDefault();
  const input = document.getElementById("text");
  if (ws && ws.readyState === WebSocket.OPEN && input.value.trim()) ws.send(input.value);
  input.value = "";
};
</script>
</body></html>
"""
