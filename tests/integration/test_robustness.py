"""The server process survives failing apps and garbage on the socket."""

from __future__ import annotations

import http.client
import socket
import struct
import uuid

import pytest
from puffserver import HOST, PuffServer


def _marker() -> str:
    return f"marker-{uuid.uuid4().hex}"


def test_exception_in_wsgi_app_gives_500_and_traceback(wsgi_server: PuffServer) -> None:
    marker = _marker()
    result = wsgi_server.get(f"/raise?marker={marker}")
    assert result.status == 500, result.describe()
    assert marker not in result.text(), "the traceback must not be sent to the client"
    wsgi_server.assert_alive()
    log = wsgi_server.wait_for_log(marker)
    assert marker in log, "the exception message is not in the server's stderr"
    assert "Traceback (most recent call last)" in log
    assert "RuntimeError" in log
    assert "raise_error" in log, "the traceback should name the failing function"


def test_exception_before_first_chunk_of_iterable_gives_500(wsgi_server: PuffServer) -> None:
    marker = _marker()
    result = wsgi_server.get(f"/raise-in-iterable?marker={marker}")
    assert result.status == 500, result.describe()
    wsgi_server.assert_alive()
    log = wsgi_server.wait_for_log(marker)
    assert marker in log
    assert "Traceback (most recent call last)" in log


def test_exception_in_flask_view_gives_500_and_traceback(flask_server: PuffServer) -> None:
    """Flask answers 500 itself and logs the traceback to wsgi.errors, which must reach
    the server's stderr."""
    marker = _marker()
    result = flask_server.get(f"/error?marker={marker}")
    assert result.status == 500, result.describe()
    assert flask_server.get("/ping").status == 200
    log = flask_server.wait_for_log(marker)
    assert marker in log
    assert "Traceback (most recent call last)" in log


def test_many_failures_in_a_row_do_not_kill_the_server(wsgi_server: PuffServer) -> None:
    for _ in range(50):
        assert wsgi_server.get("/raise").status == 500
    wsgi_server.assert_alive()


def _send_garbage(port: int, payload: bytes) -> tuple[bytes, bool]:
    """Send ``payload`` on a fresh connection; return (bytes received, connection closed)."""
    received = bytearray()
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(payload)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
        except TimeoutError:
            return bytes(received), False
    return bytes(received), True


def test_garbage_bytes_get_400_or_close(wsgi_server: PuffServer) -> None:
    received, closed = _send_garbage(wsgi_server.port, b"\x00\x01garbage\r\n\r\n")
    assert closed, f"the server kept the connection open after garbage (got {received!r})"
    assert received == b"" or received.startswith((b"HTTP/1.1 400", b"HTTP/1.0 400")), received
    wsgi_server.assert_alive()


def test_assorted_malformed_requests(wsgi_server: PuffServer) -> None:
    payloads = [
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        b"GET /ping HTTP/9.9\r\n\r\n",
        b"\xff\xfe\xfd" * 1000 + b"\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ]
    for payload in payloads:
        received, closed = _send_garbage(wsgi_server.port, payload)
        assert closed, f"connection left open after {payload[:40]!r}: got {received!r}"
        assert not received.startswith(b"HTTP/1.1 2"), (payload[:40], received[:200])
        wsgi_server.assert_alive()


def test_client_disconnecting_mid_request_does_not_hurt(wsgi_server: PuffServer) -> None:
    for _ in range(20):
        with socket.create_connection((HOST, wsgi_server.port), timeout=10) as sock:
            sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc")
    wsgi_server.assert_alive()


CHUNKED_HEAD = (
    b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Type: application/octet-stream\r\n\r\n"
)


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nhello\r\n0\r\n\r\n",
        b"5;ext\nhello\r\n0\r\n\r\n",
        b"5\r\nhelloXX0\r\n\r\n",
    ],
    ids=["bad-size", "bad-extension", "bad-chunk-end"],
)
@pytest.mark.parametrize("app", ["wsgi_server", "fastapi_server"])
def test_malformed_chunked_body_gets_400(
    app: str, body: bytes, request: pytest.FixtureRequest
) -> None:
    server: PuffServer = request.getfixturevalue(app)
    with socket.create_connection((HOST, server.port), timeout=10) as sock:
        sock.sendall(CHUNKED_HEAD + body)
        response = http.client.HTTPResponse(sock)  # type: ignore[arg-type]
        response.begin()
        assert response.status == 400, response.read()
        assert response.getheader("Connection") == "close"
    log = server.wait_for_log("malformed request body (400)")
    assert "malformed request body (400)" in log


def test_truncated_chunked_body_gets_400(wsgi_server: PuffServer) -> None:
    """The client ends its side mid-chunk but still listens: it is told why."""
    with socket.create_connection((HOST, wsgi_server.port), timeout=10) as sock:
        sock.sendall(CHUNKED_HEAD + b"5\r\nhel")
        sock.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(sock)  # type: ignore[arg-type]
        response.begin()
        assert response.status == 400, response.read()
    wsgi_server.assert_alive()


def test_a_client_that_goes_away_is_not_an_error(wsgi_server: PuffServer) -> None:
    marker = _marker()
    with socket.create_connection((HOST, wsgi_server.port), timeout=10) as sock:
        sock.sendall(CHUNKED_HEAD.replace(b"/echo", f"/echo?{marker}".encode()) + b"5\r\nhel")
        # SO_LINGER 0: close with a reset, as a killed client does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    log = wsgi_server.wait_for_log(marker)
    lines = [line for line in log.splitlines() if marker in line]
    assert lines, log[-2000:]
    for line in lines:
        assert " ERROR " not in line and " WARN " not in line, line
    wsgi_server.assert_alive()


def test_oversized_head_gets_431_with_connection_close(wsgi_server: PuffServer) -> None:
    with socket.create_connection((HOST, wsgi_server.port), timeout=10) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 600_000 + b"\r\n\r\n")
        response = http.client.HTTPResponse(sock)  # type: ignore[arg-type]
        response.begin()
        assert response.status == 431
        assert response.getheader("Connection") == "close"
    wsgi_server.assert_alive()
