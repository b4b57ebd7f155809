"""``puff.task_queue``: a distributed, at-least-once task queue with priorities and delays.

A task is an importable top-level function taking one JSON-able payload and returning a
JSON-able result. It runs on any Puff process connected to the queue (every process runs
due tasks in the background; ``puff-cli wait-forever`` makes a pure worker)::

    from puff.task_queue import global_task_queue

    def send_email(payload):
        ...
        return {"sent": True}

    task = global_task_queue.schedule_function(send_email, {"to": "ada@example.com"})
    result = global_task_queue.wait_for_task_result(task, 100, 10_000)

Tasks run in order of ``scheduled_time_unix_ms`` (default: now, so FIFO; small values
first; future values are delayed). A task with no result ``timeout_ms`` after a worker
claimed it, or whose worker died, runs again (up to ``max_retries`` times, then it goes to
the dead-letter list). A task that raises stores the error: reading its result raises
:class:`TaskError`. ``unique_key=`` keeps a second task with the same key from being queued
while the first is queued or running (its id is returned instead), and
:meth:`TaskQueue.set_rate_limit` (or ``[[task_queue.rate_limit]]``) caps how many runs of a
function start per period across all workers. Every call works from a greenlet (returns
its result) and from a coroutine on Puff's event loop (``asyncio = true``; returns an
awaitable). Without Redis the queue is in process; under ``--workers N`` with N > 1 such a queue refuses every call with
a ``puff.PuffError`` (each worker would have its own queue).
"""

from __future__ import annotations

import inspect
import sys
from typing import TYPE_CHECKING, Any, Callable, Literal, NamedTuple

from puff import PuffError, PuffNotRunningError, _native

if TYPE_CHECKING:
    from puff._native import _TaskQueueModule, _TaskQueueNative

__all__ = [
    "DEFAULT_KEEP_RESULTS_FOR_MS",
    "DEFAULT_TIMEOUT_MS",
    "TaskError",
    "TaskInfo",
    "TaskQueue",
    "current_task",
    "global_task_queue",
    "named_queue",
    "names",
]

DEFAULT_TIMEOUT_MS = 30 * 1000
DEFAULT_KEEP_RESULTS_FOR_MS = 5 * 60 * 1000

_native_tq: _TaskQueueModule | None = (
    getattr(_native, "task_queue", None) if _native is not None else None
)

if _native is not None and _native_tq is None:
    raise ImportError(
        "puff.task_queue needs the `tasks` feature, which this build of Puff does not "
        "include: rebuild with it enabled (e.g. `cargo build -p puff-cli --features tasks`)"
    )

if TYPE_CHECKING:  # the native class, as puff/_native.pyi describes it
    from puff._native import _TaskError as TaskError
elif _native_tq is not None:
    TaskError = _native_tq.TaskError
else:  # outside the runtime: importable for tools and type checkers

    class TaskError(PuffError):
        """The task raised (or could not run)."""

        task_id: str
        error_type: str
        message: str
        traceback: str


def _require_native() -> _TaskQueueModule:
    if _native_tq is None:
        raise PuffNotRunningError(
            "puff.task_queue works only inside the Puff runtime (`puff-cli`, or a Rust "
            "binary built on puff-core with the `tasks` feature)"
        )
    return _native_tq


def _function_path(func: Callable[..., Any]) -> str:
    """``module:name`` of a top-level function every worker can import, or a clear error."""
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if not callable(func) or not module or not qualname:
        raise TypeError(f"schedule_function needs a top-level function, not {type(func).__name__}")
    where = f"{module}.{qualname}"
    if "<lambda>" in qualname or "<locals>" in qualname or "." in qualname:
        raise ValueError(
            f"schedule_function needs an importable top-level function; {where} is a "
            "lambda, a nested function or a method, which other processes cannot import"
        )
    if module == "__main__":
        raise ValueError(
            f"schedule_function: {where} lives in __main__, which other processes cannot "
            "import; move it into a module"
        )
    found = getattr(sys.modules.get(module), qualname, None)
    if found is not func and getattr(found, "__wrapped__", None) is not func:
        raise ValueError(
            f"schedule_function: importing {where} does not give this function back; "
            "only importable top-level functions can be scheduled"
        )
    return f"{module}:{qualname}"


