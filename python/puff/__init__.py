"""Puff: Python on Rust's Tokio.

Everything here is a thin layer over the native module ``puff._native``, which exists only
inside a process started by ``puff-cli`` (or a Rust binary built on Puff). Importing
``puff`` elsewhere works, so tools and type checkers can see it, but calling into the
runtime raises :class:`PuffNotRunningError` explaining how to run the code.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Generic, TypeVar

__version__ = "0.1.0"

T = TypeVar("T")

_NOT_RUNNING_HINT = (
    "the Puff runtime is not running in this process: Puff's native functions exist only "
    "inside `puff-cli` (e.g. `puff-cli runserver`, `puff-cli pytest`) or a Rust binary built "
    "on puff-core"
)


class PuffNotRunningError(ImportError):
    """Raised when native Puff functionality is used outside the Puff runtime."""


try:
    from puff import _native
except ImportError:  # not inside puff-cli
    # Type checkers see `_native` as typed by puff/_native.pyi; every use checks for None
    # (or calls _require_native) first.
    _native = None  # type: ignore[assignment]


def _require_native() -> None:
    """Raise PuffNotRunningError outside the runtime, where `_native` is None."""
    if _native is None:
        raise PuffNotRunningError(_NOT_RUNNING_HINT)


if _native is not None:
    PuffError = _native.PuffError
    PuffTimeoutError = _native.PuffTimeoutError
    PuffIOError = _native.PuffIOError
    PuffPanicError = _native.PuffPanicError
    NotInGreenletError = _native.NotInGreenletError
    RequestBodyTooLarge = _native.RequestBodyTooLarge
    sleep_ms = _native.sleep_ms
    read_file_bytes = _native.read_file_bytes
    wrap_async = _native.wrap_async
    run_coroutine = _native.run_coroutine
    trace_context = _native.trace_context
else:

    class PuffError(Exception):  # type: ignore[no-redef]
        """Base class of every error raised by Puff."""

    class PuffTimeoutError(PuffError):  # type: ignore[no-redef]
        pass

    class PuffIOError(PuffError):  # type: ignore[no-redef]
        pass

    class PuffPanicError(PuffError):  # type: ignore[no-redef]
        pass

    class NotInGreenletError(PuffError):  # type: ignore[no-redef]
        pass

    class RequestBodyTooLarge(PuffError):  # type: ignore[no-redef]
        pass

    def sleep_ms(ms: int) -> None:
        """Pause the calling greenlet for ``ms`` milliseconds without blocking others."""
        _require_native()

    def read_file_bytes(path: str) -> bytes:
        """Read a whole file on Tokio's I/O threads; other greenlets keep running."""
        _require_native()
        raise AssertionError("unreachable")

    def wrap_async(fn: Callable[[Callable[..., None]], Any]) -> Any:
        """Call ``fn(return_func)`` and wait until Rust calls ``return_func(result, error)``."""
        _require_native()

    def run_coroutine(awaitable: Any) -> Any:
        """From a greenlet: run ``awaitable`` on Puff's event loop (``asyncio = true``) and
        wait for its result while other greenlets keep running."""
        _require_native()

    def trace_context() -> _native.TraceContext | None:
        """The trace the calling code runs in (``.trace_id``, ``.span_id``,
        ``.traceparent``), or None outside any trace."""
        _require_native()
        return None


def blocking(fn: Callable[..., T]) -> Callable[..., T]:
    """Decorator: run ``fn`` on Puff's blocking thread pool.

    Use it for code that blocks the OS thread (stdlib file or socket I/O, C extensions,
    ``time.sleep``); the calling greenlet waits for the result while every other greenlet
    keeps running.
    """

    @functools.wraps(fn)
    def run_on_blocking_pool(*args: Any, **kwargs: Any) -> T:
        _require_native()
        return _native.run_blocking(fn, args, kwargs)

    return run_on_blocking_pool


class SpawnHandle(Generic[T]):
    """Handle on a greenlet started by :func:`spawn`."""

    def __init__(self, native_handle: _native.SpawnHandle) -> None:
        self._handle = native_handle

    def join(self) -> T:
        """Wait for the greenlet's result; re-raises its exception."""
        return self._handle.join()

    def done(self) -> bool:
        """True once the greenlet has finished."""
        return bool(self._handle.done())


def spawn(fn: Callable[..., T], *args: Any, **kwargs: Any) -> SpawnHandle[T]:
    """Run ``fn(*args, **kwargs)`` in a new greenlet (with its own contextvars context)."""
    _require_native()
    return SpawnHandle(_native.spawn(fn, args, kwargs))


class _GlobalState:
    """The object built by ``RuntimeConfig::set_global_state_fn``.

    Usable both ways the Puff docs show: ``puff.global_state()`` returns the object, and
    ``puff.global_state.some_method(...)`` forwards to it.
    """

    def __call__(self) -> Any:
        _require_native()
        return _native.global_state()

    def __getattr__(self, name: str) -> Any:
        state = self()
        if state is None:
            raise AttributeError(
                f"puff.global_state has no attribute {name!r}: no global state was set "
                "(RuntimeConfig::set_global_state_fn)"
            )
        return getattr(state, name)

    def __repr__(self) -> str:
        return f"<puff.global_state {self()!r}>" if _native is not None else "<puff.global_state>"


global_state = _GlobalState()


def __getattr__(name: str) -> Any:
    # `puff.global_redis` / `puff.global_pubsub` / `puff.global_task_queue` / `puff.global_graphql` without importing those modules (and the
    # native subsystems they check for) until first use. Not in __all__, so a star import
    # works in builds without the redis/pubsub/tasks features.
    if name == "global_redis":
        from puff.redis import global_redis

        return global_redis
    if name == "global_pubsub":
        from puff.pubsub import global_pubsub

        return global_pubsub
    if name == "global_task_queue":
        from puff.task_queue import global_task_queue

        return global_task_queue
    if name == "global_graphql":
        from puff.graphql import global_graphql

        return global_graphql
    raise AttributeError(f"module 'puff' has no attribute {name!r}")


__all__ = [
    "NotInGreenletError",
    "PuffError",
    "PuffIOError",
    "PuffNotRunningError",
    "PuffPanicError",
    "PuffTimeoutError",
    "RequestBodyTooLarge",
    "SpawnHandle",
    "blocking",
    "global_state",
    "read_file_bytes",
    "run_coroutine",
    "sleep_ms",
    "spawn",
    "trace_context",
    "wrap_async",
]
