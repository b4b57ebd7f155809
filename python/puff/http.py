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

from typing import TYPE_CHECKING, Any

from puff import PuffError, _native, _require_native

if TYPE_CHECKING:
    from puff._native import _HttpClient, _HttpModule

# None outside the runtime, or in a build without the `http` feature.
_http: _HttpModule | None = getattr(_native, "http", None) if _native is not None else None

if TYPE_CHECKING:  # the native classes, as puff/_native.pyi describes them
    from puff._native import _HttpConnectError as ConnectError
    from puff._native import _HttpError as HttpError
    from puff._native import _HttpJSONDecodeError as JSONDecodeError
    from puff._native import _HttpTimeoutError as TimeoutError  # noqa: A004
elif _http is not None:
    HttpError = _http.HttpError
    ConnectError = _http.ConnectError
    TimeoutError = _http.TimeoutError  # noqa: A001 - mirrors the native module
    JSONDecodeError = _http.JSONDecodeError
else:

    class HttpError(PuffError):
        """An HTTP request made with puff.http failed."""

    class ConnectError(HttpError):
        pass

    class TimeoutError(HttpError):  # noqa: A001
        pass

    class JSONDecodeError(HttpError):
        pass


def named_client(name: str = "default") -> _HttpClient:
    """The client configured as ``[[http_client]] name = "..."`` (``default`` always exists)."""
    _require_native()
    if _http is None:
        raise ImportError("puff._native.http is missing: Puff was built without the `http` feature")
    return _http.client(name)


class _GlobalClient:
    """``global_http_client``: usable as ``global_http_client.get(...)`` or
    ``global_http_client().get(...)`` (both spellings appear in the Puff docs)."""

    def __call__(self) -> _HttpClient:
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
