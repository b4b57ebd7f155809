"""ASGI websocket scope on Puff: echo, close codes, subprotocols, rejection, client
disconnects, the message size limit, and protocol details (pings, fragments, bad UTF-8)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from puffserver import APPS_DIR, HOST, PuffServer, wait_until
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Frame, Opcode
from websockets.sync.client import ClientConnection, connect


def ws(server: PuffServer, path: str, **kwargs: object) -> ClientConnection:
    return connect(f"ws://{HOST}:{server.port}{path}", open_timeout=10, **kwargs)  # type: ignore[arg-type]


def test_echo_text_and_binary(fastapi_server: PuffServer) -> None:
    with ws(fastapi_server, "/ws/echo") as conn:
        conn.send("hello")
        assert conn.recv(timeout=10) == "hello"
        conn.send(b"\x00\x01binary\xff")
        assert conn.recv(timeout=10) == b"\x00\x01binary\xff"
        big = "x" * 200_000  # 64-bit length frames both ways
        conn.send(big)
        assert conn.recv(timeout=10) == big
        conn.send(["frag", "mented"])  # a fragmented message arrives whole
        assert conn.recv(timeout=10) == "fragmented"
        conn.ping(b"are you there").wait(timeout=10)  # answered with a pong


def test_scope(fastapi_server: PuffServer) -> None:
    with ws(
        fastapi_server, "/ws/echo?a=1", subprotocols=["chat.v1", "chat.v2"]
    ) as conn:
        assert conn.subprotocol == "chat.v2"
        conn.send("scope")
        assert json.loads(conn.recv(timeout=10)) == {
            "type": "websocket",
            "scheme": "ws",
            "path": "/ws/echo",
            "query_string": "a=1",
            "subprotocols": ["chat.v1", "chat.v2"],
            "resource": "from-lifespan",
        }
    with ws(fastapi_server, "/ws/echo") as conn:
        assert conn.subprotocol is None


def test_server_initiated_close_with_code(fastapi_server: PuffServer) -> None:
    with ws(fastapi_server, "/ws/echo") as conn:
        conn.send("close:4001")
        with pytest.raises(ConnectionClosed) as info:
            conn.recv(timeout=10)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 4001
    assert info.value.rcvd.reason == "asked to"


def test_send_after_close_raises_oserror(fastapi_server: PuffServer) -> None:
    with ws(fastapi_server, "/ws/send-after-close") as conn:
        with pytest.raises(ConnectionClosed) as info:
            conn.recv(timeout=10)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 4002
    wait_until(
        lambda: fastapi_server.get("/ws/stats").json()["send_after_close"] is not None,
        "the app never tried to send after close",
    )
    assert fastapi_server.get("/ws/stats").json()["send_after_close"] == "OSError"


def test_close_before_accept_is_403(fastapi_server: PuffServer) -> None:
    with pytest.raises(InvalidStatus) as info:
        ws(fastapi_server, "/ws/reject")
    assert info.value.response.status_code == 403


def test_client_disconnect_leaves_server_healthy(fastapi_server: PuffServer) -> None:
    before = fastapi_server.get("/ws/stats").json()["disconnects"]
    # Mid-stream, without a closing handshake: the app sees websocket.disconnect (1006).
    conn = ws(fastapi_server, "/ws/echo")
    conn.send("one")
    assert conn.recv(timeout=10) == "one"
    conn.socket.shutdown(socket.SHUT_RDWR)
    conn.socket.close()
    wait_until(
        lambda: fastapi_server.get("/ws/stats").json()["disconnects"] > before,
        "the app never saw websocket.disconnect",
    )
    assert fastapi_server.get("/ws/stats").json()["last_code"] == 1006
    # A clean client close reports the client's code.
    with ws(fastapi_server, "/ws/echo") as conn:
        conn.send("two")
        assert conn.recv(timeout=10) == "two"
        conn.close(code=4000)
    wait_until(
        lambda: fastapi_server.get("/ws/stats").json()["last_code"] == 4000,
        "the app never saw code 4000",
    )
    assert fastapi_server.get("/").json() == {"hello": "fastapi"}
    with ws(fastapi_server, "/ws/echo") as conn:
        conn.send("three")
        assert conn.recv(timeout=10) == "three"


def test_invalid_utf8_closes_1007(fastapi_server: PuffServer) -> None:
    with ws(fastapi_server, "/ws/echo") as conn:
        with conn.protocol_mutex:
            conn.protocol.send_frame(Frame(Opcode.TEXT, b"\xff\xfe"))
            conn.send_data()
        with pytest.raises(ConnectionClosed) as info:
            conn.recv(timeout=10)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1007


def test_oversized_message_closes_1009(fastapi_limited_server: PuffServer) -> None:
    with ws(fastapi_limited_server, "/ws/echo", max_size=None) as conn:
        conn.send(b"a" * 60_000)
        assert conn.recv(timeout=10) == b"a" * 60_000
        conn.send(b"b" * 70_000)
        with pytest.raises(ConnectionClosed) as info:
            conn.recv(timeout=10)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 1009
    with ws(fastapi_limited_server, "/ws/echo") as conn:
        conn.send("still fine")
        assert conn.recv(timeout=10) == "still fine"


def test_shutdown_closes_open_websockets_with_1001(tmp_path: Path) -> None:
    server = PuffServer("ws-shutdown", APPS_DIR / "fastapi.toml", tmp_path)
    server.start()
    try:
        with ws(server, "/ws/echo") as conn:
            conn.send("open")
            assert conn.recv(timeout=10) == "open"
            started = time.monotonic()
            assert server.proc is not None
            server.proc.terminate()
            with pytest.raises(ConnectionClosed) as info:
                conn.recv(timeout=10)
            assert info.value.rcvd is not None
            assert info.value.rcvd.code == 1001
        assert server.proc.wait(timeout=30) == 0
        assert time.monotonic() - started < 10
    finally:
        server.stop()
