"""Unreachable servers and restarts: ConnectionError during the outage (never a hang, never
the password), fresh connections afterwards, the process stays up. The `restart` pool is
always the private server, which these tests stop and start."""

from __future__ import annotations

import time

import puff
import pytest
from puff import redis
from redis_server import RedisServer

SECRET = "hunter2-not-logged"


@puff.blocking
def stop_server(server: RedisServer) -> None:
    server.stop()


@puff.blocking
def start_server(server: RedisServer) -> None:
    server.start()


def test_unreachable_server_raises_connection_error_without_password() -> None:
    down = redis.named_client("down")
    for _ in range(2):
        started = time.monotonic()
        with pytest.raises(redis.ConnectionError) as info:
            down.get("x")
        # Bounded by connect_timeout_ms/acquire_timeout_ms (1-2 s), not a hang.
        assert time.monotonic() - started < 10
        message = str(info.value)
        assert "127.0.0.1" in message
        assert "hunter2" not in message
        assert SECRET not in repr(info.value)
    with pytest.raises(redis.ConnectionError):
        down.pipeline().set("a", 1).get("a").execute()
    # Other pools are unaffected.
    assert redis.global_redis.ping() is True


def wait_until_up(client: redis.RedisClient, timeout_s: float = 10.0) -> None:
    """The first commands after a restart may still meet broken pooled connections; the
    pool must hand out fresh ones within a few tries."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            client.ping()
            return
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
            puff.sleep_ms(50)


def test_restart_of_the_server() -> None:
    server = RedisServer.from_env()
    client = redis.named_client("restart")
    # Start from a healthy pool: an earlier test may have restarted this server under
    # connections the pool still holds (each fails once, then is replaced).
    for h in [puff.spawn(wait_until_up, client) for _ in range(4)]:
        h.join()
    # Fill the pool with connections that the restart will break.
    handles = [puff.spawn(client.blpop, f"restart-q{i}", 0.1) for i in range(4)]
    assert [h.join() for h in handles] == [None] * 4
    assert client.set("restart-key", "before") is True
    assert client.pool_status()["connections"] >= 1

    stop_server(server)
    try:
        for _ in range(3):
            started = time.monotonic()
            with pytest.raises(redis.ConnectionError):
                client.get("restart-key")
            assert time.monotonic() - started < 10
        with pytest.raises(redis.ConnectionError):
            client.pipeline().incr("n").execute()
    finally:
        start_server(server)

    wait_until_up(client)
    # No persistence on this server: the data is gone, the pool works again.
    assert client.get("restart-key") is None
    assert [client.incr("restart-n") for _ in range(5)] == [1, 2, 3, 4, 5]
    handles = [puff.spawn(client.incr, "restart-m") for _ in range(20)]
    assert sorted(h.join() for h in handles) == list(range(1, 21))
    assert client.pool_status()["connections"] <= 4
    client.delete("restart-n", "restart-m")
