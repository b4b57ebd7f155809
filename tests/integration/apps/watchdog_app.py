"""WSGI app for the blocked-thread detector tests: a view and a task that hold the Python
thread without yielding, and an ordinary view. Lines marked ``# held here`` are the ones
the detector's warning must name."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from puff.task_queue import global_task_queue


def spin_task(payload: dict[str, Any]) -> int:
    """A task that keeps the CPU busy (no I/O, no yielding) for ``payload["seconds"]``."""
    end = time.monotonic() + payload["seconds"]
    turns = 0
    while time.monotonic() < end:  # held here
        turns += 1
    return turns


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/sleep":
        time.sleep(0.5)  # held here
        body = b"slept"
    elif path == "/spin-task":
        task = global_task_queue.schedule_function(spin_task, {"seconds": 0.5})
        body = str(task).encode()
    else:
        body = b"hello"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
