"""`bench asgi` case (b) for Puff: wait 20 ms (await puff.sleep_ms), then a 1 KB body."""

import puff
from hello_asgi import RESPONSE, START, lifespan


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    await puff.sleep_ms(20)
    await send(START)
    await send(RESPONSE)
