"""`bench asgi` case (a): a raw ASGI 3.0 hello app with a 1024-byte body and no framework.

Served unchanged by Puff (puff_hello_asgi.toml), granian (--interface asgi) and uvicorn.
"""

BODY = b"x" * 1024
HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"1024")]
START = {"type": "http.response.start", "status": 200, "headers": HEADERS}
RESPONSE = {"type": "http.response.body", "body": BODY}


async def lifespan(receive, send):
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    await send(START)
    await send(RESPONSE)
