"""Subscriptions over a real websocket client, both protocols."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from conftest import Server
from websockets.sync.client import connect

SEEDS_SUB = (
    "subscription S($me: String) { read_messages_from_channel(connection_id: $me) "
    "{ message_text from_connection_id num_processed } }"
)


def ws_url(server: Server, path: str) -> str:
    return server.base.replace("http://", "ws://") + path


def recv(ws: Any, timeout: float = 10) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=timeout))


def recv_type(ws: Any, wanted: str, timeout: float = 10) -> dict[str, Any]:
    """The next message of type `wanted`, skipping keep-alives."""
    deadline = time.monotonic() + timeout
    while True:
        msg = recv(ws, max(0.1, deadline - time.monotonic()))
        if msg["type"] in ("ka", "ping", "pong"):
            continue
        assert msg["type"] == wanted, msg
        return msg


def new_connection_id(server: Server) -> str:
    return server.post("/graphql/", {"query": "{ new_connection_id }"})[1]["data"]["new_connection_id"]


def publish_until_received(server: Server, ws: Any, data_type: str) -> dict[str, Any]:
    """Publish as another connection until the subscription (which starts asynchronously)
    delivers a message."""
    other = new_connection_id(server)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        status, body = server.post(
            "/graphql/",
            {
                "query": "mutation M($c: String!) { send_message_to_channel(connection_id: $c, message: \"hello\") }",
                "variables": {"c": other},
            },
        )
        assert (status, body) == (200, {"data": {"send_message_to_channel": True}})
        try:
            msg = recv(ws, timeout=0.3)
        except TimeoutError:
            continue
        if msg["type"] in ("ka", "ping", "pong"):
            continue
        assert msg["type"] == data_type, msg
        return msg
    pytest.fail("no subscription message within 15 s")


def test_seeds_subscription_graphql_transport_ws(server: Server) -> None:
    me = new_connection_id(server)
    with connect(ws_url(server, "/subscriptions/"), subprotocols=["graphql-transport-ws"]) as ws:
        assert ws.subprotocol == "graphql-transport-ws"
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        recv_type(ws, "connection_ack")
        ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SEEDS_SUB, "variables": {"me": me}}}))
        msg = publish_until_received(server, ws, "next")
        assert msg["id"] == "1"
        item = msg["payload"]["data"]["read_messages_from_channel"]
        assert item["message_text"] == "hello" and item["from_connection_id"] != me
        assert item["num_processed"] == 0
        ws.send(json.dumps({"id": "1", "type": "complete"}))
    # The server keeps serving after the client went away.
    assert server.post("/graphql/", {"query": "{ hello_world(my_input: 1) { was_input } }"})[0] == 200


def test_seeds_subscription_legacy_graphql_ws(server: Server) -> None:
    with connect(ws_url(server, "/subscriptions/"), subprotocols=["graphql-ws"]) as ws:
        assert ws.subprotocol == "graphql-ws"
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        recv_type(ws, "connection_ack")
        ws.send(json.dumps({"id": "a", "type": "start", "payload": {"query": SEEDS_SUB}}))
        msg = publish_until_received(server, ws, "data")
        assert msg["id"] == "a"
        assert msg["payload"]["data"]["read_messages_from_channel"]["message_text"] == "hello"
        ws.send(json.dumps({"id": "a", "type": "stop"}))


def test_client_disconnect_closes_the_generator(server: Server) -> None:
    def closed() -> int:
        return server.post("/layers/graphql", {"query": "{ ticks_closed }"})[1]["data"]["ticks_closed"]

    before = closed()
    url = ws_url(server, "/layers/subscriptions")
    with connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        ws.send(json.dumps({"type": "connection_init"}))
        recv_type(ws, "connection_ack")
        ws.send(json.dumps({"id": "t", "type": "subscribe", "payload": {"query": "subscription { ticks }"}}))
        values = [recv_type(ws, "next")["payload"]["data"]["ticks"] for _ in range(3)]
        assert values == [0, 1, 2]
        assert closed() == before  # still running
    deadline = time.monotonic() + 10
    while closed() == before:
        assert time.monotonic() < deadline, "the generator was not closed after the client left"
        time.sleep(0.05)


def test_generator_error_and_invalid_subscription(server: Server) -> None:
    url = ws_url(server, "/layers/subscriptions")
    with connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        ws.send(json.dumps({"type": "connection_init"}))
        recv_type(ws, "connection_ack")
        ws.send(json.dumps({"id": "f", "type": "subscribe", "payload": {"query": "subscription { failing { id when } }"}}))
        first = recv_type(ws, "next")
        assert first["payload"]["data"]["failing"]["id"] == 0
        second = recv(ws)
        assert "generator failed on purpose" in json.dumps(second), second
        assert recv_type(ws, "complete")["id"] == "f"  # a failed generator ends its stream
        ws.send(json.dumps({"id": "x", "type": "subscribe", "payload": {"query": "subscription { nope }"}}))
        err = recv_type(ws, "error")
        assert err["id"] == "x" and "Unknown field" in json.dumps(err["payload"])


def test_subscriptions_are_not_served_over_post(server: Server) -> None:
    status, body = server.post("/graphql/", {"query": SEEDS_SUB})
    assert status == 400
    assert "websocket at /subscriptions/" in body["errors"][0]["message"]
    status, _, _ = server.request("/subscriptions/")
    assert status == 426


def test_client_disconnect_stops_a_generator_blocked_in_receive(server: Server) -> None:
    def closed() -> int:
        return server.post("/layers/graphql", {"query": "{ waits_closed }"})[1]["data"]["waits_closed"]

    before = closed()
    with connect(ws_url(server, "/layers/subscriptions"), subprotocols=["graphql-transport-ws"]) as ws:
        ws.send(json.dumps({"type": "connection_init"}))
        recv_type(ws, "connection_ack")
        ws.send(json.dumps({"id": "w", "type": "subscribe", "payload": {"query": "subscription { waits }"}}))
        assert recv_type(ws, "next")["payload"]["data"]["waits"] == "ready"
        time.sleep(0.2)  # now blocked in receive(); nothing is ever published there
        assert closed() == before
    # No message arrives, yet the generator stops (its finally runs) once the client is gone.
    deadline = time.monotonic() + 5
    while closed() == before:
        assert time.monotonic() < deadline, "the blocked generator was not stopped"
        time.sleep(0.05)
    assert "GraphQL resolver Subscription.waits raised" not in server.log()
