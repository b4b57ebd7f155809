"""`access_log` formats: `text` (the default), `json` and `off`, read from a real server's
stderr, and the lines of requests served just before SIGTERM."""

from __future__ import annotations

import http.client
import json
import re
import signal
from pathlib import Path
from typing import Any

import pytest
from puffserver import APPS_DIR, HOST, PuffServer, free_port, run_cli, tail, wait_until

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z  INFO puff::access: "
    r"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/1\.1 (?P<status>\d{3}) \d+\.\dms$"
)


def start(tmp_path: Path, name: str, access_log: str, extra_args: tuple = ()) -> PuffServer:
    """The raw PEP 3333 test app with `access_log = <access_log>` (a TOML value)."""
    config = tmp_path / f"{name}.toml"
    config.write_text(
        f'wsgi = "wsgi_app.app"\npython_path = ["{APPS_DIR}"]\naccess_log = {access_log}\n'
    )
    return PuffServer(name, config, tmp_path, extra_args=extra_args).start()


def json_lines(server: PuffServer) -> list[dict[str, Any]]:
    """Every stderr line that is a JSON object (other log lines stay text)."""
    return [json.loads(line) for line in server.stderr().splitlines() if line.startswith("{")]


def access_lines(server: PuffServer) -> list[str]:
    return [line for line in server.stderr().splitlines() if "puff::access:" in line]


def wait_for_json_lines(server: PuffServer, count: int) -> list[dict[str, Any]]:
    wait_until(
        lambda: len(json_lines(server)) >= count,
        lambda: f"fewer than {count} JSON access lines\n{tail(server.stderr())}",
    )
    return json_lines(server)


def test_json_lines_parse_and_carry_the_request(tmp_path: Path) -> None:
    server = start(tmp_path, "json", '"json"')
    try:
        traced = server.get("/ping", headers=[("traceparent", TRACEPARENT)])
        assert traced.status == 200, traced.describe()
        # The query string is left out of the log: it may carry secrets.
        missing = server.get('/no-such-"path?token=secret')
        assert missing.status == 404, missing.describe()
        posted = server.post("/echo", b"twelve bytes", headers=[("traceparent", "garbage")])
        assert posted.status == 200, posted.describe()

        first, second, third = wait_for_json_lines(server, 3)
        assert first["method"] == "GET"
        assert first["path"] == "/ping"
        assert first["status"] == 200
        assert first["bytes"] == len(traced.body)
        assert isinstance(first["duration_ms"], float) and first["duration_ms"] >= 0
        assert first["trace_id"] == TRACE_ID
        assert first["worker"] is None  # a single process
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", first["timestamp"])

        assert second["path"] == '/no-such-"path'
        assert second["status"] == 404
        assert second["bytes"] == len(missing.body)
        assert second["trace_id"] is None
        assert "secret" not in server.stderr()

        assert (third["method"], third["status"]) == ("POST", 200)
        assert third["bytes"] == len(posted.body)
        assert third["trace_id"] is None  # not a valid traceparent
        assert not access_lines(server), "text lines were written too"
    finally:
        server.stop()


def test_json_lines_name_the_worker(tmp_path: Path) -> None:
    server = start(tmp_path, "json-workers", '"json"', extra_args=("--workers", "2"))
    try:
        wait_until(
            lambda: server.stderr().count(": accepting on ") >= 2,
            lambda: f"2 workers never accepted\n{tail(server.stderr())}",
        )
        for _ in range(10):
            assert server.get("/ping").status == 200
        lines = wait_for_json_lines(server, 10)
        announced = {int(m) for m in re.findall(r"worker (\d+): accepting on", server.stderr())}
        assert len(announced) == 2, server.stderr()
        workers = {line["worker"] for line in lines}
        assert workers and workers <= announced, (workers, announced)
    finally:
        server.stop()


@pytest.mark.parametrize("value", ['"text"', "true"], ids=["text", "true"])
def test_text_lines_keep_their_shape(tmp_path: Path, value: str) -> None:
    server = start(tmp_path, "text", value)
    try:
        assert server.get("/ping").status == 200
        assert server.get("/missing?q=1").status == 404
        wait_until(
            lambda: len(access_lines(server)) >= 2,
            lambda: f"no text access lines\n{tail(server.stderr())}",
        )
        first, second = (TEXT_LINE.match(line) for line in access_lines(server))
        assert first and second, access_lines(server)
        assert (first["method"], first["path"], first["status"]) == ("GET", "/ping", "200")
        assert (second["path"], second["status"]) == ("/missing", "404")
        assert not json_lines(server)
    finally:
        server.stop()


@pytest.mark.parametrize("value", ['"xml"', "3"], ids=["unknown-format", "number"])
def test_a_bad_value_names_the_key_and_the_formats(tmp_path: Path, value: str) -> None:
    config = tmp_path / "puff.toml"
    config.write_text(f"access_log = {value}\n")
    result = run_cli(["--config", str(config), "runserver", "--bind", f"{HOST}:{free_port()}"])
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "access_log" in result.stderr, result.stderr
    assert '"text", "json" or "off"' in result.stderr, result.stderr


@pytest.mark.parametrize("value", ['"off"', "false"], ids=["off", "false"])
def test_off_writes_no_access_lines(tmp_path: Path, value: str) -> None:
    server = start(tmp_path, "off", value)
    try:
        for _ in range(5):
            assert server.get("/ping").status == 200
    finally:
        assert server.stop() == 0
    stderr = server.stderr()
    assert "server stopped" in stderr, stderr  # the log itself was written
    assert not access_lines(server), stderr
    assert not json_lines(server), stderr


def test_lines_of_the_last_requests_before_sigterm_are_written(tmp_path: Path) -> None:
    requests = 300
    server = start(tmp_path, "sigterm", '"json"')
    conn = http.client.HTTPConnection(HOST, server.port, timeout=30)

    def get(path: str) -> None:
        conn.request("GET", path)
        response = conn.getresponse()
        assert response.status == 200
        response.read()

    try:
        for i in range(requests):
            get(f"/ping?i={i}")
        wait_for_json_lines(server, requests)
        # The writer is idle again: this line waits for its batch interval (100 ms), and
        # the server exits sooner than that after SIGTERM, so only the flush at shutdown
        # writes it.
        get("/ping?last")
        conn.close()
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=30) == 0, tail(server.stderr())
    finally:
        conn.close()
        server.kill()
    lines = json_lines(server)
    assert len(lines) == requests + 1, f"{len(lines)} lines\n{tail(server.stderr())}"
