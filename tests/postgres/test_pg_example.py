"""examples/postgres works as its README says (its own puff-cli processes, private server)."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request

import puff
from pg_server import PgServer, free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.environ.get("PUFF_CLI_BINARY") or os.path.join(ROOT, "target/debug/puff-cli")
CONFIG = os.path.join(ROOT, "examples/postgres/puff.toml")


@puff.blocking
def run_example() -> tuple[str, bytes, bytes]:
    url = PgServer.from_env().url
    base = [CLI, "--config", CONFIG, "--default-postgres-url", url]
    demo = subprocess.run(
        [*base, "demo"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    port = free_port()
    server = subprocess.Popen(
        [*base, "runserver", "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                body = json.dumps(
                    {"body": "hé", "tags": ["x"], "meta": {"k": 1}}
                ).encode()
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/notes", data=body, method="POST"
                )
                created = urllib.request.urlopen(req, timeout=10).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        listed = urllib.request.urlopen(
            f"http://127.0.0.1:{port}/notes", timeout=10
        ).read()
    finally:
        server.terminate()
        server.wait(30)
    return demo, created, listed


def test_example_commands_and_routes() -> None:
    demo, created, listed = run_example()
    assert "table `notes` ready" in demo
    assert "(1, 'first', ['a'], {'n': 1})" in demo
    note_id = json.loads(created)["id"]
    notes = json.loads(listed)["notes"]
    assert notes[0]["id"] == note_id
    assert (
        notes[0]["body"] == "hé"
        and notes[0]["tags"] == ["x"]
        and notes[0]["meta"] == {"k": 1}
    )
