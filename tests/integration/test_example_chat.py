"""examples/websocket_chat works as its README says: two clients talk through the room."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from puffserver import HOST, REPO_ROOT, PuffServer
from websockets.sync.client import connect

EXAMPLE = REPO_ROOT / "examples" / "websocket_chat"


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PuffServer]:
    server = PuffServer("chat", EXAMPLE / "puff.toml", tmp_path_factory.mktemp("chat"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


def test_page_is_served(chat_server: PuffServer) -> None:
    page = chat_server.get("/")
    assert page.status == 200, page.describe()
    assert "new WebSocket" in page.text()


def test_messages_reach_everyone_in_the_room(chat_server: PuffServer) -> None:
    url = f"ws://{HOST}:{chat_server.port}/ws"
    with connect(url, open_timeout=10) as alice, connect(url, open_timeout=10) as bob:
        # Both are in the room once a message from each has gone round.
        alice.send("alice here")
        assert alice.recv(timeout=10) == "alice here"
        assert bob.recv(timeout=10) == "alice here"
        bob.send("héllo from bob ✓")
        assert alice.recv(timeout=10) == "héllo from bob ✓"
        assert bob.recv(timeout=10) == "héllo from bob ✓"
    # Both left; a newcomer still gets its own messages (the room dropped the others).
    with connect(url, open_timeout=10) as carol:
        carol.send("anyone?")
        assert carol.recv(timeout=10) == "anyone?"
