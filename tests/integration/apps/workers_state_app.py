"""WSGI app for test_workers_state.py: pub/sub and task queue calls from one of N workers.

Every answer is JSON and carries the worker's pid, so a test can tell the workers apart.
A failing call answers 500 with the exception's class and message.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from puff.pubsub import global_pubsub
from puff.task_queue import global_task_queue

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]

LISTEN_TIMEOUT_MS = 20_000


def add_one(payload: dict[str, int]) -> int:
    """The task the tests schedule."""
    return payload["n"] + 1


def _publish(query: dict[str, str]) -> dict[str, object]:
    """Publish this worker's pid on ``channel``."""
    global_pubsub.publish(query["channel"], str(os.getpid()))
    return {}


def _connect(query: dict[str, str]) -> dict[str, object]:
    with global_pubsub.connection() as conn:
        return {"connection_id": conn.connection_id}


def _listen(query: dict[str, str]) -> dict[str, object]:
    """Subscribe to ``channel`` and answer with the first message another worker sent."""
    with global_pubsub.connection() as conn:
        conn.subscribe(query["channel"])
        while True:
            message = conn.receive(LISTEN_TIMEOUT_MS)
            if message is None:
                return {"from_pid": None}
            if message.text != str(os.getpid()):
                return {"from_pid": int(message.text)}


def _schedule(query: dict[str, str]) -> dict[str, object]:
    task = global_task_queue.schedule_function(add_one, {"n": int(query.get("n", "1"))})
    return {"result": global_task_queue.wait_for_task_result(task, 10, 10_000)}


ROUTES: dict[str, Callable[[dict[str, str]], dict[str, object]]] = {
    "/ping": lambda query: {},
    "/publish": _publish,
    "/connect": _connect,
    "/listen": _listen,
    "/schedule": _schedule,
}


def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    route = ROUTES.get(environ["PATH_INFO"])
    status = "200 OK"
    if route is None:
        status, payload = "404 Not Found", {}
    else:
        try:
            payload = route(query)
        except Exception as exc:  # the test reads what the caller would see
            status = "500 Internal Server Error"
            kind = type(exc)
            payload = {"error_type": f"{kind.__module__}.{kind.__qualname__}", "error": str(exc)}
    payload["pid"] = os.getpid()
    body = json.dumps(payload).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
