"""PEP 3333 details, checked with the raw WSGI app in apps/wsgi_app.py."""

from __future__ import annotations

import hashlib
import http.client
import os
import uuid

from puffserver import HOST, PuffServer, wait_until


def _token() -> str:
    return uuid.uuid4().hex


def test_start_response_exc_info_replaces_headers(wsgi_server: PuffServer) -> None:
    result = wsgi_server.get("/exc-info")
    assert result.status == 500, result.describe()
    assert result.header("X-Replaced") == "yes", result.describe()
    assert result.header("X-First") is None, "headers from the first start_response leaked"
    assert result.body == b"replaced"


def test_second_start_response_without_exc_info_raises(wsgi_server: PuffServer) -> None:
    result = wsgi_server.get("/start-twice")
    assert result.body.startswith(b"raised:"), result.describe()


def test_exc_info_after_headers_sent_reraises(wsgi_server: PuffServer) -> None:
    """Once the body has started, start_response(..., exc_info) must raise (PEP 3333);
    the app records what happened and a later request reads it back."""
    token = _token()
    result = wsgi_server.get(f"/exc-info-late?token={token}")
    assert result.status == 200, result.describe()
    assert result.body == b"first;second"
    outcome = wsgi_server.get(f"/exc-info-late-result?token={token}").json()["outcome"]
    assert str(outcome).startswith("raised:"), f"start_response(..., exc_info): {outcome}"


def test_write_callable_output_comes_before_iterable(wsgi_server: PuffServer) -> None:
    result = wsgi_server.get("/write")
    assert result.status == 200, result.describe()
    assert result.body == b"from-write-1;from-write-2;from-iterable-1;from-iterable-2"


def test_iterable_close_is_called(wsgi_server: PuffServer) -> None:
    token = _token()
    assert wsgi_server.get(f"/closed?token={token}").json() == {"closed": False}
    result = wsgi_server.get(f"/close?token={token}")
    assert result.status == 200, result.describe()
    assert result.body == b"closing-iterable"
    wait_until(
        lambda: wsgi_server.get(f"/closed?token={token}").json()["closed"],
        "close() of the returned iterable was never called",
        timeout=10,
    )


def test_generator_close_is_called(wsgi_server: PuffServer) -> None:
    token = _token()
    result = wsgi_server.get(f"/close-generator?token={token}")
    assert result.body == b"gen-body", result.describe()
    wait_until(
        lambda: wsgi_server.get(f"/closed?token={token}").json()["closed"],
        "the generator's finally block never ran (close() not called)",
        timeout=10,
    )


def test_generator_response_is_streamed(wsgi_server: PuffServer) -> None:
    """The app's generator waits (puff.sleep_ms loop) before each chunk until the test has
    released it; the test only releases chunk i after it has *received* chunk i-1, so the
    response can only complete if every chunk is sent as soon as it is yielded."""
    token = _token()
    chunks = 4
    conn = http.client.HTTPConnection(HOST, wsgi_server.port, timeout=10)
    try:
        conn.request("GET", f"/stream?token={token}&chunks={chunks}")
        resp = conn.getresponse()
        assert resp.status == 200
        received = b""
        for i in range(chunks):
            expected = f"chunk-{i};".encode()
            while not received.endswith(expected):
                try:
                    piece = resp.read1(65536)
                except TimeoutError:
                    raise AssertionError(
                        f"chunk {i} was yielded but did not reach the client: responses "
                        f"are buffered (received so far: {received!r})"
                    ) from None
                assert piece, f"response ended early after {received!r}"
                received += piece
            if i + 1 < chunks:
                released = wsgi_server.get(f"/stream-release?token={token}")
                assert released.status == 200, released.describe()
        assert resp.read() == b""
        assert received == b"".join(f"chunk-{i};".encode() for i in range(chunks))
    finally:
        conn.close()


def test_generator_with_sleeps_between_chunks(wsgi_server: PuffServer) -> None:
    result = wsgi_server.get("/stream-sleepy")
    assert result.status == 200, result.describe()
    assert result.body == b"part-0;part-1;part-2;part-3;part-4;"


