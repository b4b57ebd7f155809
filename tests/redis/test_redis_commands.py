"""Every command family of puff.redis against a real server, with redis-py's return types."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import puff
import pytest
from puff import redis
from puff.redis import global_redis as r

Key = Callable[[str], str]


def test_module_surface() -> None:
    assert puff.global_redis is r
    assert isinstance(r, redis.RedisClient)
    assert r.name == "default"
    assert {"default", "restart", "down"} <= set(redis.pool_names())
    assert issubclass(redis.ResponseError, redis.RedisError)
    assert issubclass(redis.ConnectionError, redis.RedisError)
    assert issubclass(redis.TimeoutError, redis.RedisError)
    assert issubclass(redis.DataError, redis.RedisError)
    assert issubclass(redis.RedisError, puff.PuffError)
    assert r.ping() is True


def test_unknown_pool_names_the_configured_ones() -> None:
    with pytest.raises(redis.RedisError) as info:
        redis.named_client("no-such-pool")
    assert "no-such-pool" in str(info.value)
    assert "default" in str(info.value) and "restart" in str(info.value)


# ---- strings ------------------------------------------------------------------------


def test_set_and_get(key: Key) -> None:
    k = key("s")
    assert r.get(k) is None
    assert r.set(k, "v") is True
    assert r.get(k) == b"v"
    assert r.set(k, "w", nx=True) is None  # exists: not set
    assert r.get(k) == b"v"
    assert r.set(key("missing"), "w", xx=True) is None
    assert r.get(key("missing")) is None
    assert r.set(k, "w", xx=True) is True
    assert r.set(k, "x", get=True) == b"w"
    assert r.set(key("fresh"), "y", get=True) is None
    assert r.get(k) == b"x"


def test_set_expiry_options(key: Key) -> None:
    k = key("e")
    assert r.set(k, "v", ex=100) is True
    assert 90 <= r.ttl(k) <= 100
    assert r.set(k, "v", px=datetime.timedelta(seconds=50)) is True
    assert 40_000 <= r.pttl(k) <= 50_000
    assert r.set(k, "w", keepttl=True) is True
    assert r.ttl(k) > 0
    assert r.set(k, "w") is True
    assert r.ttl(k) == -1
    assert r.set(k, "v", ex=datetime.timedelta(minutes=2)) is True
    assert 110 <= r.ttl(k) <= 120
    assert r.ttl(key("none")) == -2


def test_values_of_every_type_round_trip(key: Key) -> None:
    cases = [
        ("bytes", b"\x00\xffbin\r\n", b"\x00\xffbin\r\n"),
        ("bytearray", bytearray(b"ba"), b"ba"),
        ("memoryview", memoryview(b"mv"), b"mv"),
        ("unicode", "héllo ☃", "héllo ☃".encode()),
        ("int", 42, b"42"),
        ("negative", -7, b"-7"),
        ("bigint", 2**62, str(2**62).encode()),
        ("float", 1.5, b"1.5"),
        ("inf", float("inf"), b"inf"),
        ("empty", "", b""),
    ]
    for name, value, stored in cases:
        assert r.set(key(name), value) is True, name
        assert r.get(key(name)) == stored, name
    big = bytes(range(256)) * 4096  # 1 MiB
    r.set(key("big"), big)
    assert r.get(key("big")) == big
    assert r.strlen(key("big")) == len(big)


@pytest.mark.parametrize("bad", [True, False, None, [1], {"a": 1}, object()])
def test_unsupported_argument_types_raise_data_error(key: Key, bad: object) -> None:
    with pytest.raises(redis.DataError, match="Invalid input of type"):
        r.set(key("k"), bad)  # type: ignore[arg-type]
    assert r.get(key("k")) is None  # nothing was sent


def test_data_error_message_is_redis_pys() -> None:
    with pytest.raises(redis.DataError) as info:
        r.set("k", True)
    assert str(info.value) == (
        "Invalid input of type: 'bool'. Convert to a bytes, string, int or float first."
    )


def test_getdel_getset_append_strlen_getrange(key: Key) -> None:
    k = key("s")
    assert r.getset(k, "a") is None
    assert r.getset(k, "b") == b"a"
    assert r.append(k, "cd") == 3
    assert r.strlen(k) == 3
    assert r.getrange(k, 1, -1) == b"cd"
    assert r.getdel(k) == b"bcd"
    assert r.exists(k) == 0
    assert r.getdel(k) is None


def test_mget_mset_msetnx_setnx(key: Key) -> None:
    a, b, c = key("a"), key("b"), key("c")
    assert r.mset({a: 1, b: "two"}) is True
    assert r.mget([a, b, c]) == [b"1", b"two", None]
    assert r.mget(a, b) == [b"1", b"two"]
    assert r.mget(a) == [b"1"]
    assert r.msetnx({b: "x", c: "y"}) is False  # b exists: nothing set
    assert r.get(c) is None
    assert r.msetnx({c: "y", key("d"): "z"}) is True
    assert r.setnx(c, "other") is False
    assert r.setnx(key("e"), "new") is True
    assert r.get(key("e")) == b"new"


def test_setex_psetex(key: Key) -> None:
    assert r.setex(key("a"), 100, "v") is True
    assert 90 <= r.ttl(key("a")) <= 100
    assert r.setex(key("b"), datetime.timedelta(seconds=30), "v") is True
    assert 20 <= r.ttl(key("b")) <= 30
    assert r.psetex(key("c"), 5000, "v") is True
    assert 0 < r.pttl(key("c")) <= 5000
    assert r.get(key("c")) == b"v"
    with pytest.raises(redis.ResponseError, match="invalid expire time"):
        r.setex(key("d"), -1, "v")


def test_counters(key: Key) -> None:
    k = key("n")
    assert r.incr(k) == 1
    assert r.incr(k, 5) == 6
    assert r.incrby(k, 2) == 8
    assert r.decr(k) == 7
    assert r.decrby(k, 3) == 4
    assert r.decr(k, amount=10) == -6
    value = r.incrbyfloat(k, 1.5)
    assert isinstance(value, float) and value == -4.5
    assert r.get(k) == b"-4.5"
    r.set(key("text"), "abc")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.incr(key("text"))


# ---- keys ---------------------------------------------------------------------------


def test_delete_exists(key: Key) -> None:
    a, b = key("a"), key("b")
    r.mset({a: 1, b: 2})
    assert r.exists(a) == 1
    assert r.exists(a, a, b, key("none")) == 3  # counts repeats, like EXISTS
    assert r.delete(a, b, key("none")) == 2
    assert r.delete(a) == 0
    assert r.exists(a, b) == 0


def test_expire_family(key: Key) -> None:
    k = key("k")
    assert r.expire(k, 10) is False  # no such key
    r.set(k, "v")
    assert r.expire(k, 100) is True
    assert 90 <= r.ttl(k) <= 100
    assert r.pexpire(k, datetime.timedelta(seconds=20)) is True
    assert 10_000 <= r.pttl(k) <= 20_000
    soon = datetime.datetime.now() + datetime.timedelta(seconds=60)
    assert r.expireat(k, soon) is True
    assert 50 <= r.ttl(k) <= 60
    assert r.pexpireat(k, int(soon.timestamp() * 1000) + 30_000) is True
    assert 80 <= r.ttl(k) <= 90
    assert r.persist(k) is True
    assert r.persist(k) is False
    assert r.ttl(k) == -1
    assert r.pttl(k) == -1
    assert r.pexpire(k, 1) is True
    deadline = 200
    while r.exists(k) and deadline:
        puff.sleep_ms(5)
        deadline -= 1
    assert r.get(k) is None


def test_keys_scan_rename_type(key: Key) -> None:
    names = {key(f"k{i}") for i in range(30)}
    r.mset(dict.fromkeys(names, "v"))
    prefix = key("")
    assert {k.decode() for k in r.keys(prefix + "*")} == names
    assert all(isinstance(k, bytes) for k in r.keys(prefix + "*"))
    assert {k.decode() for k in r.scan_iter(match=prefix + "*", count=7)} == names
    cursor, some = r.scan(0, match=prefix + "*", count=5)
    assert isinstance(cursor, int) and isinstance(some, list)

    assert r.rename(key("k0"), key("renamed")) is True
    assert r.get(key("renamed")) == b"v"
    assert r.renamenx(key("k1"), key("renamed")) is False
    assert r.renamenx(key("k1"), key("other")) is True
    with pytest.raises(redis.ResponseError, match="no such key"):
        r.rename(key("none"), key("x"))

    r.hset(key("h"), "f", "v")
    r.rpush(key("l"), 1)
    r.sadd(key("set"), 1)
    r.zadd(key("z"), {"m": 1})
    assert r.type(key("k2")) == b"string"
    assert r.type(key("h")) == b"hash"
    assert r.type(key("l")) == b"list"
    assert r.type(key("set")) == b"set"
    assert r.type(key("z")) == b"zset"
    assert r.type(key("none")) == b"none"


def test_flushdb_and_dbsize_on_the_private_server() -> None:
    # Only on the `restart` pool: always the private server, never $PUFF_TEST_REDIS_URL.
    private = redis.named_client("restart")
    private.mset({"a": 1, "b": 2, "c": 3})
    assert private.dbsize() >= 3
    assert private.flushdb() is True
    assert private.dbsize() == 0
    assert private.get("a") is None


# ---- hashes -------------------------------------------------------------------------


def test_hashes(key: Key) -> None:
    h = key("h")
    assert r.hset(h, "f", "v") == 1
    assert r.hset(h, "f", "v2") == 0  # updated, not added
    assert r.hset(h, mapping={"a": 1, "b": 2.5}) == 2
    assert r.hset(h, "c", "3", mapping={"d": b"4"}) == 2
    assert r.hget(h, "f") == b"v2"
    assert r.hget(h, "none") is None
    assert r.hget(key("none"), "f") is None
    assert r.hmget(h, ["a", "b", "none"]) == [b"1", b"2.5", None]
    assert r.hmget(h, "a", "c") == [b"1", b"3"]
    assert r.hgetall(h) == {
        b"f": b"v2",
        b"a": b"1",
        b"b": b"2.5",
        b"c": b"3",
        b"d": b"4",
    }
    assert r.hgetall(key("none")) == {}
    assert r.hlen(h) == 5
    keys, vals = r.hkeys(h), r.hvals(h)
    assert set(keys) == {b"f", b"a", b"b", b"c", b"d"}
    assert dict(zip(keys, vals)) == r.hgetall(h)
    assert r.hexists(h, "a") is True
    assert r.hexists(h, "none") is False
    assert r.hdel(h, "a", "b", "none") == 2
    assert r.hincrby(h, "n") == 1
    assert r.hincrby(h, "n", 10) == 11
    value = r.hincrbyfloat(h, "x", 0.25)
    assert isinstance(value, float) and value == 0.25
    # redis-py 8 returns HSETNX's and SISMEMBER's integer replies.
    assert r.hsetnx(h, "f", "other") == 0
    assert r.hsetnx(h, "new", "yes") == 1
    assert r.hget(h, "new") == b"yes"
    with pytest.raises(redis.DataError):
        r.hset(h, "f", None)  # type: ignore[arg-type]
    with pytest.raises(redis.DataError):
        r.hset(h)


# ---- lists --------------------------------------------------------------------------


def test_lists(key: Key) -> None:
    k = key("l")
    assert r.rpush(k, 1, 2, 3) == 3
    assert r.lpush(k, 0) == 4
    assert r.lrange(k, 0, -1) == [b"0", b"1", b"2", b"3"]
    assert r.llen(k) == 4
    assert r.lindex(k, 0) == b"0"
    assert r.lindex(k, -1) == b"3"
    assert r.lindex(k, 99) is None
    assert r.lpop(k) == b"0"
    assert r.rpop(k) == b"3"
    assert r.rpush(k, "x", "y", "x") == 5
    assert r.lpop(k, 2) == [b"1", b"2"]
    assert r.rpop(k, 1) == [b"x"]
    assert r.lrange(k, 0, -1) == [b"x", b"y"]
    assert r.linsert(k, "BEFORE", "y", "w") == 3
    assert r.lrem(k, 0, "x") == 1
    assert r.lset(k, 0, "first") is True
    assert r.lrange(k, 0, -1) == [b"first", b"y"]
    with pytest.raises(redis.ResponseError, match="index out of range"):
        r.lset(k, 10, "v")
    assert r.rpush(k, "a", "b", "c") == 5
    assert r.ltrim(k, 1, 2) is True
    assert r.lrange(k, 0, -1) == [b"y", b"a"]
    assert r.lpushx(key("none"), "v") == 0
    assert r.rpushx(k, "z") == 3
    assert r.lpop(key("none")) is None
    assert r.rpop(key("none")) is None
    assert r.lrange(key("none"), 0, -1) == []


def test_blocking_pops(key: Key) -> None:
    a, b = key("a"), key("b")
    r.rpush(b, "v1", "v2")
    assert r.blpop([a, b], timeout=1) == (b.encode(), b"v1")
    assert r.brpop(b, timeout=1) == (b.encode(), b"v2")
    assert r.blpop([a, b], timeout=0.1) is None  # timed out
    assert r.brpop(a, timeout=0.1) is None


def test_blpop_waits_without_blocking_other_greenlets(key: Key) -> None:
    k = key("q")
    waiter = puff.spawn(r.blpop, k, 10)
    puff.sleep_ms(100)  # this greenlet runs while the other one waits in BLPOP
    assert not waiter.done()
    assert r.rpush(k, "hello") == 1
    assert waiter.join() == (k.encode(), b"hello")
    assert r.llen(k) == 0


# ---- sets ---------------------------------------------------------------------------


def test_sets(key: Key) -> None:
    s, t = key("s"), key("t")
    assert r.sadd(s, "a", "b", "c") == 3
    assert r.sadd(s, "a") == 0
    assert r.smembers(s) == {b"a", b"b", b"c"}
    assert isinstance(r.smembers(s), set)
    assert r.smembers(key("none")) == set()
    assert r.sismember(s, "a") == 1
    assert r.sismember(s, "z") == 0
    assert r.smismember(s, ["a", "z", "c"]) == [1, 0, 1]
    assert r.smismember(s, "a", "z") == [1, 0]
    assert r.scard(s) == 3
    r.sadd(t, "b", "c", "d")
    assert r.sinter([s, t]) == {b"b", b"c"}
    assert r.sunion(s, t) == {b"a", b"b", b"c", b"d"}
    assert r.sdiff([s, t]) == {b"a"}
    assert r.srem(s, "a", "z") == 1
    assert r.smove(s, t, "b") is True
    assert r.smove(s, t, "z") is False
    assert r.smembers(s) == {b"c"}
    r.sadd(s, 1, 2, 3)
    member = r.srandmember(s)
    assert member in {b"c", b"1", b"2", b"3"}
    two = r.srandmember(s, 2)
    assert (
        isinstance(two, list) and len(two) == 2 and set(two) <= {b"c", b"1", b"2", b"3"}
    )
    popped = r.spop(s)
    assert isinstance(popped, bytes) and r.sismember(s, popped) == 0
    rest = r.spop(s, 10)
    assert isinstance(rest, list) and len(rest) == 3
    assert r.spop(s) is None
    assert r.scard(s) == 0


# ---- sorted sets --------------------------------------------------------------------


def test_sorted_sets(key: Key) -> None:
    z = key("z")
    assert r.zadd(z, {"a": 1, "b": 2.5, "c": 3}) == 3
    assert r.zadd(z, {"a": 1}) == 0
    assert r.zadd(z, {"a": 5}, ch=True) == 1
    assert r.zadd(z, {"a": 9}, nx=True) == 0
    assert r.zadd(z, {"new": 9}, xx=True) == 0
    assert r.zadd(z, {"a": 4}, gt=True, ch=True) == 0
    assert r.zadd(z, {"a": 4.5}, lt=True, ch=True) == 1
    score = r.zadd(z, {"a": 1.5}, incr=True)
    assert isinstance(score, float) and score == 6.0
    assert r.zadd(z, {"none": 1}, incr=True, xx=True) is None
    with pytest.raises(redis.DataError):
        r.zadd(z, {"a": 1, "b": 2}, incr=True)

    assert r.zrange(z, 0, -1) == [b"b", b"c", b"a"]
    assert r.zrange(z, 0, -1, desc=True) == [b"a", b"c", b"b"]
    assert r.zrange(z, 0, 1, withscores=True) == [(b"b", 2.5), (b"c", 3.0)]
    assert r.zrevrange(z, 0, 0, withscores=True) == [(b"a", 6.0)]
    assert r.zrevrange(z, 0, -1) == [b"a", b"c", b"b"]
    assert r.zrangebyscore(z, 2, 3) == [b"b", b"c"]
    assert r.zrangebyscore(z, "(2.5", "+inf", withscores=True) == [
        (b"c", 3.0),
        (b"a", 6.0),
    ]
    assert r.zrangebyscore(z, "-inf", "+inf", start=1, num=1) == [b"c"]
    assert r.zrevrangebyscore(z, "+inf", 3) == [b"a", b"c"]
    assert r.zscore(z, "b") == 2.5
    assert r.zscore(z, "none") is None
    assert r.zincrby(z, 0.5, "b") == 3.0
    assert r.zcard(z) == 3
    assert r.zcount(z, 3, 3) == 2
    assert r.zcount(z, "-inf", "+inf") == 3
    assert r.zrank(z, "a") == 2
    assert r.zrank(z, "none") is None
    assert r.zrevrank(z, "a") == 0
    assert r.zrevrank(z, "none") is None
    assert r.zrem(z, "b", "none") == 1
    r.zadd(z, {"x": -1, "y": 100})
    assert r.zpopmin(z) == [(b"x", -1.0)]
    assert r.zpopmax(z, 2) == [(b"y", 100.0), (b"a", 6.0)]
    assert r.zremrangebyscore(z, "-inf", "+inf") == 1
    assert r.zrange(z, 0, -1, withscores=True) == []


# ---- raw commands and errors --------------------------------------------------------


def test_raw_commands(key: Key) -> None:
    k, h = key("k"), key("h")
    assert r.command(["SET", k, "v"]) == b"OK"
    assert r.command(("GET", k)) == b"v"
    assert r.command(["GET", key("none")]) is None
    assert r.execute_command("APPEND", k, 123) == 4
    # execute_command converts replies by command name, as redis-py does.
    assert r.execute_command("INCRBYFLOAT", key("f"), 0.5) == 0.5
    assert r.execute_command("SET", k, "v") is True
    assert r.execute_command("HGETALL", key("none")) == {}
    assert r.execute_command("PING") is True
    r.hset(h, mapping={"a": 1})
    assert r.command(["HGETALL", h]) == [b"a", b"1"]  # raw: a flat array
    assert r.command(["OBJECT", "ENCODING", k]) in (b"raw", b"embstr")
    r.rpush(key("l"), "x", "y")
    assert r.command(["LRANGE", key("l"), 0, -1]) == [b"x", b"y"]
    assert r.command(["TYPE", k]) == b"string"
    assert r.command(["PING"]) == b"PONG"
    assert r.command(["ECHO", b"\x00\xff"]) == b"\x00\xff"
    with pytest.raises(redis.ResponseError, match="unknown command"):
        r.command(["NOSUCHCOMMAND", "x"])
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        r.command(["GET"])


@pytest.mark.parametrize(
    "args",
    [
        ["WATCH", "k"],
        ["multi"],
        ["SUBSCRIBE", "c"],
        ["MONITOR"],
        ["SELECT", 1],
        ["CLIENT", "REPLY", "OFF"],
    ],
)
def test_commands_that_pin_a_connection_are_refused(args: list[object]) -> None:
    with pytest.raises(
        redis.RedisError, match="would pin one pooled connection"
    ) as info:
        r.execute_command(*args)
    assert "instead" in str(info.value)
    with pytest.raises(redis.RedisError, match="would pin one pooled connection"):
        r.command(args)


def test_methods_that_pin_a_connection_are_refused() -> None:
    for call, instead in (
        (lambda: r.watch("k"), "pipeline"),
        (lambda: r.unwatch(), "pipeline"),
        (lambda: r.pubsub(), "puff.pubsub"),
        (lambda: r.monitor(), "redis-cli monitor"),
        (lambda: r.pipeline().watch("k"), "pipeline"),
    ):
        with pytest.raises(redis.RedisError, match="would pin") as info:
            call()
        assert instead in str(info.value)


def test_wrongtype_raises_response_error_with_the_servers_message(key: Key) -> None:
    k = key("list")
    r.lpush(k, "x")
    with pytest.raises(redis.ResponseError) as info:
        r.get(k)
    assert (
        str(info.value)
        == "WRONGTYPE Operation against a key holding the wrong kind of value"
    )
    assert isinstance(info.value, redis.RedisError)
    assert isinstance(info.value, puff.PuffError)
    # The connection is still good after an error reply.
    assert r.lrange(k, 0, -1) == [b"x"]
