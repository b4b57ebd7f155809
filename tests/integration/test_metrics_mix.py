"""The metrics add up: one server on a private Postgres and Redis with `metrics_bind`
gets a known mix of HTTP requests (some failing), SQL through puff.postgres, tasks (some
raising), GraphQL operations (some invalid or failing) and pub/sub messages; the counters
scraped from /metrics afterwards, less those scraped before, equal what was sent.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_metrics import Samples, scrape, total

from puffserver import (
    APPS_DIR,
    HOST,
    PuffServer,
    free_port,
    private_postgres,
    private_redis,
    wait_until,
)

SCHEMA = "default"
QUEUE = "default"
PUBSUB = "default"
NUMBERS = "{ numbers { n divisors { divisor } } }"
# (query, HTTP status, operation type, errors in the response, SQL statements).
GRAPHQL = [
    (NUMBERS, 200, "query", 0, 2),
    (NUMBERS, 200, "query", 0, 2),
    (NUMBERS, 200, "query", 0, 2),
    ("{ broken }", 200, "query", 1, 0),
    ("mutation { touch }", 200, "mutation", 0, 0),
    ("{ no_such_field }", 400, "unknown", 1, None),
]
# (path, status, times) of the WSGI views.
VIEWS = [
    ("/ok", 200, 5),
    ("/boom", 500, 2),
    ("/missing", 404, 1),
    ("/sql?statements=2", 200, 3),
]
TASKS_OK, TASKS_FAILING = 4, 2
SUBSCRIBERS, MESSAGES = 2, 3


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PuffServer, int]]:
    folder = tmp_path_factory.mktemp("metrics_mix")
    metrics_port = free_port()
    config = folder / "puff.toml"
    config.write_text(
        f"""
wsgi = "metrics_mix_app.app"
python_path = [{json.dumps(str(APPS_DIR))}]
access_log = false
metrics_bind = "{HOST}:{metrics_port}"

[[postgres]]
name = "default"

[[redis]]
name = "default"

[[task_queue]]
name = "{QUEUE}"

[[pubsub]]
name = "{PUBSUB}"

