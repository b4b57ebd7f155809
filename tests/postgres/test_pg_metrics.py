"""Pool metrics of `[[postgres]]` pools: a real `puff-cli runserver` with `metrics_bind`,
whose view checks connections out of the pool; the scraped checkout count grows by exactly
the requests sent, and nobody is left waiting."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from pg_server import PgServer, free_port

ROOT = Path(__file__).resolve().parents[2]
CLI = os.environ.get("PUFF_CLI_BINARY") or str(ROOT / "target/debug/puff-cli")

APP = """\
from puff import postgres


def app(environ, start_response):
    conn = postgres.connect()
    try:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        body = str(cur.fetchone()[0]).encode()
    finally:
        conn.close()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
"""


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def sample(text: str, name: str) -> float:
    labels = 'service="postgres",pool="default"'
    match = re.search(rf"^{name}\{{{labels}\}} (\S+)$", text, re.MULTILINE)
    assert match, f"{name}{{{labels}}} missing in\n{text}"
    return float(match.group(1))


def test_checkouts_are_counted_per_pool(tmp_path: Path) -> None:
    (tmp_path / "metered_app.py").write_text(APP)
    config = tmp_path / "puff.toml"
    metrics_port, port = free_port(), free_port()
    config.write_text(
        f'wsgi = "metered_app.app"\npython_path = ["{tmp_path}"]\naccess_log = false\n'
        f'metrics_bind = "127.0.0.1:{metrics_port}"\n'
        '[[postgres]]\nname = "default"\n'
    )
    url = PgServer.from_env().url
    env = {**os.environ, "PUFF_DEFAULT_POSTGRES_URL": url}
    server = subprocess.Popen(
        [CLI, "--config", str(config), "runserver", "--bind", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    metrics = f"http://127.0.0.1:{metrics_port}/metrics"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                # The app accepts, and the start-up connection check (the first checkout)
                # is done.
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                before = get(metrics)
                if "puff_pool_checkout_wait_seconds_count" in before:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "no pool metrics within 60 s"
            time.sleep(0.1)
        assert sample(before, "puff_pool_waiters") == 0
        checkouts = sample(before, "puff_pool_checkout_wait_seconds_count")
        for _ in range(5):
            assert get(f"http://127.0.0.1:{port}/") == "1"
        after = get(metrics)
        assert sample(after, "puff_pool_checkout_wait_seconds_count") == checkouts + 5
        assert sample(after, "puff_pool_waiters") == 0
    finally:
        server.terminate()
        server.wait(30)