def test_wsgi_input_read_in_pieces(wsgi_server: PuffServer) -> None:
    body = b"HELLO world\nsecond line\n\nthird\r\nno-newline-tail"
    result = wsgi_server.post("/input-pieces?mode=mixed", body)
    assert result.status == 200, result.describe()
    assert result.json()["calls"] == [
        ["read(5)", "HELLO"],
        ["readline()", " world\n"],
        ["iter", "second line\n"],
        ["iter", "\n"],
        ["iter", "third\r\n"],
        ["iter", "no-newline-tail"],
        ["read()", ""],
    ]


def test_wsgi_input_readlines(wsgi_server: PuffServer) -> None:
    body = b"abcdef\nline two\nend"
    result = wsgi_server.post("/input-pieces?mode=readlines", body)
    assert result.status == 200, result.describe()
    assert result.json()["calls"] == [
        ["read(3)", "abc"],
        ["readlines", "def\n"],
        ["readlines", "line two\n"],
        ["readlines", "end"],
        ["read()", ""],
    ]


def test_wsgi_input_sized_reads_of_big_body(wsgi_server: PuffServer) -> None:
    body = os.urandom(3 * 1024 * 1024 + 17)
    result = wsgi_server.post("/input-pieces?mode=sized", body)
    assert result.status == 200, result.describe()
    assert result.json() == {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def test_wsgi_input_of_chunked_body_read_in_pieces(wsgi_server: PuffServer) -> None:
    result = wsgi_server.post(
        "/input-pieces?mode=mixed", iter([b"HEL", b"LO wor", b"ld\nsec", b"ond\ntail"])
    )
    assert result.status == 200, result.describe()
    assert result.json()["calls"] == [
        ["read(5)", "HELLO"],
        ["readline()", " world\n"],
        ["iter", "second\n"],
        ["iter", "tail"],
        ["read()", ""],
    ]


def test_environ_has_the_required_keys(wsgi_server: PuffServer) -> None:
    marker = f"errors-{_token()}"
    result = wsgi_server.request(
        "POST",
        f"/environ/some/where?x=1&y=%20z&errors_marker={marker}",
        body=b"12345",
        headers=[("Content-Type", "text/plain"), ("X-Custom-Thing", "v")],
    )
    assert result.status == 200, result.describe()
    info = result.json()
    cgi = info["cgi"]
    assert cgi["REQUEST_METHOD"] == "POST"
    assert cgi["SCRIPT_NAME"] == ""
    assert cgi["PATH_INFO"] == "/environ/some/where"
    assert cgi["QUERY_STRING"] == f"x=1&y=%20z&errors_marker={marker}"
    assert cgi["SERVER_NAME"], cgi
    assert cgi["SERVER_PORT"] == str(wsgi_server.port)
    assert cgi["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert cgi["CONTENT_TYPE"] == "text/plain"
    assert cgi["CONTENT_LENGTH"] == "5"
    assert cgi["HTTP_X_CUSTOM_THING"] == "v"
    assert cgi["HTTP_HOST"] == f"{HOST}:{wsgi_server.port}"
    assert "HTTP_CONTENT_TYPE" not in cgi
    assert "HTTP_CONTENT_LENGTH" not in cgi
    not_str = {k: t for k, t in info["cgi_types"].items() if t != "str"}
    assert not not_str, f"PEP 3333: CGI environ values must be str, got {not_str}"

    wsgi = info["wsgi"]
    assert wsgi["wsgi.version"] == [1, 0]
    assert info["wsgi_types"]["wsgi.version"] == "tuple"
    assert wsgi["wsgi.url_scheme"] == "http"
    for flag in ("wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once"):
        assert info["wsgi_types"][flag] == "bool", (flag, info["wsgi_types"])
    assert wsgi["wsgi.run_once"] is False
    assert info["errors_api"] == ["write", "writelines", "flush"]
    assert info["input_api"] == ["read", "readline", "readlines", "__iter__"]
    assert info["body_length"] == 5

    assert marker in wsgi_server.wait_for_log(marker), "wsgi.errors output is not on stderr"


def test_environ_of_get_without_body(wsgi_server: PuffServer) -> None:
    result = wsgi_server.get("/environ")
    info = result.json()
    assert info["cgi"]["REQUEST_METHOD"] == "GET"
    assert info["cgi"]["QUERY_STRING"] == ""
    assert info["cgi"]["PATH_INFO"] == "/environ"
    assert info["body_length"] == 0
