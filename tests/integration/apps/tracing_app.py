"""The tracing tests' app: a GraphQL schema with two layers whose root resolver runs a
Redis command and schedules a task, and a WSGI app showing `puff.trace_context()` and
calling another server with `puff.http`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import puff


def context_fields() -> dict[str, str] | None:
    ctx = puff.trace_context()
    if ctx is None:
        return None
    return {"trace_id": ctx.trace_id, "span_id": ctx.span_id, "traceparent": ctx.traceparent}


def remember_trace(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The scheduled task: what trace it runs in, also stored in Redis."""
    from puff.redis import global_redis

    fields = context_fields()
    global_redis.set("tracing-test:task", json.dumps(fields))
    return fields


@dataclass
class Item:
    owner: int
    label: str


@dataclass
class Group:
    id: int

    @classmethod
    def items(cls, context: Any, /) -> tuple[list[Item], list[Item], list[str], list[str]]:
        ids = [row[0] for row in context.parent_values(["id"])]
        return ..., [Item(owner=i, label=f"item-{i}") for i in ids], ["id"], ["owner"]


@dataclass
class Query:
    @classmethod
    def groups(cls, context: Any, /) -> tuple[list[Group], str, list[Any]]:
        from puff.redis import global_redis
        from puff.task_queue import global_task_queue

        global_redis.set("tracing-test:seen", "secret-value")
        global_task_queue.schedule_function(remember_trace, {"n": 1})
        return ..., "SELECT g AS id FROM generate_series(1, $1::int) AS g", [2]


@dataclass
class Schema:
    query: Query


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """`/context`: the request's trace context, here and in a `puff.spawn`ed greenlet;
    `/call?url=...`: GET `url` with puff.http."""
    path = environ["PATH_INFO"]
    if path == "/context":
        spawned = puff.spawn(context_fields).join()
        body: Any = {"here": context_fields(), "spawned": spawned}
    elif path == "/call":
        from puff.http import global_http_client

        url = parse_qs(environ["QUERY_STRING"])["url"][0]
        response = global_http_client.get(url)
        body = {"status": response.status, "here": context_fields()}
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]
