"""``puff.http``: Puff's pooled HTTP/1.1 + HTTP/2 client (reqwest, in Rust).

From a greenlet every call returns its result; from a coroutine on Puff's event loop
(``asyncio = true``) it returns an awaitable::

    from puff.http import global_http_client

    http_client = global_http_client

    def in_greenlet():
        response = http_client.post("http://localhost:7777/", json={"my_data": [1, 2]})
        return response.json()

    async def in_coroutine():
        response = await http_client.post("http://localhost:7777/", json={"my_data": [1, 2]})
        return await response.json()

Named clients come from ``[[http_client]]`` entries in puff.toml (``named_client(name)``).
Failures raise ``ConnectError``, ``TimeoutError``, ``JSONDecodeError`` (all ``HttpError``,
itself a ``puff.PuffIOError``); 4xx/5xx responses are returned, not raised.
"""

from __future__ import annotations

from typing import Any

from puff import PuffError, _require_native

try:
    from puff._native import http as _http  # type: ignore[attr-defined]
except ImportError:  # outside the runtime
    _http = None

if _http is not None:
    HttpError = _http.HttpError
    ConnectError = _http.ConnectError
    TimeoutError = _http.TimeoutError  # noqa: A001 - mirrors the native module
    JSONDecodeError = _http.JSONDecodeError
else:

    class HttpError(PuffError):  # type: ignore[no-redef]
        """An HTTP request made with puff.http failed."""

    class ConnectError(HttpError):  # type: ignore[no-redef]
        pass

    class TimeoutError(HttpError):  # type: ignore[no-redef]  # noqa: A001
        pass

    class JSONDecodeError(HttpError):  # type: ignore[no-redef]
        pass


def named_client(name: str = "default") -> Any:
    """The client configured as ``[[http_client]] name = "..."`` (``default`` always exists)."""
    _require_native()
    if _http is None:
        raise ImportError("puff._native.http is missing: Puff was built without the `http` feature")
    return _http.client(name)


class _GlobalClient:
    """``global_http_client``: usable as ``global_http_client.get(...)`` or
    ``global_http_client().get(...)`` (both spellings appear in the Puff docs)."""

    def __call__(self) -> Any:
        return named_client("default")

    def __getattr__(self, name: str) -> Any:
        return getattr(named_client("default"), name)

    def __repr__(self) -> str:
        return "<puff.http global_http_client>"


global_http_client = _GlobalClient()

__all__ = [
    "ConnectError",
    "HttpError",
    "JSONDecodeError",
    "TimeoutError",
    "global_http_client",
    "named_client",
]
