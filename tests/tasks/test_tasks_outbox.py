"""Transactional enqueue: ``schedule_function(..., transaction=conn)`` writes the task in
``conn``'s transaction; it runs exactly once if that commits and never if it rolls back,
even when relays are killed with SIGKILL between the commit and the relay.

This process writes the tasks and runs them (puff.toml: the `outbox` queue with
``outbox_relay = false``); the relays are `wait-forever` processes on outbox-relay.toml,
which run no tasks, so a kill -9 interrupts only relaying (a task running in a killed
worker would run again, which is the queue's at-least-once retry, not the outbox's)."""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any

import puff
import pytest
import tasks_lib
from puff import postgres
from puff import psycopg2 as puff_psycopg2
from puff.task_queue import named_queue

Worker = Callable[..., subprocess.Popen[bytes]]
OUTBOX = named_queue("outbox")
RELAY = "outbox-relay.toml"


def connect(kind: str) -> Any:
    if kind == "psycopg2":
        return puff_psycopg2.connect(puff_pool="outbox")
    return postgres.connect("outbox")


def sql(statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement in its own committed transaction; its rows (if any)."""
    conn = postgres.connect("outbox")
    try:
        cur = conn.cursor()
        cur.execute(statement, params)
        rows = list(cur.fetchall()) if cur.description else []
        conn.commit()
        return rows
    finally:
        conn.close()


def waiting_rows(queue: str = "outbox") -> int:
    return int(sql("SELECT count(*) FROM puff_task_outbox WHERE queue = %s", (queue,))[0][0])


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        puff.sleep_ms(10)


def kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.fixture(scope="module", autouse=True)
def orders_table() -> None:
    """The caller's own data, written in the same transactions as the tasks."""
    sql("CREATE TABLE IF NOT EXISTS outbox_orders (run text, i int)")


def enqueue(run: str, i: int, kind: str, commit: bool) -> str:
    """One transaction of the caller: its own row, the task, then commit or roll back."""
    conn = connect(kind)
    try:
        cur = conn.cursor()
        cur.execute("INSERT INTO outbox_orders (run, i) VALUES (%s, %s)", (run, i))
        task = OUTBOX.schedule_function(
            tasks_lib.outbox_effect, {"run": run, "i": i}, transaction=conn
        )
        if commit:
            conn.commit()
        else:
            conn.rollback()
        return str(task)
    finally:
        conn.close()


BACKLOG_FROM = 10_000


def backlog(run: str, count: int) -> None:
    """One more transaction, committing `count` tasks numbered from BACKLOG_FROM."""
    conn = connect("psycopg2")
    try:
        for k in range(count):
            payload = {"run": run, "i": BACKLOG_FROM + k}
            OUTBOX.schedule_function(tasks_lib.outbox_effect, payload, transaction=conn)
        conn.commit()
    finally:
        conn.close()


def test_committed_tasks_run_exactly_once_through_relay_kills(start_worker: Worker) -> None:
    run = f"outbox:{uuid.uuid4().hex[:8]}"
    committed: dict[int, str] = {}
    rolled_back: dict[int, str] = {}
    kinds = ("postgres", "psycopg2")

    def transactions(numbers: range) -> None:
        for i in numbers:
            commit = i % 2 == 0
            task = enqueue(run, i, kinds[(i // 2) % 2], commit)
            (committed if commit else rolled_back)[i] = task

    ran = lambda: tasks_lib.OUTBOX_RUNS.get(run, [])  # noqa: E731
    # 1. No relay runs: the committed rows wait in the outbox, nothing runs.
    transactions(range(0, 40))
    assert waiting_rows() == 20
    puff.sleep_ms(300)
    assert ran() == []
    # 2. Relays killed with SIGKILL at different moments: while starting (nothing relayed
    #    yet), and as soon as tasks they relay start running here; transactions commit in
    #    between, some while no relay runs at all.
    for round_, delay_ms in enumerate((0, 400, 800, 1200, None)):
        if delay_ms is None:
            # A backlog that takes a while to relay, so the kill lands mid-relay.
            backlog(run, 2000)
            before = len(ran())
            relay = start_worker(RELAY)
            # Killed as soon as its first tasks reach the queue: usually before it commits
            # its first batch (the rows are then taken and scheduled, but not deleted).
            wait_until(
                lambda: sum(OUTBOX.counts().values()) > 0 or len(ran()) > before,
                60,
                "a relay to relay something",
            )
        else:
            relay = start_worker(RELAY)
            puff.sleep_ms(delay_ms)
        kill(relay)
        if delay_ms is None:
            # Killed mid-relay: its open transaction (rows taken, some already scheduled)
            # rolled back, so the rows are back for the next relay, which schedules the
            # same task ids again (a no-op for those already queued or finished).
            assert waiting_rows() > 0, "the relay finished before the kill"
        transactions(range(40 + round_ * 20, 60 + round_ * 20))
    # 3. Two relays at once while the last transactions commit; one killed midway.
    first, second = start_worker(RELAY), start_worker(RELAY)
    transactions(range(140, 170))
    kill(first)
    transactions(range(170, 200))
    assert len(committed) == 100
    expected = [*sorted(committed), *range(BACKLOG_FROM, BACKLOG_FROM + 2000)]
    wait_until(lambda: set(ran()) >= set(expected), 120, "the committed tasks to run")
    wait_until(lambda: waiting_rows() == 0, 60, "the outbox to empty")
    # Anything relayed twice would be queued by now and run within a poll of the queue.
    puff.sleep_ms(1500)
    counts = collections.Counter(ran())
    assert sorted(counts) == expected, "exactly the committed tasks ran"
    assert [i for i, n in counts.items() if n != 1] == [], "each of them once"
    for i, task in committed.items():
        assert OUTBOX.task_result(task) == i
    assert len(rolled_back) == 100
    assert [i for i, task in rolled_back.items() if OUTBOX.task_result(task) is not None] == []
    assert not OUTBOX.cancel(next(iter(rolled_back.values()))), "the queue never knew it"
    orders = sql("SELECT i FROM outbox_orders WHERE run = %s ORDER BY i", (run,))
    assert [r[0] for r in orders] == sorted(committed), "the caller's rows committed alike"
    assert OUTBOX.counts() == {"queued": 0, "running": 0}
    kill(second)


def test_a_task_relayed_again_after_it_ran_does_not_run_twice(start_worker: Worker) -> None:
    """A relay that schedules a batch and dies before its commit leaves the rows for the
    next relay: the second hand-over of the same task id must be a no-op."""
    run = f"again:{uuid.uuid4().hex[:8]}"
    relay = start_worker(RELAY)
    task = enqueue(run, 1, "postgres", commit=True)
    assert OUTBOX.wait_for_task_result(task, 20, 60_000) == 1
    # The row as the dead relay left it: same task id, back in the outbox.
    _, statement, params = puff._native.task_queue.outbox_statement(
        "outbox", "tasks_lib:outbox_effect", {"run": run, "i": 1}, None, 30_000, 300_000, None
    )
    sql(statement, (params[0], task, *params[2:]))
    wait_until(lambda: waiting_rows() == 0, 30, "the relay to take the row again")
    puff.sleep_ms(1000)
    assert tasks_lib.OUTBOX_RUNS[run] == [1]
    kill(relay)


def test_an_in_process_queue_relays_each_task_once() -> None:
    """The in-process backend: this process relays (puff.toml) and runs the task; the
    same row relayed again is a no-op there too."""
    queue = named_queue("outbox_memory")
    assert queue.backend == "memory"
    run = f"memory:{uuid.uuid4().hex[:8]}"
    conn = connect("psycopg2")
    try:
        task = queue.schedule_function(
            tasks_lib.outbox_effect, {"run": run, "i": 1}, transaction=conn
        )
        conn.commit()
    finally:
        conn.close()
    assert queue.wait_for_task_result(task, 20, 30_000) == 1
    _, statement, params = puff._native.task_queue.outbox_statement(
        "outbox_memory",
        "tasks_lib:outbox_effect",
        {"run": run, "i": 1},
        None,
        30_000,
        300_000,
        None,
    )
    sql(statement, (params[0], task, *params[2:]))
    wait_until(lambda: waiting_rows("outbox_memory") == 0, 30, "the relay to take the row again")
    puff.sleep_ms(500)
    assert tasks_lib.OUTBOX_RUNS[run] == [1]


def test_the_table_is_created_on_first_use_by_concurrent_callers() -> None:
    """32 greenlets enqueue at once on a database without the table (the relay of this
    process waits for it): one creates it, none fails, every task runs once."""
    admin = postgres.connect("outbox")
    admin.autocommit = True
    try:
        admin.cursor().execute("CREATE DATABASE outbox_fresh")
    finally:
        admin.close()
    queue = named_queue("outbox_fresh")
    run = f"fresh:{uuid.uuid4().hex[:8]}"

    def first_use(i: int) -> str:
        conn = postgres.connect("outbox_fresh")
        try:
            task = queue.schedule_function(
                tasks_lib.outbox_effect, {"run": run, "i": i}, transaction=conn
            )
            conn.commit()
            return str(task)
        finally:
            conn.close()

    tasks = [h.join() for h in [puff.spawn(first_use, i) for i in range(32)]]
    for i, task in enumerate(tasks):
        assert queue.wait_for_task_result(task, 20, 30_000) == i
    assert sorted(tasks_lib.OUTBOX_RUNS[run]) == list(range(32))


def test_a_lost_notification_is_covered_by_the_poll(start_worker: Worker) -> None:
    """A row committed without its NOTIFY (as if the relay was reconnecting when it was
    sent) is found by the relay's poll (poll_interval_ms = 200 in outbox-relay.toml)."""
    run = f"lost:{uuid.uuid4().hex[:8]}"
    relay = start_worker(RELAY)
    # Once this task ran, the relay has made its first pass and waits (NOTIFY or poll).
    first = enqueue(run, 6, "postgres", commit=True)
    assert OUTBOX.wait_for_task_result(first, 20, 30_000) == 6
    task, statement, params = puff._native.task_queue.outbox_statement(
        "outbox", "tasks_lib:outbox_effect", {"run": run, "i": 7}, None, 30_000, 300_000, None
    )
    # The enqueue statement without its pg_notify.
    insert = statement.split("RETURNING")[0].replace("WITH queued AS (", "")
    assert "pg_notify" not in insert
    sql(insert, params)
    assert OUTBOX.wait_for_task_result(task, 20, 30_000) == 7
    assert tasks_lib.OUTBOX_RUNS[run] == [6, 7]
    kill(relay)


def test_autocommit_connections_enqueue_at_once(start_worker: Worker) -> None:
    run = f"auto:{uuid.uuid4().hex[:8]}"
    relay = start_worker(RELAY)
    conn = postgres.connect("outbox")
    conn.autocommit = True
    try:
        task = OUTBOX.schedule_function(
            tasks_lib.outbox_effect, {"run": run, "i": 3}, transaction=conn
        )
    finally:
        conn.close()
    assert OUTBOX.wait_for_task_result(task, 20, 30_000) == 3
    kill(relay)


def test_transaction_must_be_a_connection() -> None:
    with pytest.raises(TypeError, match="takes an open database connection.*got str"):
        OUTBOX.schedule_function(tasks_lib.outbox_effect, {}, transaction="default")
    conn = postgres.connect("outbox")
    try:
        with pytest.raises(TypeError, match="looks like a cursor: pass its connection"):
            OUTBOX.schedule_function(tasks_lib.outbox_effect, {}, transaction=conn.cursor())
        # A queue without an outbox (no `outbox_postgres`, no `default` Postgres pool).
        with pytest.raises(ValueError, match="task queue `remote` has no outbox"):
            named_queue("remote").schedule_function(tasks_lib.outbox_effect, {}, transaction=conn)
        # The relay schedules by task id only, so a unique_key could not be honoured.
        with pytest.raises(ValueError, match="unique_key cannot be combined with transaction="):
            OUTBOX.schedule_function(
                tasks_lib.outbox_effect, {}, unique_key="once", transaction=conn
            )
        assert not conn.in_transaction, "nothing ran on the connection"
    finally:
        conn.close()


def test_a_connection_to_another_database_is_a_clear_error() -> None:
    """The outbox lives in the database of the queue's `outbox_postgres` pool; a
    connection to another database has no such table."""
    admin = postgres.connect("outbox")
    admin.autocommit = True
    try:
        cur = admin.cursor()
        cur.execute("SELECT 1 FROM pg_database WHERE datname = 'outbox_elsewhere'")
        if not cur.fetchall():
            cur.execute("CREATE DATABASE outbox_elsewhere")
    finally:
        admin.close()
    conn = postgres.connect("outbox", database="outbox_elsewhere")
    try:
        with pytest.raises(
            RuntimeError, match="this connection's database has no puff_task_outbox"
        ):
            OUTBOX.schedule_function(tasks_lib.outbox_effect, {}, transaction=conn)
        conn.rollback()
    finally:
        conn.close()


def test_django_transactions(start_worker: Worker, monkeypatch: pytest.MonkeyPatch) -> None:
    """Django's own connection (on Puff's psycopg2 shim): a task scheduled inside
    ``transaction.atomic()`` runs if the block commits, never if it raises."""
    from puff.contrib.django.runtime import install_psycopg2

    # As `django = true` does with `asyncio = true`: greenlets are not async code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    install_psycopg2()
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DATABASES={
                "default": {
                    "ENGINE": "django.db.backends.postgresql",
                    "NAME": postgres.pool_database("outbox"),
                    "OPTIONS": {"puff_pool": "outbox"},
                }
            },
            USE_TZ=True,
        )
        django.setup()
    from django.db import connection, transaction

    from puff.contrib.django import schedule_on_commit

    run = f"django:{uuid.uuid4().hex[:8]}"
    relay = start_worker(RELAY)
    with transaction.atomic():
        kept = schedule_on_commit(
            tasks_lib.outbox_effect, {"run": run, "i": 1}, queue="outbox", max_retries=0
        )
    with pytest.raises(RuntimeError, match="changed my mind"), transaction.atomic():
        OUTBOX.schedule_function(
            tasks_lib.outbox_effect, {"run": run, "i": 2}, transaction=connection
        )
        raise RuntimeError("changed my mind")
    assert OUTBOX.wait_for_task_result(kept, 20, 30_000) == 1
    wait_until(lambda: waiting_rows() == 0, 30, "the outbox to empty")
    puff.sleep_ms(500)
    assert tasks_lib.OUTBOX_RUNS[run] == [1]
    connection.close()
    kill(relay)


def test_outbox_metrics(start_worker: Worker, monkeypatch: pytest.MonkeyPatch) -> None:
    """A relay's /metrics: the rows it relayed, their lag, the rows waiting."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("PUFF_METRICS_BIND", f"127.0.0.1:{port}")
    relay = start_worker(RELAY)
    run = f"metrics:{uuid.uuid4().hex[:8]}"
    tasks = [enqueue(run, i, "postgres", commit=True) for i in range(5)]
    for i, task in enumerate(tasks):
        assert OUTBOX.wait_for_task_result(task, 20, 30_000) == i

    def scrape() -> dict[str, float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
        return {
            line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("puff_task_outbox")
        }

    labels = '{queue="outbox"}'
    # The waiting gauge is sampled about once a second.
    wait_until(lambda: scrape().get(f"puff_task_outbox_waiting{labels}") == 0, 10, "a sample")
    found = scrape()
    assert found[f"puff_task_outbox_relayed_total{labels}"] == 5
    assert found[f"puff_task_outbox_lag_seconds_count{labels}"] == 5
    assert 0 < found[f"puff_task_outbox_lag_seconds_sum{labels}"] < 60
    assert found['puff_task_outbox_lag_seconds_bucket{le="300.0",queue="outbox"}'] == 5
    kill(relay)


def test_the_relay_outlives_a_postgres_restart(start_worker: Worker) -> None:
    """Last in this file: it restarts the outbox's Postgres under a running relay, which
    reconnects (logging the outage once) and relays what was committed meanwhile."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "postgres"))
    from pg_server import PgServer

    server = PgServer.from_env()
    run = f"restart:{uuid.uuid4().hex[:8]}"
    relay = start_worker(RELAY)
    first = enqueue(run, 1, "postgres", commit=True)
    assert OUTBOX.wait_for_task_result(first, 20, 30_000) == 1
    server.stop()
    puff.sleep_ms(1500)
    server.start()
    # Longer than the pool's idle recheck (1 s): this process's connections are checked
    # before reuse and replaced.
    puff.sleep_ms(1500)
    second = enqueue(run, 2, "psycopg2", commit=True)
    assert OUTBOX.wait_for_task_result(second, 20, 60_000) == 2
    assert tasks_lib.OUTBOX_RUNS[run] == [1, 2]
    with open(os.readlink(f"/proc/{relay.pid}/fd/1"), errors="replace") as f:
        log = f.read()
    kill(relay)
    assert log.count("the outbox relay stopped") == 1, log
    assert log.count("the outbox relay is back") == 1, log
