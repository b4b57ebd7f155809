"""Django on Puff.

- ``django = true`` in puff.toml runs a stock Django project on Puff's pools
  (``puff.contrib.django.runtime``: psycopg2 shim, greenlet-local connections).
- ``puff.contrib.django.cache.PuffRedisCache``: a cache backend on Puff's Redis pools.
- :func:`query_and_params`: a queryset as SQL and parameters for Puff's GraphQL layers.
- :func:`schedule_on_commit`: a task written in the current transaction of a Django
  database (``transaction.atomic()``), run only if it commits.

Needs Django installed; nothing here is imported by ``puff`` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["query_and_params", "schedule_on_commit"]


def query_and_params(queryset: Any, using: str | None = None) -> tuple[str, list[Any]]:
    """The SQL (with ``$1, $2, ...`` placeholders) and parameters of ``queryset``.

    Does no I/O: a GraphQL resolver returns them (``..., sql, params``) and Puff runs the
    query in Rust. A queryset that can match nothing (``filter(id__in=[])``) becomes a
    query with the same columns and no rows."""
    from django.core.exceptions import EmptyResultSet
    from django.db.models.sql.where import WhereNode

    from puff.postgres import convert_placeholders

    db = using or queryset.db
    try:
        sql, params = queryset.query.get_compiler(using=db).as_sql()
    except EmptyResultSet:
        query = queryset.query.clone()
        query.where = WhereNode()
        sql, params = query.get_compiler(using=db).as_sql()
        sql = f"SELECT * FROM ({sql}) AS puff_empty WHERE false"
    converted, _count = convert_placeholders(sql, False)
    return converted, list(params)


def schedule_on_commit(
    func: Callable[..., Any],
    payload: Any,
    *,
    using: str = "default",
    queue: str = "default",
    **options: Any,
) -> str:
    """Schedule ``func(payload)`` on the task queue ``queue`` inside the current
    transaction of Django's database ``using``; returns the task id.

    The task is written to the queue's Postgres outbox with Django's own connection, so
    it runs only if the surrounding ``transaction.atomic()`` block commits (outside one,
    Django autocommits and it is queued at once). ``options`` are
    ``schedule_function``'s (``timeout_ms``, ``max_retries``, ...). The same as
    ``named_queue(queue).schedule_function(func, payload,
    transaction=django.db.connections[using])``; see docs/tasks.md."""
    from django.db import connections

    from puff.task_queue import named_queue

    return str(
        named_queue(queue).schedule_function(
            func, payload, transaction=connections[using], **options
        )
    )
