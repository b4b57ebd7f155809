"""examples/chat works as its README says: two Puff processes on one Redis share the rooms.

A private redis-server (tests/redis/redis_server.py) and two ``puff-cli runserver``
processes serving examples/chat on it; websocket clients on each node talk through
``puff.pubsub``.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from puffserver import HOST, REPO_ROOT, PuffServer, private_redis, wait_until
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

EXAMPLE = REPO_ROOT / "examples" / "chat"
RECV_TIMEOUT_S = 10.0


@pytest.fixture(scope="module")
def redis() -> Iterator[Any]:
    """A private redis-server (a ``RedisServer``: ``.url``, ``.port``)."""
    with private_redis() as server:
        yield server


def subscribers(redis: Any, channel: str) -> int:
    """``PUBSUB NUMSUB channel`` on the private server: Redis subscribers of ``channel``."""
    args = [b"PUBSUB", b"NUMSUB", channel.encode()]
    request = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
    with socket.create_connection((HOST, redis.port), timeout=RECV_TIMEOUT_S) as sock:
        sock.sendall(request)
        reply = b""
        while not (reply.count(b"\r\n") >= 4 and reply.endswith(b"\r\n")):
            chunk = sock.recv(4096)
            assert chunk, reply
            reply += chunk
    # *2 $len channel :count
    last = reply.split(b"\r\n")[-2]
    assert last.startswith(b":"), reply
    return int(last[1:])


def _node(name: str, redis: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PuffServer]:
    server = PuffServer(
        name,
        EXAMPLE / "puff.toml",
        tmp_path_factory.mktemp(name),
        env={"PUFF_DEFAULT_REDIS_URL": redis.url},
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def node_a(redis: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PuffServer]:
    yield from _node("chat-node-a", redis, tmp_path_factory)


@pytest.fixture(scope="module")
def node_b(redis: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PuffServer]:
    yield from _node("chat-node-b", redis, tmp_path_factory)


class Client:
    """A websocket client of the chat: every frame the server sends is one JSON event."""

    def __init__(self, node: PuffServer, room: str, name: str) -> None:
        self.name = name
        self.ws: ClientConnection = connect(
            f"ws://{HOST}:{node.port}/ws/{quote(room)}?name={quote(name)}",
            open_timeout=RECV_TIMEOUT_S,
        )
        self.connection_id = ""

    def event(self) -> dict[str, Any]:
        try:
            frame = self.ws.recv(timeout=RECV_TIMEOUT_S)
        except TimeoutError:
            raise AssertionError(f"{self.name}: no event within {RECV_TIMEOUT_S} s") from None
        assert isinstance(frame, str), frame
        event = json.loads(frame)
        assert isinstance(event, dict), event
        return event

    def joined(self) -> Client:
        """Read the welcome (sent once subscribed) and this client's own join notice."""
        welcome = self.event()
        assert welcome["type"] == "welcome", welcome
        assert welcome["name"] == self.name, welcome
        self.connection_id = welcome["connection_id"]
        assert self.connection_id
        self.expect("join", self)
        return self

    def expect(self, kind: str, sender: Client, text: str | None = None) -> dict[str, Any]:
        """The next event is ``kind`` from ``sender`` (name and pub/sub connection id)."""
        event = self.event()
        assert event["type"] == kind, (self.name, event)
        assert event["from"] == sender.name, (self.name, event)
        assert event["connection_id"] == sender.connection_id, (self.name, event)
        if text is not None:
            assert event["text"] == text, (self.name, event)
        return event

    def say(self, text: str) -> None:
        self.ws.send(text)

    def close_code(self) -> int | None:
        """Read until the server closes the connection; its close code."""
        try:
            while True:
                self.ws.recv(timeout=RECV_TIMEOUT_S)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None
        except TimeoutError:
            raise AssertionError(f"{self.name}: still open after {RECV_TIMEOUT_S} s") from None

    def close(self) -> None:
        self.ws.close()

    def drop(self) -> None:
        """Go away without a close frame (the server sees 1006)."""
        self.ws.socket.shutdown(socket.SHUT_RDWR)
        self.ws.socket.close()


def health(node: PuffServer) -> dict[str, Any]:
    result = node.get("/health")
    assert result.status == 200, result.describe()
    return result.json()


def assert_idle(node: PuffServer) -> None:
    """Every relay task of the node's websockets has finished (none leaked)."""
    wait_until(
        lambda: health(node)["open_connections"] == 0,
        lambda: f"{node.name} still has open connections: {health(node)}",
        timeout=RECV_TIMEOUT_S,
    )


def assert_clean_log(node: PuffServer) -> None:
    for line in node.stderr().splitlines():
        assert " ERROR " not in line and " WARN " not in line, line
    assert "Traceback" not in node.stderr(), node.stderr()