[[graphql]]
name = "{SCHEMA}"
schema = "metrics_mix_app.Schema"
url = "/graphql"
"""
    )
    with private_postgres() as postgres, private_redis() as redis:
        env = {"PUFF_DEFAULT_POSTGRES_URL": postgres.url, "PUFF_DEFAULT_REDIS_URL": redis.url}
        server = PuffServer("metrics_mix", config, Path(folder), env=env)
        try:
            server.start()
            yield server, metrics_port
        finally:
            server.stop()


def get_json(server: PuffServer, path: str) -> Any:
    result = server.get(path)
    assert result.status == 200, result.describe()
    return result.json()


def scrape_once_counted(metrics_port: int, requests: int) -> Samples:
    """A scrape taken once `requests` HTTP requests are counted: a request is counted as
    its response ends, which can be just after the client read it."""
    samples: list[Samples] = []

    def counted() -> bool:
        samples.append(scrape(metrics_port))
        return total(samples[-1], "puff_http_requests_total") >= requests

    def counts() -> str:
        found = {k: v for k, v in samples[-1].items() if k[0] == "puff_http_requests_total"}
        return f"fewer than {requests} requests counted: {found}"

    wait_until(counted, counts)
    return samples[-1]


def delta(after: Samples, before: Samples, name: str, **labels: str) -> float:
    return total(after, name, **labels) - total(before, name, **labels)


def test_scraped_counters_equal_what_was_sent(server: tuple[PuffServer, int]) -> None:
    puff, metrics_port = server
    assert get_json(puff, f"/pubsub/ready?subscribers={SUBSCRIBERS}") >= 1
    before = scrape_once_counted(metrics_port, 1)
    sent: Counter[tuple[str, str]] = Counter()  # (method, status) of every request

    for path, status, times in VIEWS:
        for _ in range(times):
            result = puff.get(path)
            assert result.status == status, result.describe()
            sent[("GET", str(status))] += 1
    assert get_json(puff, f"/tasks?ok={TASKS_OK}&failing={TASKS_FAILING}") == {
        "ok": TASKS_OK,
        "error": TASKS_FAILING,
    }
    assert get_json(puff, f"/pubsub/send?messages={MESSAGES}") == SUBSCRIBERS * MESSAGES
    sent[("GET", "200")] += 2  # /tasks and /pubsub/send
    for query, status, _, errors, _ in GRAPHQL:
        body = json.dumps({"query": query}).encode()
        result = puff.post("/graphql", body, headers=[("Content-Type", "application/json")])
        assert result.status == status, result.describe()
        assert len(result.json().get("errors", [])) == errors, result.describe()
        if query == NUMBERS:  # both layers' SQL ran
            four = {"n": 4, "divisors": [{"divisor": 1}, {"divisor": 2}, {"divisor": 4}]}
            assert result.json()["data"]["numbers"][3] == four, result.describe()
        sent[("POST", str(status))] += 1

    after = scrape_once_counted(metrics_port, 1 + sum(sent.values()))

    # HTTP: every request by method and status.
    for (method, status), times in sent.items():
        got = delta(after, before, "puff_http_requests_total", method=method, status=status)
        assert got == times, (method, status, got, times)
    assert delta(after, before, "puff_http_requests_total") == sum(sent.values())

    # Postgres: one checkout per /sql request (its statements share a transaction) and
    # per GraphQL operation that ran SQL (its layers share the request's connection).
    sql_requests = sum(times for path, _, times in VIEWS if path.startswith("/sql"))
    graphql_with_sql = sum(1 for *_, statements in GRAPHQL if statements)
    pool = {"service": "postgres", "pool": "default"}
    checkouts = delta(after, before, "puff_pool_checkout_wait_seconds_count", **pool)
    assert checkouts == sql_requests + graphql_with_sql

    # Tasks: scheduled, run by function and outcome, timed, none left running.
    queue = {"queue": QUEUE}
    assert delta(after, before, "puff_task_scheduled_total", **queue) == TASKS_OK + TASKS_FAILING
    runs = "puff_task_runs_total"
    ok = delta(after, before, runs, function="metrics_mix_app:double", outcome="ok", **queue)
    failed = delta(after, before, runs, function="metrics_mix_app:fail", outcome="error", **queue)
    assert (ok, failed) == (TASKS_OK, TASKS_FAILING)
    assert delta(after, before, runs) == TASKS_OK + TASKS_FAILING
    durations = delta(after, before, "puff_task_duration_seconds_count", **queue)
    assert durations == TASKS_OK + TASKS_FAILING
    assert total(after, "puff_task_running", **queue) == 0
    assert delta(after, before, "puff_task_retried_total") == 0
    assert delta(after, before, "puff_task_dead_lettered_total") == 0

    # GraphQL: operations by type and outcome, errors, statements per operation.
    schema = {"schema": SCHEMA}
    operations: Counter[tuple[str, str]] = Counter()
    for _, _, kind, errors, _ in GRAPHQL:
        operations[(kind, "error" if errors else "ok")] += 1
    for (kind, outcome), times in operations.items():
        got = delta(
            after, before, "puff_graphql_operations_total", type=kind, outcome=outcome, **schema
        )
        assert got == times, (kind, outcome, got, times)
    assert delta(after, before, "puff_graphql_operations_total") == len(GRAPHQL)
    errors_sent = sum(errors for _, _, _, errors, _ in GRAPHQL)
    assert delta(after, before, "puff_graphql_errors_total", **schema) == errors_sent
    executed = [statements for *_, statements in GRAPHQL if statements is not None]
    histogram = "puff_graphql_statements_per_operation"
    assert delta(after, before, f"{histogram}_count", **schema) == len(executed)
    assert delta(after, before, f"{histogram}_sum", **schema) == sum(executed)
    for bound in ("0.0", "1.0", "2.0"):
        got = delta(after, before, f"{histogram}_bucket", le=bound, type="query", **schema)
        wanted = sum(
            1
            for _, _, kind, _, statements in GRAPHQL
            if kind == "query" and statements is not None and statements <= float(bound)
        )
        assert got == wanted, (bound, got, wanted)
    timed = delta(after, before, "puff_graphql_operation_duration_seconds_count", **schema)
    assert timed == len(GRAPHQL)

    # Pub/sub: every message published once and queued for each subscriber.
    instance = {"pubsub": PUBSUB}
    assert delta(after, before, "puff_pubsub_published_total", **instance) == MESSAGES
    delivered = delta(after, before, "puff_pubsub_delivered_total", **instance)
    assert delivered == MESSAGES * SUBSCRIBERS
    assert delta(after, before, "puff_pubsub_dropped_total", **instance) == 0
    assert total(after, "puff_pubsub_subscriptions", **instance) == SUBSCRIBERS


def test_queued_tasks_are_sampled(server: tuple[PuffServer, int]) -> None:
    puff, metrics_port = server
    queue = {"queue": QUEUE}
    wait_until(  # the mix's tasks ran; a sample taken before that may still show them
        lambda: total(scrape(metrics_port), "puff_task_queued", **queue) == 0,
        "queued tasks before scheduling any",
        timeout=10,
    )
    assert get_json(puff, "/tasks/later?count=3") == 3
    wait_until(
        lambda: total(scrape(metrics_port), "puff_task_queued", **queue) == 3,
        lambda: f"queued: {total(scrape(metrics_port), 'puff_task_queued', **queue)}",
        timeout=10,
    )
