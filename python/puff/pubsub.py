"""``puff.pubsub``: publish/subscribe across every process of a Puff deployment.

Backed by Redis when one is configured (``[[pubsub]]`` ``url`` / ``redis``, or the
``default`` ``[[redis]]`` pool), so a message published on one node reaches subscribers on
every node; with no Redis it runs in-process, so the same code works on a bare machine
(under ``--workers N`` with N > 1 an in-process instance refuses to be used: each worker
would have its own subscribers)::

    from puff.pubsub import global_pubsub

    pubsub = global_pubsub              # `puff.global_pubsub()` is the same object
    conn = pubsub.connection()
    conn.subscribe("chat")
    pubsub.publish_as(conn.connection_id, "chat", "hello")
    msg = conn.receive()                # waits; other greenlets keep running
    print(msg.channel, msg.text, msg.from_connection_id)

``receive(timeout_ms)`` returns ``None`` on timeout and after ``close()``. Every call works
from a greenlet (returns its result) and from a coroutine on Puff's event loop
(``asyncio = true``; returns an awaitable). Named clients come from ``[[pubsub]]`` entries
(``named_client(name)``). Publishing to a Redis that is down raises
``puff.redis.ConnectionError``; live subscriptions re-subscribe when it comes back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Union

from puff import PuffNotRunningError, _native

if TYPE_CHECKING:
    from puff._native import _PubSubModule, _PubSubNativeClient, _PubSubNativeConnection

__all__ = [
    "PubSubClient",
    "PubSubConnection",
    "PubSubMessage",
    "global_pubsub",
    "named_client",
    "names",
]

_native_pubsub: _PubSubModule | None = (
    getattr(_native, "pubsub", None) if _native is not None else None
)

if _native is not None and _native_pubsub is None:
    raise ImportError(
        "puff.pubsub needs the `pubsub` feature, which this build of Puff does not include: "
        "rebuild with it enabled (e.g. `cargo build -p puff-cli --features pubsub`)"
    )

if TYPE_CHECKING:  # the native class, as puff/_native.pyi describes it
    from puff._native import _PubSubMessage as PubSubMessage
elif _native_pubsub is not None and hasattr(_native_pubsub, "PubSubMessage"):
    PubSubMessage = _native_pubsub.PubSubMessage
else:  # outside the runtime: importable for tools and type checkers

    class PubSubMessage:
        """A received message (created by the runtime only)."""

        channel: str
        body: bytes
        text: str
        from_connection_id: str


def _require_native() -> _PubSubModule:
    if _native_pubsub is None:
        raise PuffNotRunningError(
            "puff.pubsub works only inside the Puff runtime (`puff-cli`, or a Rust binary "
            "built on puff-core with the `pubsub` feature)"
        )
    return _native_pubsub


Body = Union[str, bytes]


class PubSubConnection:
    """A subscriber: its own set of channels and its own queue of received messages.

    Use it as a context manager (or call ``close()``) to unsubscribe from everything."""

    def __init__(self, native: _PubSubNativeConnection) -> None:
        self._native = native

    @property
    def connection_id(self) -> str:
        """The id messages published with ``publish_as`` from this connection carry."""
        return str(self._native.connection_id)

    @property
    def closed(self) -> bool:
        return bool(self._native.closed)

    def subscribe(self, channel: str) -> bool:
        """Start receiving messages published on ``channel`` (from now on); True."""
        return self._native.subscribe(channel)

    def unsubscribe(self, channel: str) -> bool:
        """Stop receiving ``channel``'s messages; True."""
        return self._native.unsubscribe(channel)

    def receive(self, timeout_ms: int | None = None) -> PubSubMessage | None:
        """The next message on a subscribed channel; waits up to ``timeout_ms`` (forever
        when None). None on timeout or once the connection is closed."""
        return self._native.receive(timeout_ms)

    def publish(self, channel: str, message: Body) -> bool:
        """Publish with ``from_connection_id`` set to this connection's id; True."""
        return self._native.publish(channel, message)

    def close(self) -> None:
        """Unsubscribe from everything; a waiting or later ``receive()`` returns None."""
        self._native.close()

    def __enter__(self) -> PubSubConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<puff.pubsub.PubSubConnection {self.connection_id}>"


class PubSubClient:
    """Publishes and hands out connections on one named pub/sub instance. The instance is
    looked up on first use, so ``global_pubsub`` can be created outside the runtime."""

    def __init__(self, name: str = "default") -> None:
        self._name = name
        self._client: _PubSubNativeClient | None = None

    @property
    def _native(self) -> _PubSubNativeClient:
        if self._client is None:
            self._client = _require_native().client(self._name)
        return self._client

    @property
    def name(self) -> str:
        return self._name

    @property
    def backend(self) -> str:
        """``"redis"`` or ``"memory"`` (in-process)."""
        return str(self._native.backend)

    def new_connection_id(self) -> str:
        """A fresh id, for ``connection_with_id`` and ``publish_as``."""
        return str(self._native.new_connection_id())

    def connection(self) -> PubSubConnection:
        """A new subscriber connection with a fresh id."""
        return PubSubConnection(self._native.connection())

    def connection_with_id(self, connection_id: str) -> PubSubConnection:
        """A new subscriber connection whose ``connection_id`` is the given one."""
        return PubSubConnection(self._native.connection_with_id(connection_id))

    def publish(self, channel: str, message: Body) -> bool:
        """Send ``message`` to every subscriber of ``channel`` on every node; True."""
        return self._native.publish(channel, message)

    def publish_as(self, connection_id: str, channel: str, message: Body) -> bool:
        """Like :meth:`publish`, with ``from_connection_id`` set to ``connection_id``."""
        return self._native.publish_as(connection_id, channel, message)

    def __call__(self) -> PubSubClient:
        """``puff.global_pubsub()`` and ``global_pubsub`` are the same client."""
        return self

    def __repr__(self) -> str:
        return f"<puff.pubsub.PubSubClient {self._name!r}>"


def named_client(name: str = "default") -> PubSubClient:
    """The client configured as ``[[pubsub]] name = "..."`` (``default`` always exists)."""
    client = PubSubClient(name)
    if _native_pubsub is not None:
        client._native  # noqa: B018 - fail now on an unknown name
    return client


def names() -> list[str]:
    """Names of the configured pub/sub instances."""
    return list(_require_native().names())


global_pubsub = PubSubClient("default")
