"""Pipelines: one round trip, replies in order with the same conversions as single
commands, MULTI/EXEC transactions, and errors inside a pipeline."""

from __future__ import annotations

from collections.abc import Callable

import puff
import pytest
from puff import redis
from puff.redis import global_redis as r

Key = Callable[[str], str]


def test_pipeline_replies_in_order_with_conversions(key: Key) -> None:
    a, h, s, z = key("a"), key("h"), key("s"), key("z")
    for transaction in (False, True):
        r.delete(a, h, s, z)
        pipe = r.pipeline(transaction=transaction)
        assert isinstance(pipe, redis.Pipeline)
        assert pipe.transaction is transaction
        returned = pipe.set(a, 1).incr(a).get(a).get(key("none"))
        assert returned is pipe  # chainable
        pipe.hset(h, mapping={"f": "v"}).hgetall(h).sadd(s, "x").smembers(s)
        pipe.zadd(z, {"m": 2}).zrange(z, 0, -1, withscores=True).zscore(z, "m")
        pipe.ping().exists(a).expire(a, 100).set(a, "x", nx=True).command(
            ["ECHO", "raw"]
        )
        assert len(pipe) == 16
        assert pipe.execute() == [
            True,
            2,
            b"2",
            None,
            1,
            {b"f": b"v"},
            1,
            {b"x"},
            1,
            [(b"m", 2.0)],
            2.0,
            True,
            1,
            True,
            None,
            b"raw",
        ]
        assert len(pipe) == 0  # cleared by execute()
        assert pipe.execute() == []


def test_pipeline_as_context_manager_and_reset(key: Key) -> None:
    with r.pipeline() as pipe:
        pipe.set(key("a"), "v").get(key("a"))
        assert pipe.execute() == [True, b"v"]
        pipe.set(key("b"), "v")
        pipe.reset()
        assert pipe.execute() == []
    assert r.get(key("b")) is None
    with r.pipeline(transaction=False) as pipe:
        pipe.set(key("c"), "v")
    # Leaving the block without execute() sends nothing.
    assert r.get(key("c")) is None


def test_default_is_a_transaction_and_multi_makes_one() -> None:
    assert r.pipeline().transaction is True
    pipe = r.pipeline(transaction=False)
    assert pipe.multi() is pipe
    assert pipe.transaction is True


def test_transaction_results_are_never_interleaved(key: Key) -> None:
    """50 greenlets each INCR the same counter 3 times in one MULTI/EXEC: every transaction
    sees 3 consecutive values."""
    k = key("counter")

    def worker() -> list[int]:
        return r.pipeline().incr(k).incr(k).incr(k).execute()

    results = [h.join() for h in [puff.spawn(worker) for _ in range(50)]]
    for values in results:
        assert values == [values[0], values[0] + 1, values[0] + 2], values
    assert sorted(v[0] for v in results) == list(range(1, 150, 3))
    assert r.get(k) == b"150"


def test_error_reply_in_a_pipeline_raises_and_other_commands_still_run(
    key: Key,
) -> None:
    r.set(key("text"), "abc")
    for transaction in (False, True):
        before, after = key(f"before-{transaction}"), key(f"after-{transaction}")
        pipe = r.pipeline(transaction=transaction)
        pipe.set(before, 1).incr(key("text")).set(after, 2)
        with pytest.raises(redis.ResponseError, match="not an integer"):
            pipe.execute()
        # Redis runs every command of the batch (EXEC does not roll back).
        assert r.mget(before, after) == [b"1", b"2"]
        assert len(pipe) == 0


def test_transaction_with_a_malformed_command_applies_nothing(key: Key) -> None:
    pipe = r.pipeline(transaction=True)
    pipe.set(key("a"), 1).command(["SET", key("b")]).set(key("c"), 3)
    with pytest.raises(redis.ResponseError):
        pipe.execute()
    # A command rejected while queueing aborts the whole MULTI (EXECABORT).
    assert r.mget(key("a"), key("b"), key("c")) == [None, None, None]


def test_wrongtype_inside_a_transaction(key: Key) -> None:
    r.rpush(key("list"), "x")
    pipe = r.pipeline()
    pipe.get(key("list"))
    with pytest.raises(redis.ResponseError) as info:
        pipe.execute()
    # Like redis-py: "Command # 1 (GET ...) of pipeline caused error: WRONGTYPE ..."
    assert "WRONGTYPE Operation against a key holding the wrong kind of value" in str(
        info.value
    )
    assert "Command # 1" in str(info.value)


def test_bad_argument_in_a_pipeline_raises_data_error(key: Key) -> None:
    pipe = r.pipeline()
    pipe.set(key("a"), 1).set(key("b"), None)  # type: ignore[arg-type]
    with pytest.raises(redis.DataError):
        pipe.execute()
    assert r.get(key("a")) is None  # nothing was sent


def test_large_pipeline(key: Key) -> None:
    k = key("l")
    pipe = r.pipeline(transaction=False)
    for i in range(2000):
        pipe.rpush(k, i)
    assert pipe.execute() == list(range(1, 2001))
    assert r.lrange(k, 0, 2) == [b"0", b"1", b"2"]
    assert r.llen(k) == 2000


def test_registered_scripts_in_a_pipeline_are_loaded_first(key: Key) -> None:
    script = r.register_script(
        f"return ARGV[1] * 2 -- {key('script')}"
    )  # new to the server
    pipe = r.pipeline(transaction=False)
    script(args=[21], client=pipe)
    pipe.incr(key("n"))
    script(args=[5], client=pipe)
    assert pipe.execute() == [42, 1, 10]
    assert r.script_exists(script.sha) == [True]
