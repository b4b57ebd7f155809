"""Flask app served by puff-cli in the black-box tests (flask.toml, cors_gzip.toml).

Module-level counters let the tests observe concurrency from inside the server instead of
relying on wall-clock timings.
"""

from __future__ import annotations

import hashlib
import threading
import time

import puff
from flask import Flask, Response, jsonify, request
from flask.typing import ResponseReturnValue

app = Flask(__name__)

_lock = threading.Lock()
_release_blocking = threading.Event()
stats: dict[str, int] = {}


def _reset() -> None:
    with _lock:
        stats.update(
            in_flight=0,
            max_in_flight=0,
            sleeps_done=0,
            blocking_in_progress=0,
            blocking_done=0,
        )
    _release_blocking.clear()


_reset()


@app.get("/ping")
def ping() -> ResponseReturnValue:
    return jsonify(pong=True, blocking_in_progress=stats["blocking_in_progress"])


@app.post("/reset")
def reset() -> ResponseReturnValue:
    _reset()
    return jsonify(stats)


@app.get("/stats")
def get_stats() -> ResponseReturnValue:
    return jsonify(stats)


@app.get("/sleep")
def sleep() -> ResponseReturnValue:
    ms = request.args.get("ms", default=100, type=int)
    with _lock:
        stats["in_flight"] += 1
        stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])
    try:
        puff.sleep_ms(ms)
    finally:
        with _lock:
            stats["in_flight"] -= 1
            stats["sleeps_done"] += 1
    return jsonify(slept_ms=ms, i=request.args.get("i", type=int))


@puff.blocking
def blocking_sleep(seconds: float) -> int:
    time.sleep(seconds)
    return threading.get_ident()


@puff.blocking
def blocking_wait_for_release(timeout_s: float) -> bool:
    return _release_blocking.wait(timeout_s)


def _track_blocking(started: bool) -> None:
    with _lock:
        if started:
            stats["blocking_in_progress"] += 1
        else:
            stats["blocking_in_progress"] -= 1
            stats["blocking_done"] += 1


@app.get("/blocking-sleep")
def blocking_sleep_view() -> ResponseReturnValue:
    seconds = request.args.get("seconds", default=1.0, type=float)
    _track_blocking(True)
    try:
        pool_thread = blocking_sleep(seconds)
    finally:
        _track_blocking(False)
    return jsonify(greenlet_thread=threading.get_ident(), blocking_thread=pool_thread)


@app.get("/blocking-wait")
def blocking_wait_view() -> ResponseReturnValue:
    _track_blocking(True)
    try:
        released = blocking_wait_for_release(30.0)
    finally:
        _track_blocking(False)
    return jsonify(released=released)


@app.post("/release")
def release() -> ResponseReturnValue:
    _release_blocking.set()
    return jsonify(released=True)


@app.post("/echo")
def echo() -> ResponseReturnValue:
    data = request.get_data(cache=False)
    return jsonify(
        length=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content_length=request.headers.get("Content-Length"),
        transfer_encoding=request.headers.get("Transfer-Encoding"),
    )


@app.get("/query")
def query() -> ResponseReturnValue:
    return jsonify(
        query_string=request.environ.get("QUERY_STRING"),
        args=request.args.to_dict(flat=False),
    )


@app.get("/headers")
def headers() -> ResponseReturnValue:
    return jsonify(
        x_repeat=request.environ.get("HTTP_X_REPEAT"),
        x_single=request.environ.get("HTTP_X_SINGLE"),
    )


@app.get("/échø/<name>")
def unicode_path(name: str) -> ResponseReturnValue:
    return jsonify(path=request.path, name=name)


@app.get("/error")
def error() -> ResponseReturnValue:
    marker = request.args.get("marker", "")
    raise RuntimeError(f"flask view failed on purpose {marker}")


@app.get("/big")
def big() -> ResponseReturnValue:
    lines = request.args.get("lines", default=5000, type=int)
    text = "".join(f"line {i}: Puff serves Flask on Tokio greenlets\n" for i in range(lines))
    return Response(text, content_type="text/plain; charset=utf-8")