def test_page_and_health(node_a: PuffServer, node_b: PuffServer) -> None:
    for node in (node_a, node_b):
        page = node.get("/")
        assert page.status == 200, page.describe()
        assert (page.header("content-type") or "").startswith("text/html"), page.describe()
        assert "new WebSocket" in page.text()
        assert health(node) == {"status": "ok", "pubsub": "redis", "open_connections": 0}


def test_two_nodes_share_a_room(redis: Any, node_a: PuffServer, node_b: PuffServer) -> None:
    alice = Client(node_a, "lobby", "alice").joined()
    bob = Client(node_b, "lobby", "bob").joined()
    alice.expect("join", bob, "bob joined")
    assert alice.connection_id != bob.connection_id
    assert subscribers(redis, "chat:lobby") == 2  # each node subscribed through Redis
    carol = Client(node_b, "elsewhere", "carol").joined()  # same node as bob, other room

    alice.say("hello from node A")
    bob.expect("message", alice, "hello from node A")
    alice.expect("message", alice, "hello from node A")  # the sender sees it too
    bob.say("héllo from node B ✓")
    alice.expect("message", bob, "héllo from node B ✓")
    bob.expect("message", bob, "héllo from node B ✓")

    # Redis delivers in publish order: had anything from "lobby" reached carol, it would
    # come before her own message, published after all of them.
    carol.say("anyone here?")
    carol.expect("message", carol, "anyone here?")

    # Alice closes: bob hears it, node A keeps no task for her, and a newcomer on node A
    # still chats with bob.
    alice.close()
    bob.expect("leave", alice, "alice left")
    assert_idle(node_a)
    dave = Client(node_a, "lobby", "dave").joined()
    bob.expect("join", dave, "dave joined")
    dave.say("still working?")
    bob.expect("message", dave, "still working?")
    dave.expect("message", dave)
    bob.say("yes")
    dave.expect("message", bob, "yes")
    bob.expect("message", bob, "yes")

    # Bob just vanishes (no close frame): same on node B.
    bob.drop()
    dave.expect("leave", bob, "bob left")
    erin = Client(node_b, "lobby", "erin").joined()
    dave.expect("join", erin, "erin joined")
    erin.say("hi dave")
    dave.expect("message", erin, "hi dave")
    erin.expect("message", erin, "hi dave")
    dave.say("hi erin")
    erin.expect("message", dave, "hi erin")

    for client in (carol, dave, erin):
        client.close()
    assert_idle(node_a)
    assert_idle(node_b)
    # Every pub/sub connection was closed: no node is subscribed to the rooms any more.
    for channel in ("chat:lobby", "chat:elsewhere"):
        wait_until(
            lambda channel=channel: subscribers(redis, channel) == 0,
            lambda channel=channel: f"{channel}: {subscribers(redis, channel)} subscribers",
            timeout=RECV_TIMEOUT_S,
        )
    assert_clean_log(node_a)
    assert_clean_log(node_b)


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/ws/bad%20room?name=x", "room must be"),
        ("/ws/" + "r" * 33 + "?name=x", "room must be"),
        ("/ws/lobby", "name is required"),
        ("/ws/lobby?name=%20%20", "name is required"),
        ("/ws/lobby?name=" + "n" * 33, "name is longer than 32"),
        ("/ws/lobby?name=a%0Ab", "control characters"),
    ],
)
def test_bad_room_or_name_is_refused(node_a: PuffServer, path: str, error: str) -> None:
    with connect(f"ws://{HOST}:{node_a.port}{path}", open_timeout=RECV_TIMEOUT_S) as ws:
        event = json.loads(ws.recv(timeout=RECV_TIMEOUT_S))
        assert event["type"] == "error" and error in event["error"], event
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=RECV_TIMEOUT_S)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert error in closed.value.rcvd.reason


def test_bad_messages(node_a: PuffServer, node_b: PuffServer) -> None:
    frank = Client(node_a, "checks", "frank").joined()
    gina = Client(node_b, "checks", "gina").joined()
    frank.expect("join", gina)

    frank.say("x" * 501)  # too long: an error for frank only, the connection stays
    event = frank.event()
    assert event == {"type": "error", "error": "message is longer than 500 characters"}
    frank.say("   ")  # blank: ignored
    frank.say("x" * 500)
    gina.expect("message", frank, "x" * 500)  # the first thing gina gets from frank
    frank.expect("message", frank, "x" * 500)

    gina.ws.send(b"binary")  # closed with 1003; frank hears that gina left
    assert gina.close_code() == 1003
    frank.expect("leave", gina, "gina left")
    frank.close()
    assert_idle(node_a)
    assert_idle(node_b)
