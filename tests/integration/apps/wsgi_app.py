"""Raw PEP 3333 WSGI app (no framework) for the protocol-level black-box tests.

Dispatches on PATH_INFO. State that a test checks through a later request (``close()``
calls, generator progress) lives in module globals keyed by a test-chosen token.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

import puff

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
WsgiResult = Iterable[bytes]

closed_tokens: set[str] = set()
late_exc_info: dict[str, str] = {}
stream_released: dict[str, int] = {}
stream_progress: dict[str, int] = {}


def _query(environ: Environ) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def _json(start_response: StartResponse, payload: object, status: str = "200 OK") -> WsgiResult:
    body = json.dumps(payload, default=repr).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def _text(start_response: StartResponse, text: bytes, status: str = "200 OK") -> WsgiResult:
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(text)))])
    return [text]


def ping(environ: Environ, start_response: StartResponse) -> WsgiResult:
    return _text(start_response, b"pong")


def read_body(environ: Environ) -> bytes:
    """The request body: CONTENT_LENGTH bytes, or everything up to EOF when it is chunked."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH") or ""
    if length:
        remaining = int(length)
        parts = []
        while remaining > 0:
            piece = stream.read(min(remaining, 65536))
            if not piece:
                break
            parts.append(piece)
            remaining -= len(piece)
        return b"".join(parts)
    if "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return b""
    parts = []
    while piece := stream.read(65536):
        parts.append(piece)
    return b"".join(parts)


def echo(environ: Environ, start_response: StartResponse) -> WsgiResult:
    data = read_body(environ)
    return _json(
        start_response,
        {"length": len(data), "sha256": hashlib.sha256(data).hexdigest()},
    )


def environ_view(environ: Environ, start_response: StartResponse) -> WsgiResult:
    errors = environ.get("wsgi.errors")
    marker = _query(environ).get("errors_marker")
    if marker and errors is not None:
        errors.write(f"wsgi.errors says {marker}\n")
        errors.flush()
    missing = object()
    wsgi_keys = [
        "wsgi.version",
        "wsgi.url_scheme",
        "wsgi.multithread",
        "wsgi.multiprocess",
        "wsgi.run_once",
    ]
    info = {
        "cgi": {k: v for k, v in environ.items() if "." not in k},
        "cgi_types": {k: type(v).__name__ for k, v in environ.items() if "." not in k},
        "wsgi": {k: environ.get(k, "<missing>") for k in wsgi_keys},
        "wsgi_types": {k: type(environ.get(k, missing)).__name__ for k in wsgi_keys},
        "errors_api": [m for m in ("write", "writelines", "flush") if hasattr(errors, m)],
        "input_api": [
            m
            for m in ("read", "readline", "readlines", "__iter__")
            if hasattr(environ.get("wsgi.input"), m)
        ],
        "body_length": len(read_body(environ)),
    }
    return _json(start_response, info)


def input_pieces(environ: Environ, start_response: StartResponse) -> WsgiResult:
    """Read wsgi.input with every PEP 3333 method; report what each call returned."""
    stream = environ["wsgi.input"]
    mode = _query(environ).get("mode", "mixed")
    calls: list[tuple[str, str]] = []

    def record(name: str, value: bytes) -> None:
        calls.append((name, value.decode("latin-1")))

    if mode == "mixed":
        record("read(5)", stream.read(5))
        record("readline()", stream.readline())
        for line in stream:
            record("iter", line)
        record("read()", stream.read())
    elif mode == "readlines":
        record("read(3)", stream.read(3))
        for line in stream.readlines():
            record("readlines", line)
        record("read()", stream.read())
    elif mode == "sized":
        digest = hashlib.sha256()
        total = 0
        while piece := stream.read(7777):
            total += len(piece)
            digest.update(piece)
        return _json(start_response, {"length": total, "sha256": digest.hexdigest()})
    return _json(start_response, {"calls": calls})


def exc_info_replaces(environ: Environ, start_response: StartResponse) -> WsgiResult:
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-First", "1")])
    try:
        raise ValueError("something went wrong before the body")
    except ValueError:
        start_response(
            "500 Internal Server Error",
            [("Content-Type", "text/plain"), ("X-Replaced", "yes")],
            sys.exc_info(),
        )
    return [b"replaced"]


def start_twice(environ: Environ, start_response: StartResponse) -> WsgiResult:
    start_response("200 OK", [("Content-Type", "text/plain")])
    try:
        start_response("201 Created", [("Content-Type", "text/plain")])
    except Exception as exc:  # noqa: BLE001 - PEP 3333: a 2nd call without exc_info must fail
        return [f"raised:{type(exc).__name__}".encode()]
    return [b"no-error"]


