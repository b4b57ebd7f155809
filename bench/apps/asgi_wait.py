"""`bench asgi` case (b) for granian and uvicorn: wait 20 ms (asyncio.sleep), then a 1 KB body."""

import asyncio

from hello_asgi import RESPONSE, START, lifespan


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    await asyncio.sleep(0.02)
    await send(START)
    await send(RESPONSE)
