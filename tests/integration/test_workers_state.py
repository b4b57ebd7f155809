"""State that lives in one process does not fail silently under ``--workers N``.

With two workers and no Redis, in-process pub/sub and the in-process task queue refuse at
first use with a message naming the keys to set; declared explicitly in puff.toml they
also warn at start. On a ``[[redis]]`` pool both span the workers: a message published in
one worker reaches a subscriber in the other.
"""

from __future__ import annotations

import concurrent.futures
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from puffserver import APPS_DIR, HttpResult, PuffServer, private_redis, serving, wait_until

WORKERS = ("--workers", "2")
REFUSAL = "runs in process, but Puff runs 2 worker processes"


def _serve(
    name: str, tmp_path_factory: pytest.TempPathFactory, env: dict[str, str] | None = None
) -> Iterator[PuffServer]:
    log_dir = tmp_path_factory.mktemp(name)
    yield from serving(
        PuffServer(name, APPS_DIR / f"{name}.toml", log_dir, env=env, extra_args=WORKERS)
    )


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PuffServer]:
    yield from _serve("workers_state", tmp_path_factory)


@pytest.fixture(scope="module")
def declared_in_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PuffServer]:
    yield from _serve("workers_state_explicit", tmp_path_factory)


@pytest.fixture(scope="module")
def on_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PuffServer]:
    with private_redis() as redis:
        env = {"PUFF_DEFAULT_REDIS_URL": redis.url}
        yield from _serve("workers_state_redis", tmp_path_factory, env)


def _both_workers_answer(server: PuffServer) -> None:
    """Wait until each of the two workers answered a request (each on a new connection):
    the server accepts as soon as the first worker is up."""
    pids: set[int] = set()

    def both() -> bool:
        pids.add(server.get("/ping").json()["pid"])
        return len(pids) == 2

    wait_until(both, lambda: f"only these workers answered: {pids}")


def _refused(result: HttpResult, section: str, error_type: str) -> str:
    """The refusal's message, after checking it says why and names the keys to set."""
    assert result.status == 500, result.describe()
    payload: dict[str, Any] = result.json()
    assert payload["error_type"] == error_type, payload
    message = str(payload["error"])
    assert message.startswith(f"[[{section}]] `default` {REFUSAL}"), message
    assert f'[[{section}]]\nname = "default"\nurl = "redis://' in message, message
    assert f"PUFF_DEFAULT_{section.upper()}_URL" in message, message
    assert "workers = 1" in message, message
    return message


def test_app_without_pubsub_or_tasks_serves_from_both_workers(in_process: PuffServer) -> None:
    _both_workers_answer(in_process)
    assert REFUSAL not in in_process.stderr()  # nothing declared, so nothing to warn about


@pytest.mark.parametrize("path", ["/publish?channel=room", "/connect"])
def test_in_process_pubsub_refuses(in_process: PuffServer, path: str) -> None:
    message = _refused(in_process.get(path), "pubsub", "puff.redis.RedisError")
    assert "would have its own subscribers" in message


def test_in_process_task_queue_refuses(in_process: PuffServer) -> None:
    message = _refused(in_process.get("/schedule"), "task_queue", "puff.PuffError")
    assert "would have its own queue" in message


def test_declared_in_process_backends_warn_at_start(declared_in_process: PuffServer) -> None:
    for section in ("pubsub", "task_queue"):
        needle = f"every use will raise: [[{section}]] `default` {REFUSAL}"
        log = declared_in_process.wait_for_log(needle)
        assert needle in log, log
    _refused(declared_in_process.get("/connect"), "pubsub", "puff.redis.RedisError")
    _refused(declared_in_process.get("/schedule"), "task_queue", "puff.PuffError")


def test_redis_pubsub_reaches_a_subscriber_in_the_other_worker(on_redis: PuffServer) -> None:
    _both_workers_answer(on_redis)
    channel = f"room-{uuid.uuid4().hex}"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        listening = pool.submit(on_redis.get, f"/listen?channel={channel}")
        publishers: set[int] = set()

        def delivered() -> bool:
            # Publish until the listener saw a message from a worker other than its own.
            if listening.done():
                return True
            published = on_redis.get(f"/publish?channel={channel}")
            assert published.status == 200, published.describe()
            publishers.add(published.json()["pid"])
            return False

        wait_until(delivered, lambda: f"no message arrived; publishers: {publishers}", 15.0)
        heard = listening.result()
    assert heard.status == 200, heard.describe()
    payload = heard.json()
    assert payload["from_pid"] in publishers, payload
    assert payload["from_pid"] != payload["pid"], payload


def test_redis_task_queue_serves_every_worker(on_redis: PuffServer) -> None:
    answered: set[int] = set()
    for n in range(20):
        result = on_redis.get(f"/schedule?n={n}")
        assert result.status == 200, result.describe()
        assert result.json()["result"] == n + 1
        answered.add(result.json()["pid"])
    assert len(answered) == 2, answered
