"""The metrics mix test's app: WSGI views that run SQL through puff.postgres, schedule
tasks and wait for them, and publish on pub/sub to subscribers it holds; and a GraphQL
schema whose queries run one SQL statement per layer."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import puff.postgres
from puff.pubsub import PubSubConnection, global_pubsub
from puff.task_queue import TaskError, global_task_queue

CHANNEL = "metrics-mix"
# The subscribers /pubsub/ready creates; held for the server's life.
SUBSCRIBERS: list[PubSubConnection] = []


def double(payload: int) -> int:
    return payload * 2


def fail(payload: int) -> int:
    raise ValueError(f"task failed on purpose ({payload})")


@dataclass
class Divisor:
    number: int
    divisor: int


@dataclass
class Number:
    n: int

    @classmethod
    def divisors(
        cls, context: Any, /
    ) -> tuple[list[Divisor], str, list[Any], list[str], list[str]]:
        numbers = [row[0] for row in context.parent_values(["n"])]
        sql = (
            "SELECT n AS number, d AS divisor FROM unnest($1::int[]) AS n, "
            "generate_series(1, n) AS d WHERE n % d = 0 ORDER BY n, d"
        )
        return ..., sql, [numbers], ["n"], ["number"]


@dataclass
class Query:
    @classmethod
    def numbers(cls, context: Any, /) -> tuple[list[Number], str, list[Any]]:
        return ..., "SELECT g AS n FROM generate_series(1, $1::int) AS g", [4]

    @classmethod
    def broken(cls, context: Any, /) -> int:
        raise RuntimeError("the resolver failed on purpose")


@dataclass
class Mutation:
    @classmethod
    def touch(cls, context: Any, /) -> int:
        return 1


@dataclass
class Schema:
    query: Query
    mutation: Mutation


def run_sql(statements: int) -> list[Any]:
    conn = puff.postgres.connect()
    try:
        cursor = conn.cursor()
        rows = []
        for n in range(statements):
            cursor.execute("SELECT %s::int", (n,))
            rows.append(cursor.fetchone()[0])
        conn.commit()
        return rows
    finally:
        conn.close()


def run_tasks(ok: int, failing: int) -> dict[str, int]:
    ids = [global_task_queue.schedule_function(double, n) for n in range(ok)]
    ids += [global_task_queue.schedule_function(fail, n) for n in range(failing)]
    outcome = {"ok": 0, "error": 0}
    for task in ids:
        try:
            global_task_queue.wait_for_task_result(task, timeout_ms=30_000)
            outcome["ok"] += 1
        except TaskError:
            outcome["error"] += 1
    return outcome


def subscribe_until_ready(subscribers: int) -> int:
    """Subscribes `subscribers` connections and publishes until each received a message,
    so that the Redis subscriber connection is up; returns the messages published."""
    for _ in range(subscribers):
        conn = global_pubsub.connection()
        conn.subscribe(CHANNEL)
        SUBSCRIBERS.append(conn)
    published = 0
    waiting = list(SUBSCRIBERS)
    while waiting:
        global_pubsub.publish(CHANNEL, "ready")
        published += 1
        waiting = [c for c in waiting if c.receive(timeout_ms=200) is None]
    for conn in SUBSCRIBERS:  # drain the pings some received more than once
        while conn.receive(timeout_ms=50) is not None:
            pass
    return published


def publish_and_receive(messages: int) -> int:
    for n in range(messages):
        global_pubsub.publish(CHANNEL, f"message {n}")
    received = 0
    for conn in SUBSCRIBERS:
        for _ in range(messages):
            if conn.receive(timeout_ms=10_000) is not None:
                received += 1
    return received


def schedule_later(count: int) -> int:
    """Schedule ``count`` tasks an hour from now: they stay queued."""
    import time

    later = int(time.time() * 1000) + 3_600_000
    for n in range(count):
        global_task_queue.schedule_function(double, n, scheduled_time_unix_ms=later)
    return count


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    query = {k: int(v[0]) for k, v in parse_qs(environ["QUERY_STRING"]).items()}
    body: Any
    if path == "/ok":
        body = "ok"
    elif path == "/boom":
        raise RuntimeError("the view failed on purpose")
    elif path == "/sql":
        body = run_sql(query["statements"])
    elif path == "/tasks":
        body = run_tasks(query["ok"], query["failing"])
    elif path == "/tasks/later":
        body = schedule_later(query["count"])
    elif path == "/pubsub/ready":
        body = subscribe_until_ready(query["subscribers"])
    elif path == "/pubsub/send":
        body = publish_and_receive(query["messages"])
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]
