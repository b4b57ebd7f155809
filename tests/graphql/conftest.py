"""The GraphQL suite runs inside puff-cli with a real Postgres; see run.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import puff
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RUN_HINT = "run the GraphQL suite with `.venv/bin/python tests/graphql/run.py`"

PARENTS, CHILDREN_PER_PARENT, LEAVES_PER_CHILD = 100, 10, 5


@pytest.fixture(autouse=True)
def _inside_puff_with_postgres() -> None:
    if puff._native is None:
        pytest.fail(f"not inside the Puff runtime: {RUN_HINT}", pytrace=False)
    if not os.environ.get("PUFF_DEFAULT_POSTGRES_URL"):
        pytest.fail(f"PUFF_DEFAULT_POSTGRES_URL is not set: {RUN_HINT}", pytrace=False)


def sql(statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    from puff import postgres

    conn = postgres.connect()
    conn.autocommit = True
    try:
        cur = conn.cursor()
        cur.execute(statement, params)
        return cur.fetchall() if cur.description else []
    finally:
        conn.close()


@pytest.fixture(scope="session", autouse=True)
def layered_tables() -> None:
    """gql_parent (100) -> gql_child (10 each) -> gql_leaf (5 each)."""
    sql("DROP TABLE IF EXISTS gql_leaf, gql_child, gql_parent")
    sql("CREATE TABLE gql_parent (id int PRIMARY KEY, name text NOT NULL)")
    sql("CREATE TABLE gql_child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES gql_parent, name text NOT NULL)")
    sql("CREATE TABLE gql_leaf (id int PRIMARY KEY, child_id int NOT NULL REFERENCES gql_child, label text NOT NULL)")
    sql(
        "INSERT INTO gql_parent SELECT p, 'parent-' || p FROM generate_series(1, %s) p",
        (PARENTS,),
    )
    sql(
        "INSERT INTO gql_child SELECT c, (c - 1) / %s + 1, 'child-' || c FROM generate_series(1, %s) c",
        (CHILDREN_PER_PARENT, PARENTS * CHILDREN_PER_PARENT),
    )
    sql(
        "INSERT INTO gql_leaf SELECT l, (l - 1) / %s + 1, 'leaf-' || l FROM generate_series(1, %s) l",
        (LEAVES_PER_CHILD, PARENTS * CHILDREN_PER_PARENT * LEAVES_PER_CHILD),
    )
    sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]
    log_path: str

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def request(
        self,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        method: str | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        req = urllib.request.Request(self.base + path, data=body, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def post(self, path: str, payload: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, Any]:
        status, _, body = self.request(
            path,
            json.dumps(payload).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )
        return status, json.loads(body)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`puff-cli runserver` on tests/graphql/puff.toml (no WSGI app: GraphQL only)."""
    binary = os.environ["PUFF_CLI_BINARY"]
    port = free_port()
    log_path = str(tmp_path_factory.mktemp("server") / "server.log")
    log = open(log_path, "wb")
    process = subprocess.Popen(
        [binary, "--config", os.path.join(HERE, "puff.toml"), "runserver", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    srv = Server(base=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            pytest.fail(f"the server exited ({process.returncode}):\n{srv.log()}", pytrace=False)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the server did not listen within 60 s:\n{srv.log()}", pytrace=False)
            time.sleep(0.1)
    yield srv
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
