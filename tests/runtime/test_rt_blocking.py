"""@puff.blocking and use of Puff from plain threads."""

from __future__ import annotations

import threading
import time

import puff
import pytest


@puff.blocking
def _whoami() -> int:
    return threading.get_ident()


@puff.blocking
def _sleepy_add(a: int, b: int, *, delay_s: float = 0.0) -> int:
    time.sleep(delay_s)
    return a + b


@puff.blocking
def _fail(message: str) -> None:
    raise OSError(message)


@puff.blocking
def _wait_for(event: threading.Event, timeout_s: float) -> bool:
    return event.wait(timeout_s)


def test_blocking_runs_on_another_thread() -> None:
    assert _whoami() != threading.get_ident()


def test_blocking_passes_arguments_and_returns() -> None:
    assert _sleepy_add(2, 3, delay_s=0.01) == 5


def test_blocking_reraises_exception() -> None:
    with pytest.raises(OSError, match="from the blocking pool"):
        _fail("from the blocking pool")


def test_blocking_keeps_name() -> None:
    assert _sleepy_add.__name__ == "_sleepy_add"


def test_other_greenlets_run_while_blocking_waits() -> None:
    """The blocking function waits for an event that only a greenlet can set: this only
    completes if the greenlet thread keeps running during the blocking call."""
    event = threading.Event()

    def setter() -> None:
        puff.sleep_ms(10)
        event.set()

    handle = puff.spawn(setter)
    assert _wait_for(event, 10.0), "the greenlet thread was blocked by @puff.blocking"
    handle.join()


def test_blocking_from_many_greenlets() -> None:
    handles = [puff.spawn(_sleepy_add, i, i, delay_s=0.05) for i in range(10)]
    assert [h.join() for h in handles] == [2 * i for i in range(10)]


def test_sleep_ms_from_plain_thread_blocks_that_thread() -> None:
    outcome: dict[str, object] = {}

    def in_thread() -> None:
        try:
            start = time.monotonic()
            puff.sleep_ms(50)
            outcome["elapsed"] = time.monotonic() - start
        except BaseException as exc:  # noqa: BLE001 - reported below
            outcome["error"] = exc

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert "error" not in outcome, f"puff.sleep_ms failed in a plain thread: {outcome}"
    elapsed = outcome["elapsed"]
    assert isinstance(elapsed, float)
    assert elapsed >= 0.045, f"sleep_ms(50) returned after {elapsed:.3f} s in a plain thread"
