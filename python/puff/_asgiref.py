"""Patch ``asgiref.sync`` so sync and async code meet on Puff's greenlets and event loop.

Installed by the runtime at start-up when ``asyncio = true`` (a no-op without asgiref):

- ``async_to_sync(fn)(...)`` called from a greenlet (or any thread) runs the coroutine on
  Puff's event loop with ``puff.run_coroutine`` and waits without blocking other greenlets;
- ``sync_to_async(fn)(...)`` awaited from a coroutine runs ``fn`` in a new greenlet (with a
  copy of the caller's context, as asgiref does) so it may use Puff functions and
  ``async_to_sync`` in turn.

Both accept and ignore asgiref's tuning arguments (``force_new_loop``,
``thread_sensitive``, ``executor``, ``context``): greenlets make them unnecessary.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

R = TypeVar("R")


def _async_to_sync(
    awaitable: Callable[..., Awaitable[R]] | None = None, **_options: Any
) -> Any:
    if awaitable is None:
        return lambda fn: _async_to_sync(fn)

    @functools.wraps(awaitable)
    def run_in_greenlet(*args: Any, **kwargs: Any) -> R:
        import puff

        return puff.run_coroutine(awaitable(*args, **kwargs))

    return run_in_greenlet


def _sync_to_async(func: Callable[..., R] | None = None, **_options: Any) -> Any:
    if func is None:
        return lambda fn: _sync_to_async(fn)

    @functools.wraps(func)
    async def run_on_greenlet(*args: Any, **kwargs: Any) -> R:
        import puff

        context = contextvars.copy_context()
        return await puff.spawn(context.run, func, *args, **kwargs).join()

    return run_on_greenlet


def install() -> bool:
    """Patch ``asgiref.sync``; returns False when asgiref is not installed."""
    try:
        import asgiref.sync as sync
    except ImportError:
        return False
    sync.async_to_sync = _async_to_sync
    sync.sync_to_async = _sync_to_async
    return True
