"""Helpers for the black-box tests: start ``target/debug/puff-cli`` and talk HTTP to it.

Only the standard library is used on the client side (``http.client``, ``socket``) so that
what is tested is exactly what goes over the wire.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV = REPO_ROOT / ".venv"
# PUFF_CLI_BINARY overrides the binary under test (e.g. target/release/puff-cli).
PUFF_CLI = Path(os.environ.get("PUFF_CLI_BINARY") or REPO_ROOT / "target" / "debug" / "puff-cli")
APPS_DIR = Path(__file__).resolve().parent / "apps"

HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
REQUEST_TIMEOUT_S = 30.0


def require_puff_cli() -> Path:
    """Return the puff-cli binary, failing (not skipping) the test when it was not built."""
    if not PUFF_CLI.is_file() or not os.access(PUFF_CLI, os.X_OK):
        pytest.fail(
            f"{PUFF_CLI} does not exist: build it first with "
            "`PYO3_PYTHON=$PWD/.venv/bin/python VIRTUAL_ENV=$PWD/.venv cargo build -p puff-cli` "
            "(from the repository root)",
            pytrace=False,
        )
    return PUFF_CLI


def puff_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for puff-cli: the repo's venv is active, PUFF_CONFIG cannot leak in."""
    env = {k: v for k, v in os.environ.items() if k not in {"PUFF_CONFIG", "PYTHONHOME"}}
    env["VIRTUAL_ENV"] = str(VENV)
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if extra:
        env.update(extra)
    return env


def run_cli(
    args: Sequence[str], *, cwd: Path = REPO_ROOT, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """Run ``puff-cli ARGS`` to completion and capture its output as text."""
    cli = require_puff_cli()
    try:
        return subprocess.run(
            [str(cli), *args],
            cwd=cwd,
            env=puff_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"`puff-cli {' '.join(args)}` did not exit within {timeout} s "
            f"(stdout: {exc.stdout!r}, stderr: {exc.stderr!r})",
            pytrace=False,
        )


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def tail(text: str, lines: int = 80) -> str:
    return "\n".join(text.splitlines()[-lines:])


class PuffServer:
    """A ``puff-cli --config CONFIG runserver --bind 127.0.0.1:PORT`` child process."""

    def __init__(
        self,
        name: str,
        config: Path,
        log_dir: Path,
        *,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        open_files: int | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.extra_args = list(extra_args)  # after `runserver --bind ...`, e.g. --workers 2
        self.open_files = open_files  # RLIMIT_NOFILE for the server, as `ulimit -n` sets
        self.config = config
        self.env = env  # added to puff_env(), e.g. {"PUFF_DEFAULT_REDIS_URL": ...}
        self.port = free_port()
        self.cwd = cwd if cwd is not None else log_dir
        self.stderr_path = log_dir / f"{name}.stderr.log"
        self.stdout_path = log_dir / f"{name}.stdout.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = START_TIMEOUT_S) -> PuffServer:
        cli = require_puff_cli()
        argv = [
            str(cli),
            "--config",
            str(self.config),
            "runserver",
            "--bind",
            f"{HOST}:{self.port}",
            *self.extra_args,
        ]
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                argv,
                cwd=self.cwd,
                env=puff_env(self.env),
                stdout=out,
                stderr=err,
                preexec_fn=self._limit_open_files if self.open_files else None,
            )
        deadline = time.monotonic() + timeout
        while True:
            code = self.proc.poll()
            if code is not None:
                pytest.fail(
                    f"puff-cli ({self.name}) exited with code {code} before accepting "
                    f"connections on port {self.port}.\ncommand: {' '.join(argv)}\n"
                    f"--- stderr ---\n{tail(self.stderr(), 200)}",
                    pytrace=False,
                )
            try:
                with socket.create_connection((HOST, self.port), timeout=1.0):
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(
                    f"puff-cli ({self.name}) did not accept connections on port {self.port} "
                    f"within {timeout} s.\ncommand: {' '.join(argv)}\n"
                    f"--- stderr ---\n{tail(self.stderr(), 200)}",
                    pytrace=False,
                )
            time.sleep(0.05)

    def _limit_open_files(self) -> None:
        import resource

        limit = int(self.open_files or 0)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """Signal the server and wait for it; SIGKILL if it lingers. Returns the exit code
        it chose itself, or None if it had to be killed."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, needle: str, timeout: float = 10.0) -> str:
        """Wait until ``needle`` shows up in the server's stderr (logging may lag)."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.stderr()
            if needle in text or time.monotonic() > deadline:
                return text
            time.sleep(0.05)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | Iterable[bytes] | None = None,
        headers: Sequence[tuple[str, str]] = (),
        timeout: float = REQUEST_TIMEOUT_S,
    ) -> HttpResult:
        return http_request(self.port, method, path, body, headers, timeout)

    def get(self, path: str, headers: Sequence[tuple[str, str]] = ()) -> HttpResult:
        return self.request("GET", path, headers=headers)

    def post(
        self,
        path: str,
        body: bytes | Iterable[bytes] | None = None,
        *,
        headers: Sequence[tuple[str, str]] = (),
    ) -> HttpResult:
        return self.request("POST", path, body=body, headers=headers)

    def assert_alive(self) -> None:
        """The process is running and answers a plain request."""
        assert self.is_running(), f"puff-cli exited with code {self.proc and self.proc.poll()}"
        result = self.get("/ping")
        assert result.status == 200, result.describe()


