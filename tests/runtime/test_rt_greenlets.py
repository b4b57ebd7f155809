"""sleep_ms, spawn, contextvars and wrap_async inside the runtime."""

from __future__ import annotations

import contextvars

import puff
import pytest
from rt_helpers import OverlapCounter, later

N_GREENLETS = 50


def test_sleep_ms_in_test_greenlet() -> None:
    puff.sleep_ms(1)
    puff.sleep_ms(0)


def test_spawned_greenlets_sleep_concurrently() -> None:
    counter = OverlapCounter()

    def sleeper(i: int) -> int:
        counter.enter()
        puff.sleep_ms(100)
        counter.leave()
        return i * 2

    handles = [puff.spawn(sleeper, i) for i in range(N_GREENLETS)]
    assert [h.join() for h in handles] == [i * 2 for i in range(N_GREENLETS)]
    assert counter.finished == N_GREENLETS
    assert counter.active == 0
    # Every greenlet entered before any could leave: all 50 sleeps overlapped.
    assert counter.max_active == N_GREENLETS


def test_many_concurrent_sleeps_interleave_in_wakeup_order() -> None:
    order: list[int] = []

    def sleeper(ms: int) -> None:
        puff.sleep_ms(ms)
        order.append(ms)

    handles = [puff.spawn(sleeper, ms) for ms in (300, 10, 200, 100)]
    for handle in handles:
        handle.join()
    assert order == [10, 100, 200, 300]


def test_spawn_join_returns_value_and_passes_arguments() -> None:
    def add(a: int, b: int, *, scale: int = 1) -> int:
        puff.sleep_ms(5)
        return (a + b) * scale

    handle = puff.spawn(add, 2, 3, scale=10)
    assert handle.join() == 50
    assert handle.done()
    assert handle.join() == 50, "join() twice must return the same value"


def test_spawn_done_is_false_while_running() -> None:
    def slow() -> str:
        puff.sleep_ms(50)
        return "ok"

    handle = puff.spawn(slow)
    assert not handle.done()
    assert handle.join() == "ok"
    assert handle.done()


def test_spawn_join_reraises_exception() -> None:
    class Boom(Exception):
        pass

    def fail() -> None:
        puff.sleep_ms(5)
        raise Boom("from spawned greenlet")

    handle = puff.spawn(fail)
    with pytest.raises(Boom, match="from spawned greenlet"):
        handle.join()


def test_spawn_exception_without_sleep_is_reraised() -> None:
    def fail_now() -> None:
        raise KeyError("immediately")

    with pytest.raises(KeyError, match="immediately"):
        puff.spawn(fail_now).join()


def test_nested_spawn() -> None:
    def outer() -> list[int]:
        inner = [puff.spawn(lambda i=i: i * i) for i in range(5)]
        return [h.join() for h in inner]

    assert puff.spawn(outer).join() == [0, 1, 4, 9, 16]


def test_contextvars_are_isolated_between_greenlets() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    def setter() -> str:
        var.set("set-in-a")
        puff.sleep_ms(50)  # the reader runs while this greenlet sleeps
        return var.get()

    def reader() -> str:
        puff.sleep_ms(10)
        return var.get()

    a = puff.spawn(setter)
    b = puff.spawn(reader)
    assert b.join() == "unset", "a ContextVar set in one greenlet leaked into another"
    assert a.join() == "set-in-a", "a greenlet lost its own ContextVar value"
    assert var.get() == "unset", "a spawned greenlet's ContextVar leaked into its parent"


def test_wrap_async_return_func_called_synchronously() -> None:
    assert puff.wrap_async(lambda ret: ret(42)) == 42
    assert puff.wrap_async(lambda ret: ret({"a": [1, 2]})) == {"a": [1, 2]}


def test_wrap_async_result_none() -> None:
    assert puff.wrap_async(lambda ret: ret(None)) is None


def test_wrap_async_error_called_synchronously() -> None:
    with pytest.raises(ValueError, match="sync failure"):
        puff.wrap_async(lambda ret: ret(None, ValueError("sync failure")))


def test_wrap_async_return_func_called_later_from_spawned_greenlet() -> None:
    assert puff.wrap_async(lambda ret: later(ret, 50, result="late value")) == "late value"


def test_wrap_async_error_called_later_from_spawned_greenlet() -> None:
    with pytest.raises(LookupError, match="late failure"):
        puff.wrap_async(lambda ret: later(ret, 20, error=LookupError("late failure")))


def test_many_wrap_async_waiters_concurrently() -> None:
    counter = OverlapCounter()

    def waiter(i: int) -> int:
        counter.enter()
        value = puff.wrap_async(lambda ret: later(ret, 50, result=i))
        counter.leave()
        return value

    handles = [puff.spawn(waiter, i) for i in range(20)]
    assert [h.join() for h in handles] == list(range(20))
    assert counter.max_active == 20


def test_global_state_is_none_under_puff_cli() -> None:
    assert puff.global_state() is None
    with pytest.raises(AttributeError):
        puff.global_state.anything  # noqa: B018 - the attribute access is the test
