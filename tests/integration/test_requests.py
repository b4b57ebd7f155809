"""Requests reach the app exactly: bodies (plain, 5 MiB, chunked), query strings, repeated
headers and non-ASCII paths."""

from __future__ import annotations

import hashlib
import json
import os
from urllib.parse import quote

import pytest
from puffserver import PuffServer, chunked_parts, exchange_while_sending

FIVE_MIB = 5 * 1024 * 1024


def _expected(body: bytes) -> dict[str, object]:
    return {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}


@pytest.mark.parametrize(
    "body",
    [b"", b"hello=world&x=1", "ünïcödé body ✓".encode(), bytes(range(256)) * 4],
    ids=["empty", "form", "utf8", "all-bytes"],
)
def test_small_post_body_reaches_flask(flask_server: PuffServer, body: bytes) -> None:
    result = flask_server.post(
        "/echo", body, headers=[("Content-Type", "application/octet-stream")]
    )
    assert result.status == 200, result.describe()
    got = result.json()
    assert {k: got[k] for k in ("length", "sha256")} == _expected(body)
    assert got["content_length"] == str(len(body))


def test_5mib_random_body_reaches_flask(flask_server: PuffServer) -> None:
    body = os.urandom(FIVE_MIB)
    result = flask_server.post(
        "/echo", body, headers=[("Content-Type", "application/octet-stream")]
    )
    assert result.status == 200, result.describe()
    got = result.json()
    assert {k: got[k] for k in ("length", "sha256")} == _expected(body)


def test_5mib_random_body_reaches_raw_wsgi(wsgi_server: PuffServer) -> None:
    body = os.urandom(FIVE_MIB)
    result = wsgi_server.post("/echo", body)
    assert result.status == 200, result.describe()
    assert result.json() == _expected(body)


def _chunks(total: int, size: int) -> list[bytes]:
    data = os.urandom(total)
    return [data[i : i + size] for i in range(0, total, size)]


@pytest.mark.parametrize("app", ["flask", "wsgi"])
def test_chunked_body_reaches_app(
    app: str, flask_server: PuffServer, wsgi_server: PuffServer
) -> None:
    """http.client sends ``Transfer-Encoding: chunked``, one chunk per piece (Flask needs
    ``wsgi.input_terminated`` in environ to read such a body)."""
    server = flask_server if app == "flask" else wsgi_server
    pieces = [*_chunks(300000, 7001), b"x", b"tail-bytes"]
    body = b"".join(pieces)
    result = server.post(
        "/echo", iter(pieces), headers=[("Content-Type", "application/octet-stream")]
    )
    assert result.status == 200, result.describe()
    got = result.json()
    assert {k: got[k] for k in ("length", "sha256")} == _expected(body)
    if app == "flask":
        assert got["transfer_encoding"] == "chunked"


def test_raw_chunked_request_with_extension_and_trailer(wsgi_server: PuffServer) -> None:
    """Hand-framed chunked body: chunk extensions and a trailer must not leak into the body."""
    head = (
        b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n"
    )
    frames = [b"5;name=value\r\nhello\r\n", b"7\r\n, world\r\n", b"0\r\nX-Trailer: t\r\n\r\n"]
    exchange = exchange_while_sending(wsgi_server.port, head, frames)
    assert exchange.status == 200, exchange.describe()
    assert json.loads(exchange.body) == _expected(b"hello, world")


def test_raw_chunked_big_body_in_64k_frames(wsgi_server: PuffServer) -> None:
    body = os.urandom(1_000_003)
    head = (
        b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n"
    )
    exchange = exchange_while_sending(wsgi_server.port, head, chunked_parts(body, 65_536))
    assert exchange.status == 200, exchange.describe()
    assert json.loads(exchange.body) == _expected(body)


def test_query_string_with_special_characters(flask_server: PuffServer) -> None:
    query = (
        "a=1&b=hello%20world&c=%26%3D%3F%23&d=caf%C3%A9&e=%E6%97%A5%E6%9C%AC"
        "&f=a+b&g=1&g=2&empty=&slash=%2F"
    )
    result = flask_server.get(f"/query?{query}")
    assert result.status == 200, result.describe()
    got = result.json()
    assert got["query_string"] == query, "QUERY_STRING must be passed through undecoded"
    assert got["args"] == {
        "a": ["1"],
        "b": ["hello world"],
        "c": ["&=?#"],
        "d": ["café"],
        "e": ["日本"],
        "f": ["a b"],
        "g": ["1", "2"],
        "empty": [""],
        "slash": ["/"],
    }


def test_repeated_headers_are_joined(flask_server: PuffServer) -> None:
    result = flask_server.get(
        "/headers",
        headers=[("X-Repeat", "first"), ("X-Single", "only"), ("X-Repeat", "second, third")],
    )
    assert result.status == 200, result.describe()
    assert result.json() == {"x_repeat": "first, second, third", "x_single": "only"}


def test_non_ascii_path_reaches_flask_decoded(flask_server: PuffServer) -> None:
    path = "/échø/日本"
    result = flask_server.get(quote(path))
    assert result.status == 200, result.describe()
    assert result.json() == {"path": path, "name": "日本"}


def test_non_ascii_path_info_is_latin1_decoded_bytes(wsgi_server: PuffServer) -> None:
    """PEP 3333: PATH_INFO is the URL-decoded path's bytes, decoded as latin-1."""
    path = "/environ/échø/日本 x"
    result = wsgi_server.get(quote(path))
    assert result.status == 200, result.describe()
    path_info = result.json()["cgi"]["PATH_INFO"]
    assert path_info == path.encode("utf-8").decode("latin-1")
    assert path_info.encode("latin-1").decode("utf-8") == path