def exc_info_after_headers(environ: Environ, start_response: StartResponse) -> WsgiResult:
    token = _query(environ)["token"]
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body() -> Iterator[bytes]:
        yield b"first;"
        # The headers have been sent now: start_response(..., exc_info) must raise.
        try:
            raise ValueError("late failure")
        except ValueError:
            try:
                start_response("500 Internal Server Error", [], sys.exc_info())
            except BaseException as exc:  # noqa: BLE001 - recording what was raised
                late_exc_info[token] = f"raised:{type(exc).__name__}"
            else:
                late_exc_info[token] = "did-not-raise"
        yield b"second"

    return body()


def exc_info_late_result(environ: Environ, start_response: StartResponse) -> WsgiResult:
    return _json(start_response, {"outcome": late_exc_info.get(_query(environ)["token"])})


def write_then_iterable(environ: Environ, start_response: StartResponse) -> WsgiResult:
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"from-write-1;")
    write(b"from-write-2;")
    return [b"from-iterable-1;", b"from-iterable-2"]


class ClosingIterable:
    """An iterable result with close(), which the server must call (PEP 3333)."""

    def __init__(self, token: str, parts: list[bytes]) -> None:
        self.token = token
        self.parts = parts

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.parts)

    def close(self) -> None:
        closed_tokens.add(self.token)


def closing(environ: Environ, start_response: StartResponse) -> WsgiResult:
    token = _query(environ)["token"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ClosingIterable(token, [b"closing-", b"iterable"])


def closing_generator(environ: Environ, start_response: StartResponse) -> WsgiResult:
    token = _query(environ)["token"]
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body() -> Iterator[bytes]:
        try:
            yield b"gen-"
            yield b"body"
        finally:
            closed_tokens.add(token)

    return body()


def closed(environ: Environ, start_response: StartResponse) -> WsgiResult:
    return _json(start_response, {"closed": _query(environ)["token"] in closed_tokens})


def stream(environ: Environ, start_response: StartResponse) -> WsgiResult:
    """Yield ``chunks`` chunks; before chunk i (i >= 1) wait, in puff.sleep_ms steps,
    until the test has called /stream-release at least i times."""
    query = _query(environ)
    token = query["token"]
    chunks = int(query.get("chunks", "3"))
    stream_released.setdefault(token, 0)
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body() -> Iterator[bytes]:
        for i in range(chunks):
            waited_ms = 0
            while stream_released[token] < i and waited_ms < 30_000:
                puff.sleep_ms(10)
                waited_ms += 10
            stream_progress[token] = i + 1
            yield f"chunk-{i};".encode()

    return body()


def stream_release(environ: Environ, start_response: StartResponse) -> WsgiResult:
    token = _query(environ)["token"]
    stream_released[token] = stream_released.get(token, 0) + 1
    return _json(start_response, {"released": stream_released[token]})


def stream_sleepy(environ: Environ, start_response: StartResponse) -> WsgiResult:
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body() -> Iterator[bytes]:
        for i in range(5):
            if i:
                puff.sleep_ms(20)
            yield f"part-{i};".encode()

    return body()


def raise_error(environ: Environ, start_response: StartResponse) -> WsgiResult:
    raise RuntimeError(f"wsgi app failed on purpose {_query(environ).get('marker', '')}")


def raise_in_iterable(environ: Environ, start_response: StartResponse) -> WsgiResult:
    marker = _query(environ).get("marker", "")
    start_response("200 OK", [("Content-Type", "text/plain")])

    def body() -> Iterator[bytes]:
        raise RuntimeError(f"wsgi iterable failed on purpose {marker}")
        yield b"never"  # pragma: no cover - makes this a generator

    return body()


ROUTES: dict[str, Callable[[Environ, StartResponse], WsgiResult]] = {
    "/ping": ping,
    "/echo": echo,
    "/input-pieces": input_pieces,
    "/exc-info": exc_info_replaces,
    "/start-twice": start_twice,
    "/exc-info-late": exc_info_after_headers,
    "/exc-info-late-result": exc_info_late_result,
    "/write": write_then_iterable,
    "/close": closing,
    "/close-generator": closing_generator,
    "/closed": closed,
    "/stream": stream,
    "/stream-release": stream_release,
    "/stream-sleepy": stream_sleepy,
    "/raise": raise_error,
    "/raise-in-iterable": raise_in_iterable,
}


def app(environ: Environ, start_response: StartResponse) -> WsgiResult:
    path = environ.get("PATH_INFO", "")
    handler = ROUTES.get(path)
    if handler is None and path.startswith("/environ"):
        handler = environ_view
    if handler is None:
        return _text(start_response, f"no route for {path!r}".encode(), "404 Not Found")
    return handler(environ, start_response)
