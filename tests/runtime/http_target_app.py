"""Raw WSGI app the puff.http client tests talk to (served by a separate puff-cli)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path.startswith("/status/"):
        code = int(path.rsplit("/", 1)[1])
        start_response(f"{code} Status", [("Content-Type", "text/plain")])
        return [f"status {code}".encode()]
    if path == "/slow":
        ms = int(environ["QUERY_STRING"].partition("=")[2] or "1000")
        time.sleep(
            ms / 1000
        )  # this server's greenlet thread may block: it is a test target
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"slow"]
    if path == "/notjson":
        start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        return ["héllo, not json".encode()]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    payload = {
        "method": environ["REQUEST_METHOD"],
        "query": environ["QUERY_STRING"],
        "protocol": environ["SERVER_PROTOCOL"],
        "content_type": environ.get("CONTENT_TYPE", ""),
        "x_test": environ.get("HTTP_X_TEST"),
        "body": body.decode("utf-8", "replace"),
        "json": json.loads(body)
        if environ.get("CONTENT_TYPE") == "application/json"
        else None,
    }
    out = json.dumps(payload).encode()
    start_response(
        "201 Created",
        [("Content-Type", "application/json"), ("X-Reply", "a"), ("X-Reply", "b")],
    )
    return [out]