class TaskQueue:
    """One named queue. It is looked up on first use, so ``global_task_queue`` can be
    created outside the runtime."""

    def __init__(self, name: str = "default") -> None:
        self._name = name
        self._queue: _TaskQueueNative | None = None

    @property
    def _native(self) -> _TaskQueueNative:
        if self._queue is None:
            self._queue = _require_native().client(self._name)
        return self._queue

    @property
    def name(self) -> str:
        return self._name

    @property
    def backend(self) -> str:
        """``"redis"`` or ``"memory"`` (in process)."""
        return str(self._native.backend)

    @property
    def max_concurrent_tasks(self) -> int:
        """Tasks this process runs at once (0: it only schedules)."""
        return int(self._native.max_concurrent_tasks)

    def schedule_function(
        self,
        func: Callable[..., Any],
        payload: Any,
        scheduled_time_unix_ms: int | None = None,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        keep_results_for_ms: int = DEFAULT_KEEP_RESULTS_FOR_MS,
        max_retries: int | None = None,
        unique_key: str | None = None,
        transaction: Any = None,
    ) -> Any:
        """Queue ``func(payload)``; returns the task id (a str).

        ``scheduled_time_unix_ms``: run order and earliest start (default: now).
        ``timeout_ms``: without a result this long after a worker took it, the task runs
        again. ``keep_results_for_ms``: how long the result stays readable.
        ``max_retries``: reruns before it is dead-lettered (default: the queue's).
        ``unique_key``: while a queued or running task of this queue holds the key,
        nothing is queued and that task's id is returned.
        ``transaction``: a database connection (``puff.postgres``, ``puff.psycopg2``,
        Django's ``connection``): the task is written in its open transaction and runs
        only if that commits (docs/tasks.md, *Transactional enqueue*)."""
        path = _function_path(func)
        if inspect.iscoroutinefunction(func) and not self._native.has_event_loop:
            raise ValueError(
                f"{path} is an `async def` task, which needs Puff's event loop: set "
                "`asyncio = true` in puff.toml (RuntimeConfig::set_asyncio(true))"
            )
        if timeout_ms < 1:
            raise ValueError("timeout_ms must be at least 1")
        if keep_results_for_ms < 1:
            raise ValueError("keep_results_for_ms must be at least 1")
        if max_retries is not None and max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        if scheduled_time_unix_ms is not None and scheduled_time_unix_ms < 0:
            raise ValueError("scheduled_time_unix_ms must be 0 or more")
        if unique_key is not None and (not isinstance(unique_key, str) or not unique_key):
            raise ValueError("unique_key must be a non-empty str")
        if transaction is not None:
            if unique_key is not None:
                raise ValueError(
                    "unique_key cannot be combined with transaction= (the outbox relay "
                    "schedules the task by its id only)"
                )
            from puff._task_outbox import schedule_in_transaction

            return schedule_in_transaction(
                self._name,
                path,
                payload,
                scheduled_time_unix_ms,
                timeout_ms,
                keep_results_for_ms,
                max_retries,
                transaction,
            )
        return self._native.schedule(
            path,
            payload,
            scheduled_time_unix_ms,
            timeout_ms,
            keep_results_for_ms,
            max_retries,
            unique_key,
        )

    def task_result(self, task: str) -> Any:
        """The task's result; None until it finished. Raises :class:`TaskError` if it
        raised or ran out of retries."""
        return self._native.task_result(str(task))

    def wait_for_task_result(
        self, task: str, poll_interval_ms: int = 100, timeout_ms: int = 10_000
    ) -> Any:
        """Wait up to ``timeout_ms`` for the task's result, looking every
        ``poll_interval_ms`` (at once when it finishes in this process); None if it did
        not finish in time. Raises :class:`TaskError` like :meth:`task_result`."""
        return self._native.wait_for_task_result(
            str(task), max(1, int(poll_interval_ms)), max(0, int(timeout_ms))
        )

    def cancel(self, task: str) -> Any:
        """Keep a queued task from running (a running one from storing its result); False
        if it already finished or is unknown."""
        return self._native.cancel(str(task))

    def dead_letters(self, limit: int = 100) -> Any:
        """The newest ``limit`` tasks that ran out of retries: dicts with ``task_id``,
        ``function``, ``payload``, ``attempts``, ``reason`` and ``at_unix_ms``."""
        return self._native.dead_letters(int(limit))

    def counts(self) -> Any:
        """``{"queued": n, "running": n}`` over every worker of the queue."""
        return self._native.counts()

    def add_periodic(
        self,
        func: Callable[..., Any] | str,
        cron: str | None = None,
        every_ms: int | None = None,
        payload: Any = None,
        tz: str | None = None,
        catch_up: Literal["skip", "once", "all"] = "skip",
        name: str | None = None,
        *,
        catch_up_max: int = 100,
        grace_ms: int = 2000,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
        keep_results_for_ms: int = DEFAULT_KEEP_RESULTS_FOR_MS,
        max_retries: int | None = None,
    ) -> str:
        """Run ``func(payload)`` on a schedule, like a ``[[task_queue.periodic]]`` entry;
        returns the schedule's name. Give exactly one of ``cron`` (5 fields, or 6 with
        seconds first, in time zone ``tz``, default UTC) or ``every_ms`` (ticks at
        multiples of it since the unix epoch). The scheduler runs in this process; every
        process that adds a schedule of the same ``name`` (default: the function and its
        schedule) shares its ticks, each of which runs once. ``catch_up`` says what
        happens to ticks no process fired in time: ``"skip"`` them, run ``"once"`` for
        all of them, or ``"all"`` of them (the newest ``catch_up_max``). A tick fired up
        to ``grace_ms`` late is on time. Adding a name again replaces that schedule."""
        path = func if isinstance(func, str) else _function_path(func)
        if inspect.iscoroutinefunction(func) and not self._native.has_event_loop:
            raise ValueError(
                f"add_periodic: {path} is an `async def` task, which needs Puff's event "
                "loop: set `asyncio = true` in puff.toml"
            )
        for key, value in (
            ("every_ms", every_ms),
            ("catch_up_max", catch_up_max),
            ("timeout_ms", timeout_ms),
            ("keep_results_for_ms", keep_results_for_ms),
        ):
            if value is not None and value < 1:
                raise ValueError(f"add_periodic: `{key}` must be at least 1")
        if grace_ms < 0 or (max_retries is not None and max_retries < 0):
            raise ValueError("add_periodic: `grace_ms` and `max_retries` must be 0 or more")
        return str(
            self._native.add_periodic(
                path,
                cron,
                every_ms,
                payload,
                tz,
                catch_up,
                catch_up_max,
                grace_ms,
                name,
                timeout_ms,
                keep_results_for_ms,
                max_retries,
            )
        )

    def remove_periodic(self, name: str) -> bool:
        """Stop running schedule ``name`` in this process (other processes keep theirs);
        False if it does not run here."""
        return bool(self._native.remove_periodic(str(name)))

    def periodic_names(self) -> list[str]:
        """Names of the schedules running in this process (from puff.toml and
        :meth:`add_periodic`)."""
        return list(self._native.periodic_names())

    def periodic_task_id(self, name: str, tick_unix_ms: int) -> str:
        """The id of the task of schedule ``name``'s tick at ``tick_unix_ms`` (the same
        in every process), e.g. to read its result."""
        return str(self._native.periodic_task_id(str(name), int(tick_unix_ms)))

    def set_rate_limit(
        self, func: Callable[..., Any] | str, limit: int | None, period_ms: int = 1000
    ) -> None:
        """Start at most ``limit`` runs of ``func`` (a function or its ``module:function``
        path) per ``period_ms`` across all workers; ``limit=None`` lifts the limit. It
        applies to this process's claims: give every worker the same limits (the
        ``[[task_queue.rate_limit]]`` entries of a shared puff.toml do)."""
        path = func if isinstance(func, str) else _function_path(func)
        if limit is not None and limit < 1:
            raise ValueError("limit must be at least 1 (None lifts the limit)")
        if period_ms < 1:
            raise ValueError("period_ms must be at least 1")
        self._native.set_rate_limit(path, limit, int(period_ms))

    def rate_limits(self) -> dict[str, dict[str, int]]:
        """``{"module:function": {"limit": n, "period_ms": ms}}``: the limits this
        process's claims honour."""
        return dict(self._native.rate_limits())

    def __call__(self) -> TaskQueue:
        """``global_task_queue()`` and ``global_task_queue`` are the same queue."""
        return self

    def __repr__(self) -> str:
        return f"<puff.task_queue.TaskQueue {self._name!r}>"


class TaskInfo(NamedTuple):
    """The task running in the current greenlet or coroutine (:func:`current_task`)."""

    task_id: str
    function: str
    #: 1 for the first run, 2 for the first retry, ...
    attempt: int
    #: The tick a periodic task runs for (unix ms); None for other tasks.
    periodic_tick_unix_ms: int | None


def current_task() -> TaskInfo | None:
    """The task this code runs in, or None outside tasks."""
    if _native_tq is None:
        return None
    current = _native_tq._current_task.get(None)
    if current is None:
        return None
    task_id, function, attempt = current
    # Periodic tasks' ids are the tick in 12 hex digits, `p`, then the schedule's hash.
    tick = int(task_id[:12], 16) if len(task_id) == 26 and task_id[12] == "p" else None
    return TaskInfo(task_id, function, attempt, tick)


def named_queue(name: str = "default") -> TaskQueue:
    """The queue configured as ``[[task_queue]] name = "..."`` (``default`` always
    exists)."""
    queue = TaskQueue(name)
    if _native_tq is not None:
        queue._native  # noqa: B018 - fail now on an unknown name
    return queue


def names() -> list[str]:
    """Names of the configured queues."""
    return list(_require_native().names())


global_task_queue = TaskQueue("default")
