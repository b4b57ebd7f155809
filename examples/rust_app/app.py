"""The Python half of the rust_app example: a raw WSGI app using the Rust global state."""

from __future__ import annotations

from typing import Any, Callable, Iterable

import puff

rust_obj = puff.global_state


def hello_world() -> None:
    print(rust_obj.hello_from_rust("Hello from Python!"))
    # Rust functions that run async code are passed a return function by wrap_async.
    print(puff.wrap_async(lambda ret_func: rust_obj.hello_from_rust_async(ret_func, "hello async")))


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/announce":
        # Python publishes into the chat the Rust websocket handler serves.
        from puff.pubsub import global_pubsub

        text = environ.get("QUERY_STRING", "") or "hello"
        global_pubsub.publish_as("python", "rust-chat:lobby", text)
        body = b"announced\n"
    elif environ["PATH_INFO"] == "/async":
        value = puff.wrap_async(lambda r: rust_obj.hello_from_rust_async(r, "from WSGI"))
        body = f"Rust computed {value}\n".encode()
    else:
        body = (rust_obj.hello_from_rust("from WSGI") + "\n").encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
