"""`bench asgi --workers N` case (d): 2 ms of pure-Python CPU per request (`cpu_wsgi.burn`,
which never awaits), then a 1 KB body. Served by Puff (puff_cpu_asgi.toml) with N workers and
with one."""

from cpu_wsgi import burn
from hello_asgi import RESPONSE, START, lifespan


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    burn()
    await send(START)
    await send(RESPONSE)
