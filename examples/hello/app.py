"""Hello world for Puff: a plain Flask app whose views run as greenlets on Tokio.

Serve it with ``cargo xtask serve`` (or ``puff-cli --config examples/hello/puff.toml runserver``)
and run the command with ``puff-cli --config examples/hello/puff.toml hello_world``.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import puff
from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

app = Flask(__name__)

# A file that is always there: this module's own source.
THIS_FILE = str(Path(__file__).resolve())


@app.get("/")
def index() -> ResponseReturnValue:
    return "Hello from Puff!\n", {"Content-Type": "text/plain; charset=utf-8"}


@app.get("/sleep")
def sleep() -> ResponseReturnValue:
    # puff.sleep_ms pauses only this greenlet: thousands of these can wait at once.
    ms = request.args.get("ms", default=100, type=int)
    puff.sleep_ms(ms)
    return jsonify(slept_ms=ms)


@puff.blocking
def read_slowly(path: str, delay_s: float) -> tuple[int, int]:
    """Ordinary blocking code: it runs on Puff's blocking thread pool, not the greenlet thread."""
    time.sleep(delay_s)
    with open(path, "rb") as f:
        return len(f.read()), threading.get_ident()


@app.get("/blocking")
def blocking() -> ResponseReturnValue:
    size, pool_thread = read_slowly(THIS_FILE, 0.1)
    return jsonify(
        bytes_read=size,
        ran_on_other_thread=pool_thread != threading.get_ident(),
    )


@app.get("/error")
def error() -> ResponseReturnValue:
    # Flask turns this into a 500 and logs the traceback; the server keeps running.
    raise RuntimeError("this route fails on purpose")


# `puff-cli --config examples/hello/puff.toml hello_world` runs this in a greenlet.
def hello_world() -> None:
    fn = THIS_FILE
    result_bytes = puff.read_file_bytes(fn)  # Puff async function that runs in Tokio.
    result_py_bytes = do_some_blocking_work(fn)  # Plain Python I/O on the blocking pool.
    print(
        f"Hello from python!! {Path(fn).name} is {len(result_bytes)} bytes long from rust "
        f"and {len(result_py_bytes)} bytes from Python."
    )


# 100% of python packages are compatible by wrapping them in the blocking decorator.
@puff.blocking
def do_some_blocking_work(fn: str) -> bytes:
    with open(fn, "rb") as f:
        return f.read()