def serving(server: PuffServer) -> Iterator[PuffServer]:
    """For fixtures: ``server`` started, stopped after the yield."""
    try:
        server.start()
        yield server
    finally:
        server.stop()


def load_test_module(relative: str, name: str) -> Any:
    """A module of another suite's folder, loaded by path as tests/ is not a package."""
    path = REPO_ROOT / "tests" / relative
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def private_redis() -> Iterator[Any]:
    """A private, throwaway redis-server (``RedisServer`` of tests/redis/redis_server.py:
    ``.url``, ``.port``)."""
    server = load_test_module(
        "redis/redis_server.py", "puff_tests_redis_server"
    ).RedisServer.create()
    try:
        yield server
    finally:
        server.destroy()


@contextlib.contextmanager
def private_postgres() -> Iterator[Any]:
    """A private, throwaway Postgres (``PgServer`` of tests/postgres/pg_server.py: ``.url``)."""
    server = load_test_module("postgres/pg_server.py", "puff_tests_pg_server").PgServer.create()
    try:
        yield server
    finally:
        server.destroy()


@dataclass
class HttpResult:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    request_line: str = ""

    def header(self, name: str) -> str | None:
        """First value of a response header (case-insensitive), or None."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise AssertionError(f"response is not JSON: {self.describe()}") from exc

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def describe(self, limit: int = 600) -> str:
        body = self.body[:limit]
        more = f"... ({len(self.body)} bytes)" if len(self.body) > limit else ""
        return (
            f"{self.request_line} -> {self.status} {self.reason}, headers={self.headers}, "
            f"body={body!r}{more}"
        )


def http_request(
    port: int,
    method: str,
    path: str,
    body: bytes | Iterable[bytes] | None = None,
    headers: Sequence[tuple[str, str]] = (),
    timeout: float = REQUEST_TIMEOUT_S,
) -> HttpResult:
    """One request on a fresh connection.

    ``headers`` may repeat a name. A ``bytes`` body is sent with Content-Length, any other
    iterable with ``Transfer-Encoding: chunked`` (one chunk per item).
    """
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        names = {name.lower() for name, _ in headers}
        conn.putrequest(method, path, skip_accept_encoding="accept-encoding" in names)
        for name, value in headers:
            conn.putheader(name, value)
        chunked = False
        if isinstance(body, bytes | bytearray):
            conn.putheader("Content-Length", str(len(body)))
        elif body is not None:
            conn.putheader("Transfer-Encoding", "chunked")
            chunked = True
        elif method in {"POST", "PUT", "PATCH"}:
            conn.putheader("Content-Length", "0")
        conn.endheaders(body, encode_chunked=chunked)
        resp = conn.getresponse()
        data = resp.read()
        return HttpResult(resp.status, resp.reason, resp.getheaders(), data, f"{method} {path}")
    finally:
        conn.close()


@dataclass
class RawExchange:
    """What happened on a raw socket: the parsed response (if any) and the errors seen."""

    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    read_error: BaseException | None = None
    send_error: BaseException | None = None

    def describe(self) -> str:
        return (
            f"status={self.status}, headers={self.headers}, body={self.body[:300]!r}, "
            f"read_error={self.read_error!r}, send_error={self.send_error!r}"
        )


def exchange_while_sending(
    port: int,
    head: bytes,
    body_parts: Iterable[bytes],
    method: str = "POST",
    timeout: float = REQUEST_TIMEOUT_S,
) -> RawExchange:
    """Send ``head`` then ``body_parts`` while another thread reads the response.

    A server may answer (e.g. 413) before the whole body is sent and then stop reading or
    close; the reader gets the response anyway and the sender stops at the first error.
    """
    sock = socket.create_connection((HOST, port), timeout=timeout)
    result = RawExchange()
    finished = threading.Event()

    def read() -> None:
        resp = http.client.HTTPResponse(sock, method=method)
        try:
            resp.begin()
            result.status = resp.status
            result.headers = resp.getheaders()
            result.body = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            result.read_error = exc
        finally:
            finished.set()
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the sender if it is blocked

    reader = threading.Thread(target=read, name="raw-reader", daemon=True)
    reader.start()
    try:
        sock.sendall(head)
        for part in body_parts:
            if finished.is_set():
                break
            sock.sendall(part)
    except OSError as exc:
        result.send_error = exc
    reader.join(timeout)
    sock.close()
    if reader.is_alive():
        result.read_error = TimeoutError(f"no complete response within {timeout} s")
    return result


def chunked_parts(payload: bytes, chunk_size: int) -> Iterable[bytes]:
    """``payload`` framed as HTTP/1.1 chunked transfer coding, one frame per piece."""
    for start in range(0, len(payload), chunk_size):
        piece = payload[start : start + chunk_size]
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    yield b"0\r\n\r\n"


def raw_roundtrip(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes and read until the server closes the connection (or ``timeout``)."""
    received = bytearray()
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(data)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return bytes(received)


def wait_until(
    condition: Callable[[], bool], message: Callable[[], str] | str, timeout: float = 30.0
) -> None:
    """Poll ``condition`` until it is true; fail with ``message`` after ``timeout`` s.

    The timeout is only a safety net against hanging forever, never what a test asserts.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message() if callable(message) else message)
        time.sleep(0.01)
