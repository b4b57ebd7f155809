"""Coroutines and greenlets together (run with tests/runtime/puff-asyncio.toml).

Under the plain config these tests check that run_coroutine explains how to enable the loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import os

import puff
import pytest

ASYNCIO = os.environ.get("PUFF_ASYNCIO_TESTS") == "1"
needs_loop = pytest.mark.skipif(not ASYNCIO, reason="runs in the asyncio suite")


@pytest.mark.skipif(ASYNCIO, reason="runs in the plain suite")
def test_run_coroutine_without_loop_says_how_to_enable_it() -> None:
    async def nothing() -> None:
        return None

    coro = nothing()
    with pytest.raises(puff.PuffError, match="asyncio = true"):
        puff.run_coroutine(coro)
    coro.close()


@needs_loop
def test_coroutine_awaits_puff_functions() -> None:
    async def main() -> tuple[bytes, object, bool]:
        await puff.sleep_ms(5)
        data = await puff.read_file_bytes(__file__)
        value = await puff.wrap_async(lambda ret: ret("delivered"))
        return data, value, asyncio.get_running_loop().is_running()

    data, value, running = puff.run_coroutine(main())
    with open(__file__, "rb") as f:
        assert data == f.read()
    assert value == "delivered"
    assert running


@needs_loop
def test_many_coroutines_wait_at_once() -> None:
    state = {"now": 0, "max": 0}

    async def waiter() -> int:
        state["now"] += 1
        state["max"] = max(state["max"], state["now"])
        await puff.sleep_ms(50)
        state["now"] -= 1
        return 1

    async def main() -> int:
        return sum(await asyncio.gather(*(waiter() for _ in range(200))))

    assert puff.run_coroutine(main()) == 200
    assert state["max"] == 200


@needs_loop
def test_coroutines_and_greenlets_call_each_other() -> None:
    def greenlet_side(x: int) -> int:
        puff.sleep_ms(5)  # parks this greenlet, not the loop
        return puff.run_coroutine(coroutine_side(x)) + 1

    async def coroutine_side(x: int) -> int:
        await asyncio.sleep(0.005)  # plain asyncio works on Puff's loop too
        return x * 10

    async def main() -> int:
        # A coroutine waits for a greenlet, which itself waits for a coroutine.
        return await puff.spawn(greenlet_side, 4).join()

    assert puff.run_coroutine(main()) == 41


@needs_loop
def test_greenlets_keep_running_while_coroutines_wait() -> None:
    events: list[str] = []

    def greenlet_ticker() -> None:
        for _ in range(3):
            puff.sleep_ms(10)
            events.append("greenlet")

    async def slow() -> None:
        await puff.sleep_ms(100)
        events.append("coroutine")

    handle = puff.spawn(greenlet_ticker)
    puff.run_coroutine(slow())
    handle.join()
    assert events == ["greenlet", "greenlet", "greenlet", "coroutine"]


@needs_loop
def test_exceptions_cross_from_coroutines() -> None:
    async def failing() -> None:
        await puff.sleep_ms(1)
        raise LookupError("raised in a coroutine")

    with pytest.raises(LookupError, match="raised in a coroutine"):
        puff.run_coroutine(failing())
    with pytest.raises(puff.PuffIOError):
        puff.run_coroutine(puff.read_file_bytes("/nonexistent/puff/file"))


@needs_loop
def test_blocking_functions_are_awaitable_in_coroutines() -> None:
    import threading

    @puff.blocking
    def which_thread() -> int:
        return threading.get_ident()

    async def main() -> int:
        return await which_thread()

    assert puff.run_coroutine(main()) != threading.get_ident()


@needs_loop
def test_context_is_isolated_per_coroutine_task() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    async def setter() -> str:
        var.set("set in task")
        return var.get()

    assert puff.run_coroutine(setter()) == "set in task"
    assert var.get() == "unset"


@needs_loop
def test_asgiref_bridges_greenlets_and_coroutines() -> None:
    from asgiref.sync import async_to_sync, sync_to_async

    async def async_double(x: int) -> int:
        await puff.sleep_ms(5)
        return x * 2

    def sync_side(x: int) -> int:
        puff.sleep_ms(5)  # a greenlet: Puff functions wait without blocking the loop
        return async_to_sync(async_double)(x) + 1

    async def main(x: int) -> int:
        return await sync_to_async(sync_side)(x)

    # greenlet -> coroutine -> greenlet -> coroutine, all through asgiref.
    assert async_to_sync(main)(20) == 41


@needs_loop
def test_sync_to_async_keeps_the_callers_context() -> None:
    from asgiref.sync import sync_to_async

    var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")

    def read_var() -> str:
        return var.get()

    async def main() -> str:
        var.set("req-42")
        return await sync_to_async(read_var)()

    assert puff.run_coroutine(main()) == "req-42"


@needs_loop
def test_uses_uvloop_when_installed() -> None:
    import importlib.util

    async def loop_module() -> str:
        return type(asyncio.get_running_loop()).__module__

    module = puff.run_coroutine(loop_module())
    if importlib.util.find_spec("uvloop") is not None:
        assert module.startswith("uvloop"), module
    else:
        assert module.startswith("asyncio"), module
