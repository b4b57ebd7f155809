"""Pool metrics of `[[redis]]` pools: a `puff-cli runserver` child with `metrics_bind` on
this suite's Redis, whose view runs two commands per request. Every command checks a
connection out, so the scraped checkout count grows by exactly two per request; the pool's
sampled gauges show its idle connections and nobody is left waiting."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from redis_server import free_port

CLI = os.environ.get("PUFF_CLI_BINARY") or str(
    Path(__file__).resolve().parents[2] / "target/debug/puff-cli"
)
POOL = 'service="redis",pool="default"'
REQUESTS = 4

VIEW = """\
from puff.redis import global_redis


def app(environ, start_response):
    key = "puff-test:metrics:" + environ["QUERY_STRING"]
    global_redis.set(key, "1")
    body = global_redis.get(key)
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
"""


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def value(scraped: str, name: str) -> float | None:
    """The default pool's sample of `name`, None when there is none yet."""
    found = re.search(rf"^{name}\{{{POOL}\}} (\S+)$", scraped, re.MULTILINE)
    return float(found.group(1)) if found else None


def poll(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    """Waits for `condition` (the timeout only keeps a broken server from hanging)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout_s} s"
        time.sleep(0.1)


def test_every_command_is_one_counted_checkout(tmp_path: Path) -> None:
    (tmp_path / "redis_view.py").write_text(VIEW)
    metrics_port, port = free_port(), free_port()
    (tmp_path / "puff.toml").write_text(
        f'wsgi = "redis_view.app"\npython_path = ["{tmp_path}"]\naccess_log = false\n'
        f'metrics_bind = "127.0.0.1:{metrics_port}"\n[[redis]]\nname = "default"\n'
    )
    argv = [CLI, "--config", str(tmp_path / "puff.toml"), "runserver"]
    child = subprocess.Popen(
        [*argv, "--bind", f"127.0.0.1:{port}"],
        env={**os.environ, "PUFF_DEFAULT_REDIS_URL": os.environ["PUFF_DEFAULT_REDIS_URL"]},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    metrics, app = f"http://127.0.0.1:{metrics_port}/metrics", f"http://127.0.0.1:{port}"
    scraped: list[str] = []

    def scrape_shows(name: str) -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()  # app is up
            scraped.append(fetch(metrics))
        except OSError:
            return False
        return value(scraped[-1], name) is not None

    try:
        # The pool's start-up check is a checkout of its own: wait for it before counting.
        poll(lambda: scrape_shows("puff_pool_checkout_wait_seconds_count"), "a checkout")
        poll(lambda: scrape_shows("puff_pool_connections_idle"), "a sample of the pool")
        before = value(scraped[-1], "puff_pool_checkout_wait_seconds_count")
        assert before is not None
        for n in range(REQUESTS):
            assert fetch(f"{app}/?{n}") == "1"
        after = fetch(metrics)
        assert value(after, "puff_pool_checkout_wait_seconds_count") == before + 2 * REQUESTS
        assert value(after, "puff_pool_waiters") == 0

        def idle_after_use() -> bool:
            now = fetch(metrics)
            return (value(now, "puff_pool_connections_idle") or 0) >= 1 and value(
                now, "puff_pool_connections_in_use"
            ) == 0

        poll(idle_after_use, "the connection sampled idle again")
    finally:
        child.terminate()
        child.wait(30)
