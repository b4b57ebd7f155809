"""puff.pubsub in one process. Runs twice (see conftest.py): on Redis (puff.toml) and on the
in-process backend with no Redis configured at all (puff-memory.toml)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import puff
import pytest
from puff import pubsub
from puff.pubsub import global_pubsub

Channel = Callable[[str], str]

EXPECTED_BACKEND = (
    "memory" if os.environ.get("PUFF_REDIS_SUITE") == "memory" else "redis"
)


def test_global_pubsub_both_spellings_and_backend() -> None:
    assert puff.global_pubsub is global_pubsub
    assert global_pubsub() is global_pubsub  # `pubsub = puff.global_pubsub()`
    assert isinstance(global_pubsub, pubsub.PubSubClient)
    assert global_pubsub.name == "default"
    assert "default" in pubsub.names()
    assert global_pubsub.backend == EXPECTED_BACKEND


def test_unknown_name_raises() -> None:
    with pytest.raises(puff.PuffError, match="no-such-pubsub"):
        pubsub.named_client("no-such-pubsub")


def test_connection_ids() -> None:
    ids = {global_pubsub.new_connection_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(isinstance(i, str) and i for i in ids)
    conn = global_pubsub.connection()
    assert conn.connection_id not in ids
    cid = global_pubsub.new_connection_id()
    with global_pubsub.connection_with_id(cid) as named:
        assert named.connection_id == cid
    assert named.closed


def test_subscribe_publish_receive(channel: Channel) -> None:
    ch = channel("chat")
    sender = global_pubsub.new_connection_id()
    with global_pubsub.connection() as conn:
        assert conn.subscribe(ch) is True
        assert global_pubsub.publish_as(sender, ch, "héllo ☃") is True
        msg = conn.receive(timeout_ms=5000)
        assert msg is not None
        assert isinstance(msg, pubsub.PubSubMessage)
        assert msg.channel == ch
        assert msg.text == "héllo ☃"
        assert msg.body == "héllo ☃".encode()
        assert msg.from_connection_id == sender

        assert global_pubsub.publish(ch, b"\x00\xff binary") is True
        msg = conn.receive(timeout_ms=5000)
        assert msg is not None and msg.body == b"\x00\xff binary"
        assert isinstance(msg.from_connection_id, str)

        # A connection receives its own messages too (the seeds filter them by id).
        assert conn.publish(ch, "mine") is True
        msg = conn.receive(timeout_ms=5000)
        assert msg is not None
        assert (msg.text, msg.from_connection_id) == ("mine", conn.connection_id)


def test_messages_arrive_in_order_and_large_ones_intact(channel: Channel) -> None:
    ch = channel("ordered")
    with global_pubsub.connection() as conn:
        conn.subscribe(ch)
        for i in range(200):
            global_pubsub.publish(ch, str(i))
        got = []
        for _ in range(200):
            msg = conn.receive(timeout_ms=5000)
            assert msg is not None
            got.append(msg.text)
        assert got == [str(i) for i in range(200)]
        big = os.urandom(1 << 20)
        global_pubsub.publish(ch, big)
        msg = conn.receive(timeout_ms=5000)
        assert msg is not None and msg.body == big


def test_receive_timeout_returns_none(channel: Channel) -> None:
    with global_pubsub.connection() as conn:
        conn.subscribe(channel("quiet"))
        started = time.monotonic()
        assert conn.receive(timeout_ms=150) is None
        assert 0.14 <= time.monotonic() - started < 5
        assert conn.receive(timeout_ms=0) is None


def test_only_subscribed_channels_are_received(channel: Channel) -> None:
    a, b, other = channel("a"), channel("b"), channel("other")
    with global_pubsub.connection() as conn:
        conn.subscribe(a)
        conn.subscribe(b)
        assert conn.unsubscribe(a) is True
        global_pubsub.publish(a, "left")
        global_pubsub.publish(other, "never subscribed")
        global_pubsub.publish(b, "still here")
        msg = conn.receive(timeout_ms=5000)
        assert msg is not None
        assert (msg.channel, msg.text) == (b, "still here")
        assert conn.receive(timeout_ms=200) is None
        # Subscribing again resumes delivery.
        conn.subscribe(a)
        global_pubsub.publish(a, "back")
        msg = conn.receive(timeout_ms=5000)
        assert msg is not None and (msg.channel, msg.text) == (a, "back")


def test_every_subscriber_gets_each_message(channel: Channel) -> None:
    ch = channel("fanout")
    conns = [global_pubsub.connection() for _ in range(3)]
    for c in conns:
        c.subscribe(ch)
    global_pubsub.publish(ch, "to all")
    for c in conns:
        msg = c.receive(timeout_ms=5000)
        assert msg is not None and msg.text == "to all"
        assert c.receive(timeout_ms=50) is None  # exactly once each
        c.close()


def test_close_ends_receive(channel: Channel) -> None:
    conn = global_pubsub.connection()
    conn.subscribe(channel("c"))
    waiter = puff.spawn(conn.receive)  # no timeout: waits until a message or close()
    puff.sleep_ms(50)
    assert not waiter.done()
    conn.close()
    assert waiter.join() is None
    assert conn.closed
    assert conn.receive(timeout_ms=1000) is None
    # Publishing to a channel nobody listens to any more is fine.
    assert global_pubsub.publish(channel("c"), "nobody") is True


def test_close_before_any_receive(channel: Channel) -> None:
    conn = global_pubsub.connection()
    conn.subscribe(channel("c"))
    assert not conn.closed
    conn.close()
    assert conn.closed
    started = time.monotonic()
    assert conn.receive(timeout_ms=3000) is None
    assert time.monotonic() - started < 2, (
        "receive() after close() waited for the timeout"
    )


def test_many_greenlets_receive_concurrently(channel: Channel) -> None:
    """50 greenlets wait in receive() at once, each on its own channel; a ticker keeps
    running meanwhile, and each gets exactly its own message."""
    n = 50
    ready = {"n": 0}
    ticks = {"n": 0, "stop": False}

    def listener(i: int) -> tuple[str, str]:
        with global_pubsub.connection() as conn:
            conn.subscribe(channel(f"c{i}"))
            ready["n"] += 1
            msg = conn.receive(timeout_ms=10_000)
            assert msg is not None
            return msg.channel, msg.text

    def ticker() -> None:
        while not ticks["stop"]:
            ticks["n"] += 1
            puff.sleep_ms(2)

    t = puff.spawn(ticker)
    handles = [puff.spawn(listener, i) for i in range(n)]
    deadline = time.monotonic() + 10
    while ready["n"] < n and time.monotonic() < deadline:
        puff.sleep_ms(5)
    assert ready["n"] == n
    ticks_before = ticks["n"]
    puff.sleep_ms(50)
    assert not any(h.done() for h in handles)
    assert ticks["n"] > ticks_before  # nobody blocks the hub while waiting
    for i in reversed(range(n)):
        global_pubsub.publish(channel(f"c{i}"), f"for {i}")
    assert [h.join() for h in handles] == [
        (channel(f"c{i}"), f"for {i}") for i in range(n)
    ]
    ticks["stop"] = True
    t.join()
