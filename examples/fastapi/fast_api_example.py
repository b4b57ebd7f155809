"""The FastAPI app of the Puff docs, awaiting a Rust async method of the global state."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from puff import global_state, wrap_async

state = global_state

app = FastAPI()


@app.get("/fast-api")
async def read_root() -> dict[str, Any]:
    result = await wrap_async(lambda r: state.hello_from_rust_async(r, "hello from asyncio"))
    return {"Hello": "World", "from": "Fast API", "rust_value": result}
