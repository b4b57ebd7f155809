"""puff.redis and puff.pubsub awaited from coroutines on Puff's event loop (run with
puff-asyncio.toml: ``asyncio = true``, a `default` [[redis]] pool and no [[pubsub]])."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import puff
import pytest
from puff import redis
from puff.pubsub import global_pubsub
from puff.redis import global_redis as r

Key = Callable[[str], str]


def test_greenlet_calls_still_return_results(key: Key) -> None:
    assert r.set(key("k"), "v") is True
    assert r.get(key("k")) == b"v"
    assert global_pubsub.backend == "redis"  # the `default` [[redis]] pool, unasked


def test_redis_commands_from_a_coroutine(key: Key) -> None:
    k, h, n, lst = key("k"), key("h"), key("n"), key("list")

    async def main() -> None:
        assert await r.set(k, "v") is True
        assert await r.get(k) == b"v"
        assert await r.ping() is True  # converted after the await
        assert await r.hset(h, mapping={"a": 1}) == 1
        assert await r.hgetall(h) == {b"a": b"1"}
        assert await r.zadd(key("z"), {"m": 1.5}) == 1
        assert await r.zrange(key("z"), 0, -1, withscores=True) == [(b"m", 1.5)]
        cursor, keys = await r.scan(0, match=key("*"), count=1000)
        assert isinstance(cursor, int) and isinstance(keys, list)
        counts = await asyncio.gather(*(r.incr(n) for _ in range(100)))
        assert sorted(counts) == list(range(1, 101))
        replies = await r.pipeline().set(k, 1).incr(k).ping().execute()
        assert replies == [True, 2, True]
        assert await r.command(["ECHO", "raw"]) == b"raw"
        await r.rpush(lst, "x")
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            await r.get(lst)
        with pytest.raises(redis.DataError):
            await r.set(k, None)  # type: ignore[arg-type]

    puff.run_coroutine(main())
    assert r.get(n) == b"100"


def test_converted_replies_and_scripts_from_a_coroutine(key: Key) -> None:
    s, z, g = key("s"), key("z"), key("g")

    async def main() -> None:
        assert await r.xadd(s, {"f": "v"}, id="1-0") == b"1-0"
        assert await r.xrange(s) == [(b"1-0", {b"f": b"v"})]
        assert await r.xread({s: 0}) == [[s.encode(), [(b"1-0", {b"f": b"v"})]]]
        assert await r.xgroup_create(s, "grp", id="0") is True
        assert (await r.xinfo_stream(s))["length"] == 1
        assert await r.zadd(z, {"a": 1}) == 1
        assert await r.zpopmin(z) == [(b"a", 1.0)]
        assert await r.execute_command("SET", key("k"), "v") is True
        assert await r.execute_command("HGETALL", key("none")) == {}
        assert isinstance((await r.info())["redis_version"], str)
        assert await r.geoadd(g, (13.361389, 38.115556, "Palermo")) == 1
        [(lon, lat)] = await r.geopos(g, "Palermo")  # type: ignore[misc]
        assert round(lon, 3) == 13.361 and round(lat, 3) == 38.116
        assert await r.bitfield(key("bf")).set("u8", 0, 7).get("u8", 0).execute() == [
            0,
            7,
        ]
        await r.hset(key("h"), mapping={"a": 1, "b": 2})
        assert sorted([k async for k in r.scan_iter(match=key("h*"))]) == [
            key("h").encode()
        ]
        assert sorted([kv async for kv in r.hscan_iter(key("h"))]) == [
            (b"a", b"1"),
            (b"b", b"2"),
        ]
        # A script text no server has seen (the key is random): the first call's EVALSHA
        # gets NOSCRIPT.
        script = r.register_script(f"return ARGV[1] + 1 -- {key('script')}")
        assert await script(args=[41]) == 42  # NOSCRIPT on await: loaded, then run
        assert await script(args=[1]) == 2
        fresh = r.register_script(f"return ARGV[1] * 2 -- {key('script2')}")
        pipe = r.pipeline()
        fresh(args=[21], client=pipe)
        assert await pipe.incr(key("n")).execute() == [42, 1]  # the script loaded first

    puff.run_coroutine(main())


def test_blpop_in_a_coroutine_does_not_block_the_loop(key: Key) -> None:
    q = key("q")

    async def main() -> tuple[bytes, bytes] | None:
        waiter = asyncio.ensure_future(r.blpop(q, timeout=10))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        assert await r.rpush(q, "v") == 1
        return await waiter

    assert puff.run_coroutine(main()) == (q.encode(), b"v")


def test_pubsub_from_a_coroutine() -> None:
    ch = f"asyncio-{global_pubsub.new_connection_id()}"
    sender = global_pubsub.new_connection_id()

    async def main() -> None:
        conn = global_pubsub.connection()
        assert await conn.subscribe(ch) is True
        assert await global_pubsub.publish_as(sender, ch, "from a coroutine") is True
        msg = await conn.receive(timeout_ms=5000)
        assert msg is not None
        assert (msg.channel, msg.text, msg.from_connection_id) == (
            ch,
            "from a coroutine",
            sender,
        )
        assert await conn.receive(timeout_ms=100) is None

        waiter = asyncio.ensure_future(conn.receive(timeout_ms=5000))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        await conn.publish(ch, "late")
        msg = await waiter
        assert msg is not None and msg.text == "late"
        assert msg.from_connection_id == conn.connection_id
        assert await conn.unsubscribe(ch) is True
        conn.close()

    puff.run_coroutine(main())


def test_many_coroutines_receive_concurrently() -> None:
    base = f"asyncio-many-{global_pubsub.new_connection_id()}"
    subscribed = {"n": 0}

    async def listener(i: int) -> tuple[str, str]:
        conn = global_pubsub.connection()
        await conn.subscribe(f"{base}-{i}")
        subscribed["n"] += 1
        msg = await conn.receive(timeout_ms=10_000)
        conn.close()
        assert msg is not None
        return msg.channel, msg.text

    async def main() -> list[tuple[str, str]]:
        listeners = [asyncio.ensure_future(listener(i)) for i in range(50)]
        for _ in range(500):
            if subscribed["n"] == 50:
                break
            await asyncio.sleep(0.01)
        assert subscribed["n"] == 50
        assert not any(t.done() for t in listeners)  # all 50 wait at once
        for i in reversed(range(50)):
            await global_pubsub.publish(f"{base}-{i}", f"m{i}")
        return await asyncio.gather(*listeners)

    assert puff.run_coroutine(main()) == [(f"{base}-{i}", f"m{i}") for i in range(50)]


def test_cancelled_receive_loses_no_message() -> None:
    channel = "cancel-" + global_pubsub.new_connection_id()

    async def main() -> list[str]:
        conn = global_pubsub.connection()
        await conn.subscribe(channel)
        for waiting in (conn.receive(timeout_ms=5000), conn.receive()):
            task = asyncio.ensure_future(waiting)
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        await global_pubsub.publish(channel, "first")
        await global_pubsub.publish(channel, "second")
        got = []
        while (msg := await conn.receive(timeout_ms=1000)) is not None:
            got.append(msg.text)
        conn.close()
        return got

    # Also `asyncio.wait_for(conn.receive(), t)`, which cancels on timeout.
    assert puff.run_coroutine(main()) == ["first", "second"]
