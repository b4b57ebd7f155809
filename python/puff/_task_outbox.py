"""``schedule_function(..., transaction=conn)``: the task is written to the outbox table
``puff_task_outbox`` with ``conn`` itself, inside its open transaction, so it exists only
if that transaction commits; a relay in the Puff processes moves committed rows into the
queue (see docs/tasks.md, *Transactional enqueue*).

``conn`` is any DB-API connection to the outbox's database with ``%s`` parameters: a
``puff.postgres`` or ``puff.psycopg2`` connection, Django's ``connection`` (or
``connections[alias]``), psycopg2's own. In autocommit mode the row commits at once, like
any other statement on that connection.
"""

from __future__ import annotations

from typing import Any

from puff import PuffNotRunningError, _native

__all__ = ["schedule_in_transaction"]

_UNDEFINED_TABLE = "42P01"


def _connection_error(transaction: Any) -> TypeError:
    kind = type(transaction).__name__
    hint = ""
    if callable(getattr(transaction, "execute", None)):
        hint = " (this looks like a cursor: pass its connection)"
    return TypeError(
        "schedule_function(transaction=...) takes an open database connection whose "
        "transaction the task joins: a puff.postgres or puff.psycopg2 connection, or "
        f"Django's `connection`; got {kind}{hint}"
    )


def schedule_in_transaction(
    queue: str,
    function_path: str,
    payload: Any,
    scheduled_time_unix_ms: int | None,
    timeout_ms: int,
    keep_results_for_ms: int,
    max_retries: int | None,
    transaction: Any,
) -> str:
    """Write the task into ``transaction``'s open transaction; returns its id."""
    new_cursor = getattr(transaction, "cursor", None)
    if not callable(new_cursor) or isinstance(transaction, (str, bytes)):
        raise _connection_error(transaction)
    native = getattr(_native, "task_queue", None) if _native is not None else None
    statement = getattr(native, "outbox_statement", None)
    if statement is None:
        if native is None:
            raise PuffNotRunningError("puff.task_queue works only inside the Puff runtime")
        raise RuntimeError(
            "schedule_function(transaction=) needs a build of Puff with the `postgres` "
            "feature as well as `tasks`"
        )
    task_id, sql, params = statement(
        queue,
        function_path,
        payload,
        scheduled_time_unix_ms,
        timeout_ms,
        keep_results_for_ms,
        max_retries,
    )
    cursor = new_cursor()
    try:
        cursor.execute(sql, params)
    except Exception as err:
        code = getattr(err, "pgcode", None) or getattr(
            getattr(err, "__cause__", None), "pgcode", None
        )
        if (
            code == _UNDEFINED_TABLE
            or "puff_task_outbox" in str(err)
            and "does not exist" in str(err)
        ):
            raise RuntimeError(
                f"task queue `{queue}`: this connection's database has no puff_task_outbox "
                "table; the connection must reach the database of the queue's "
                "`outbox_postgres` pool (where Puff creates it), or apply the migration "
                "of docs/tasks.md there"
            ) from err
        raise
    finally:
        cursor.close()
    return str(task_id)
