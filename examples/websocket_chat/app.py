"""Websocket chat served by Puff: every message goes to everyone in the room.

One process keeps the room in memory; across several Puff processes the same shape works
with `puff.pubsub` (coming with the redis-pubsub subsystem).
"""

from __future__ import annotations

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse

app = FastAPI()
room: set[WebSocket] = set()

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Puff chat</title></head>
<body>
<h1>Puff chat</h1>
<ul id="messages"></ul>
<form id="form"><input id="text" autocomplete="off"><button>Send</button></form>
<script>
const ws = new WebSocket(`ws://${location.host}/ws`);
ws.onmessage = (event) => {
  const item = document.createElement("li");
  item.textContent = event.data;
  document.getElementById("messages").appendChild(item);
};
document.getElementById("form").onsubmit = (event) => {
  event.preventDefault();
  const input = document.getElementById("text");
  ws.send(input.value);
  input.value = "";
};
</script>
</body></html>
"""


@app.get("/")
async def page() -> HTMLResponse:
    return HTMLResponse(PAGE)


@app.websocket("/ws")
async def chat(websocket: WebSocket) -> None:
    await websocket.accept()
    room.add(websocket)
    try:
        while True:
            text = await websocket.receive_text()
            for member in list(room):
                try:
                    await member.send_text(text)
                except (RuntimeError, OSError):  # that member just left
                    room.discard(member)
    except WebSocketDisconnect:
        pass
    finally:
        room.discard(websocket)
