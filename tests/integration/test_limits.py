"""max_request_body_bytes (1 MiB in limited.toml, 10 MiB by default): larger bodies get 413
(with `Connection: close`, read by ordinary clients too), the server lives."""

from __future__ import annotations

import hashlib
import http.client
import os

import pytest
from puffserver import HOST, PuffServer, chunked_parts, exchange_while_sending

LIMIT = 1024 * 1024


def test_body_at_the_limit_is_accepted(limited_server: PuffServer) -> None:
    body = os.urandom(LIMIT)
    result = limited_server.post("/echo", body)
    assert result.status == 200, result.describe()
    assert result.json() == {"length": LIMIT, "sha256": hashlib.sha256(body).hexdigest()}


def test_content_length_over_the_limit_gets_413(limited_server: PuffServer) -> None:
    body = os.urandom(LIMIT + 1)
    head = (
        f"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    parts = (body[i : i + 65_536] for i in range(0, len(body), 65_536))
    exchange = exchange_while_sending(limited_server.port, head, parts)
    assert exchange.status == 413, exchange.describe()
    limited_server.assert_alive()


def test_big_content_length_gets_413(limited_server: PuffServer) -> None:
    body = os.urandom(3 * LIMIT)
    head = (
        f"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    parts = (body[i : i + 65_536] for i in range(0, len(body), 65_536))
    exchange = exchange_while_sending(limited_server.port, head, parts)
    assert exchange.status == 413, exchange.describe()
    limited_server.assert_alive()


def test_chunked_body_over_the_limit_gets_413(limited_server: PuffServer) -> None:
    """No Content-Length to check up front: the server has to count while reading."""
    body = os.urandom(2 * LIMIT)
    head = (
        b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/octet-stream\r\n\r\n"
    )
    exchange = exchange_while_sending(limited_server.port, head, chunked_parts(body, 65_536))
    assert exchange.status == 413, exchange.describe()
    limited_server.assert_alive()


def test_chunked_body_under_the_limit_is_accepted(limited_server: PuffServer) -> None:
    body = os.urandom(LIMIT // 2)
    result = limited_server.post("/echo", iter([body[: LIMIT // 4], body[LIMIT // 4 :]]))
    assert result.status == 200, result.describe()
    assert result.json() == {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}


@pytest.mark.parametrize("app", ["wsgi_server", "fastapi_server"])
def test_ordinary_client_reads_413_for_11_mib(app: str, request: pytest.FixtureRequest) -> None:
    """http.client sends the whole body before reading: Puff must answer 413 with
    `Connection: close` and read the rest of the body instead of resetting the connection."""
    server: PuffServer = request.getfixturevalue(app)
    conn = http.client.HTTPConnection(HOST, server.port, timeout=60)
    try:
        conn.request(
            "POST",
            "/echo",
            body=b"x" * (11 * 1024 * 1024),
            headers={"Content-Type": "application/octet-stream"},
        )
        response = conn.getresponse()
        assert response.status == 413
        assert response.getheader("Connection") == "close"
        assert b"10485760 bytes" in response.read()
    finally:
        conn.close()
    # Served on (any answer from the app: /ping is the WSGI app's, / is FastAPI's).
    assert server.get("/ping" if app == "wsgi_server" else "/").status == 200
