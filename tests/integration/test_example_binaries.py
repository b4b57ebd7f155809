"""The Rust example binaries (examples/rust_app, examples/fastapi) work as their READMEs say.

They are built by `cargo build --workspace --all-targets` (a step of `cargo xtask test`).
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from puffserver import HOST, REPO_ROOT, free_port, http_request, puff_env, tail
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect


def _binary(name: str) -> Path:
    path = REPO_ROOT / "target" / "debug" / name
    if not path.is_file():
        pytest.fail(
            f"{path} is missing: build it with `cargo build -p {name}` "
            "(with PYO3_PYTHON and VIRTUAL_ENV set as `cargo xtask` does)",
            pytrace=False,
        )
    return path


class BinaryServer:
    def __init__(self, name: str, log_dir: Path) -> None:
        self.port = free_port()
        self.log = log_dir / f"{name}.stderr.log"
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen(
                [str(_binary(name)), "runserver", "--bind", f"{HOST}:{self.port}"],
                env=puff_env(),
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"{name} exited early:\n{tail(self.log.read_text())}", pytrace=False)
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.proc.kill()
                    pytest.fail(f"{name} did not start:\n{tail(self.log.read_text())}")
                time.sleep(0.05)

    def get(self, path: str) -> tuple[int, bytes]:
        result = http_request(self.port, "GET", path)
        return result.status, result.body

    def stop(self) -> int:
        self.proc.terminate()
        return self.proc.wait(timeout=20)


@pytest.fixture(scope="module")
def rust_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BinaryServer]:
    server = BinaryServer("puff-example-rust-app", tmp_path_factory.mktemp("rust_app"))
    yield server
    assert server.stop() == 0


@pytest.fixture(scope="module")
def fastapi_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BinaryServer]:
    server = BinaryServer("puff-example-fastapi", tmp_path_factory.mktemp("fastapi"))
    yield server
    assert server.stop() == 0


def test_rust_app_routes(rust_app: BinaryServer) -> None:
    assert rust_app.get("/rust/hello") == (200, b"x" * 1024)
    assert rust_app.get("/rust") == (200, b"Ok")
    # Python WSGI fallback using the Rust global state, sync and async.
    assert rust_app.get("/") == (200, b"Hello from Rust! Python Says: from WSGI\n")
    assert rust_app.get("/async") == (200, b"Rust computed 42\n")


def _ws(server: BinaryServer, path: str) -> ClientConnection:
    return connect(f"ws://{HOST}:{server.port}{path}", open_timeout=10)


def test_rust_websocket_echo(rust_app: BinaryServer) -> None:
    with _ws(rust_app, "/rust/ws/echo") as conn:
        conn.send("hello")
        assert conn.recv(timeout=10) == "hello"
        conn.send(b"\x00\xffbinary")
        assert conn.recv(timeout=10) == b"\x00\xffbinary"
        big = "y" * 100_000
        conn.send(big)
        assert conn.recv(timeout=10) == big
        conn.ping(b"ping").wait(timeout=10)
    # A plain GET on a websocket route is refused with a clear status, and the server lives.
    status, body = rust_app.get("/rust/ws/echo")
    assert status == 426, body
    assert b"websocket" in body
    assert rust_app.get("/rust") == (200, b"Ok")


def test_rust_websocket_chat_on_pubsub(rust_app: BinaryServer) -> None:
    with (
        _ws(rust_app, "/rust/ws/chat/lobby") as alice,
        _ws(rust_app, "/rust/ws/chat/lobby") as bob,
        _ws(rust_app, "/rust/ws/chat/other") as carol,
    ):
        alice_id = str(alice.recv(timeout=10)).rsplit(" ", 1)[-1]
        bob_id = str(bob.recv(timeout=10)).rsplit(" ", 1)[-1]
        assert str(carol.recv(timeout=10)).startswith("joined rust-chat:other as ")
        assert alice_id != bob_id
        alice.send("hi bob")
        assert bob.recv(timeout=10) == f"{alice_id}: hi bob"
        assert alice.recv(timeout=10) == f"{alice_id}: hi bob"  # senders see their own
        # Python (the WSGI fallback) publishes into the channel the Rust handler serves.
        assert rust_app.get("/announce?from-python") == (200, b"announced\n")
        assert bob.recv(timeout=10) == "python: from-python"
        assert alice.recv(timeout=10) == "python: from-python"
        # Nothing crossed into the other room.
        with pytest.raises(TimeoutError):
            carol.recv(timeout=0.3)
        # Binary is refused with 1003; the others keep chatting.
        carol.send(b"\x01")
        with pytest.raises(ConnectionClosed) as info:
            carol.recv(timeout=10)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1003
        bob.send("still here")
        assert alice.recv(timeout=10) == f"{bob_id}: still here"


def test_rust_websocket_closed_with_1001_on_shutdown(tmp_path: Path) -> None:
    server = BinaryServer("puff-example-rust-app", tmp_path)
    with _ws(server, "/rust/ws/echo") as conn:
        conn.send("x")
        assert conn.recv(timeout=10) == "x"
        server.proc.terminate()
        with pytest.raises(ConnectionClosed) as info:
            conn.recv(timeout=20)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1001
    assert server.proc.wait(timeout=20) == 0


def test_rust_app_python_command() -> None:
    out = subprocess.run(
        [str(_binary("puff-example-rust-app")), "run_hello_world"],
        env=puff_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["Hello from Rust! Python Says: Hello from Python!", "42"]


def test_fastapi_example(fastapi_app: BinaryServer) -> None:
    import json

    status, body = fastapi_app.get("/fast-api")
    assert status == 200, body
    assert json.loads(body) == {"Hello": "World", "from": "Fast API", "rust_value": 42}
    assert fastapi_app.get("/") == (200, b"Ok")
