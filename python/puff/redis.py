"""``puff.redis``: a redis-py style client on Puff's Rust connection pools.

Code written for redis-py ports by changing the import::

    from puff.redis import global_redis as redis   # was: redis = Redis(...)

    redis.set("greeting", "hello", ex=60)
    assert redis.get("greeting") == b"hello"
    with redis.pipeline() as pipe:                  # MULTI ... EXEC, one round trip
        pipe.incr("hits").expire("hits", 300)
        hits, _ = pipe.execute()

Commands keep redis-py's names, signatures and return types (bytes replies, ``True`` for
OK, ``None`` for nil, ints, floats, dicts, sets, ``(member, score)`` lists); anything else
goes through ``command([...])`` / ``execute_command(...)``. Each call borrows a connection
from the pool configured by the ``[[redis]]`` entry of that name in puff.toml
(``named_client(name)``; ``global_redis`` is ``default``) and runs on Tokio: a greenlet
waiting for Redis lets every other greenlet run. Called from a coroutine on Puff's event
loop (``asyncio = true``) every command returns an awaitable instead.

Not supported, because they pin one connection: ``WATCH``, ``SUBSCRIBE`` (use
``puff.pubsub``), ``MONITOR``, ``SELECT``. Values must be bytes, str, int or float; other
types raise :class:`DataError` like redis-py. Server error replies raise
:class:`ResponseError`, an unreachable server :class:`ConnectionError`.
"""

from __future__ import annotations

import datetime
import inspect
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any, Union

from puff import PuffError, PuffNotRunningError, _native

__all__ = [
    "ConnectionError",
    "DataError",
    "Pipeline",
    "RedisClient",
    "RedisError",
    "ResponseError",
    "TimeoutError",
    "global_redis",
    "named_client",
    "pool_names",
]

_native_redis: Any = getattr(_native, "redis", None) if _native is not None else None

if _native is not None and _native_redis is None:
    raise ImportError(
        "puff.redis needs the `redis` feature, which this build of Puff does not include: "
        "rebuild with it enabled (e.g. `cargo build -p puff-cli --features redis`)"
    )

if _native_redis is not None:
    RedisError = _native_redis.RedisError
    ResponseError = _native_redis.ResponseError
    ConnectionError = _native_redis.ConnectionError  # noqa: A001 - redis-py's name
    TimeoutError = _native_redis.TimeoutError  # noqa: A001 - redis-py's name
    DataError = _native_redis.DataError
else:  # outside the runtime: importable for tools and type checkers

    class RedisError(PuffError):  # type: ignore[no-redef]
        """Base class of the errors raised by puff.redis."""

    class ResponseError(RedisError):  # type: ignore[no-redef]
        """The server answered with an error reply (e.g. ``WRONGTYPE ...``)."""

    class ConnectionError(RedisError):  # type: ignore[no-redef]  # noqa: A001
        """The server is unreachable or the connection broke."""

    class TimeoutError(RedisError):  # type: ignore[no-redef]  # noqa: A001
        """No connection or no reply within the configured timeout."""

    class DataError(RedisError):  # type: ignore[no-redef]
        """An argument cannot be sent to Redis (e.g. a bool or None)."""


def _require_native() -> Any:
    if _native_redis is None:
        raise PuffNotRunningError(
            "puff.redis works only inside the Puff runtime (`puff-cli`, or a Rust binary "
            "built on puff-core with the `redis` feature)"
        )
    return _native_redis


KeyT = Union[str, bytes, memoryview]
EncodableT = Union[bytes, bytearray, memoryview, str, int, float]
ExpiryT = Union[int, datetime.timedelta]
AbsExpiryT = Union[int, datetime.datetime]
# `set` is also a method name of the command classes: spell the reply type outside them.
Members = set[bytes]


def _list_or_args(keys: Any, args: tuple[Any, ...]) -> list[Any]:
    """redis-py's convention: ``mget("a", "b")`` and ``mget(["a", "b"])`` are the same."""
    if isinstance(keys, (str, bytes, memoryview)):
        return [keys, *args]
    return [*keys, *args]


def _seconds(time: ExpiryT) -> int:
    return int(time.total_seconds()) if isinstance(time, datetime.timedelta) else time


def _millis(time: ExpiryT) -> int:
    if isinstance(time, datetime.timedelta):
        return int(time.total_seconds() * 1000)
    return time


def _timestamp(when: AbsExpiryT, scale: int = 1) -> int:
    if isinstance(when, datetime.datetime):
        return int(when.timestamp() * scale)
    return when


async def _await_then(awaitable: Awaitable[Any], post: Callable[[Any], Any]) -> Any:
    return post(await awaitable)


def _apply(result: Any, post: Callable[[Any], Any] | None) -> Any:
    """Run ``post`` on a reply, now or (from a coroutine) once it has been awaited."""
    if post is None:
        return result
    if inspect.isawaitable(result):
        return _await_then(result, post)
    return post(result)


def _pong(reply: Any) -> bool:
    return reply == b"PONG"


def _scan_reply(reply: list[Any]) -> tuple[int, list[bytes]]:
    return int(reply[0]), reply[1]


class _Commands:
    """The redis-py command methods. Each builds the argument list and hands it, with the
    kind of reply conversion it needs (see ``puff._native.redis``), to ``_execute``: the
    client sends it at once, a pipeline queues it."""

    def _execute(
        self, args: list[Any], reply: str = "raw", post: Callable[[Any], Any] | None = None
    ) -> Any:
        raise NotImplementedError

    # ---- any command ------------------------------------------------------------------

    def command(self, args: list[Any] | tuple[Any, ...]) -> Any:
        """Send any command, e.g. ``command(["OBJECT", "ENCODING", "key"])``; raw reply."""
        return self._execute(list(args))

    def execute_command(self, *args: Any) -> Any:
        """redis-py's spelling of :meth:`command`: ``execute_command("OBJECT", ...)``."""
        return self._execute(list(args))

    # ---- server -----------------------------------------------------------------------

    def ping(self) -> bool:
        return self._execute(["PING"], post=_pong)

    def dbsize(self) -> int:
        return self._execute(["DBSIZE"], "int")

    def flushdb(self, asynchronous: bool = False) -> bool:
        """Delete every key of the current database (tests only!)."""
        return self._execute(["FLUSHDB", *(["ASYNC"] if asynchronous else [])], "ok")

    # ---- keys -------------------------------------------------------------------------

    def delete(self, *names: KeyT) -> int:
        return self._execute(["DEL", *names], "int")

    def exists(self, *names: KeyT) -> int:
        return self._execute(["EXISTS", *names], "int")

    def expire(self, name: KeyT, time: ExpiryT) -> bool:
        return self._execute(["EXPIRE", name, _seconds(time)], "bool")

    def pexpire(self, name: KeyT, time: ExpiryT) -> bool:
        return self._execute(["PEXPIRE", name, _millis(time)], "bool")

    def expireat(self, name: KeyT, when: AbsExpiryT) -> bool:
        return self._execute(["EXPIREAT", name, _timestamp(when)], "bool")

    def pexpireat(self, name: KeyT, when: AbsExpiryT) -> bool:
        return self._execute(["PEXPIREAT", name, _timestamp(when, 1000)], "bool")

    def ttl(self, name: KeyT) -> int:
        return self._execute(["TTL", name], "int")

    def pttl(self, name: KeyT) -> int:
        return self._execute(["PTTL", name], "int")

    def persist(self, name: KeyT) -> bool:
        return self._execute(["PERSIST", name], "bool")

    def keys(self, pattern: KeyT = "*") -> list[bytes]:
        return self._execute(["KEYS", pattern])

    def scan(
        self,
        cursor: int = 0,
        match: KeyT | None = None,
        count: int | None = None,
        _type: str | None = None,
    ) -> tuple[int, list[bytes]]:
        args: list[Any] = ["SCAN", cursor]
        if match is not None:
            args += ["MATCH", match]
        if count is not None:
            args += ["COUNT", count]
        if _type is not None:
            args += ["TYPE", _type]
        return self._execute(args, post=_scan_reply)

    def rename(self, src: KeyT, dst: KeyT) -> bool:
        return self._execute(["RENAME", src, dst], "ok")

    def renamenx(self, src: KeyT, dst: KeyT) -> bool:
        return self._execute(["RENAMENX", src, dst], "bool")

    def type(self, name: KeyT) -> bytes:
        return self._execute(["TYPE", name])

    # ---- strings ----------------------------------------------------------------------

    def set(
        self,
        name: KeyT,
        value: EncodableT,
        ex: ExpiryT | None = None,
        px: ExpiryT | None = None,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
        get: bool = False,
        exat: AbsExpiryT | None = None,
        pxat: AbsExpiryT | None = None,
    ) -> bool | bytes | None:
        """True when set, None when ``nx``/``xx`` prevented it; with ``get=True`` the old
        value instead."""
        args: list[Any] = ["SET", name, value]
        if ex is not None:
            args += ["EX", _seconds(ex)]
        if px is not None:
            args += ["PX", _millis(px)]
        if exat is not None:
            args += ["EXAT", _timestamp(exat)]
        if pxat is not None:
            args += ["PXAT", _timestamp(pxat, 1000)]
        if keepttl:
            args.append("KEEPTTL")
        if nx:
            args.append("NX")
        if xx:
            args.append("XX")
        if get:
            args.append("GET")
            return self._execute(args)
        return self._execute(args, "ok")

    def get(self, name: KeyT) -> bytes | None:
        return self._execute(["GET", name])

    def getdel(self, name: KeyT) -> bytes | None:
        return self._execute(["GETDEL", name])

    def getset(self, name: KeyT, value: EncodableT) -> bytes | None:
        return self._execute(["GETSET", name, value])

    def mget(self, keys: KeyT | Iterable[KeyT], *args: KeyT) -> list[bytes | None]:
        return self._execute(["MGET", *_list_or_args(keys, args)])

    def mset(self, mapping: Mapping[KeyT, EncodableT]) -> bool:
        return self._execute(["MSET", *_pairs(mapping)], "ok")

    def msetnx(self, mapping: Mapping[KeyT, EncodableT]) -> bool:
        return self._execute(["MSETNX", *_pairs(mapping)], "bool")

    def setnx(self, name: KeyT, value: EncodableT) -> bool:
        return self._execute(["SETNX", name, value], "bool")

    def setex(self, name: KeyT, time: ExpiryT, value: EncodableT) -> bool:
        return self._execute(["SETEX", name, _seconds(time), value], "ok")

    def psetex(self, name: KeyT, time_ms: ExpiryT, value: EncodableT) -> bool:
        return self._execute(["PSETEX", name, _millis(time_ms), value], "ok")

    def append(self, key: KeyT, value: EncodableT) -> int:
        return self._execute(["APPEND", key, value], "int")

    def strlen(self, name: KeyT) -> int:
        return self._execute(["STRLEN", name], "int")

    def getrange(self, key: KeyT, start: int, end: int) -> bytes:
        return self._execute(["GETRANGE", key, start, end])

    def incr(self, name: KeyT, amount: int = 1) -> int:
        return self._execute(["INCRBY", name, amount], "int")

    incrby = incr

    def incrbyfloat(self, name: KeyT, amount: float = 1.0) -> float:
        return self._execute(["INCRBYFLOAT", name, amount], "float")

    def decr(self, name: KeyT, amount: int = 1) -> int:
        return self._execute(["DECRBY", name, amount], "int")

    decrby = decr

    # ---- hashes -----------------------------------------------------------------------

    def hset(
        self,
        name: KeyT,
        key: KeyT | None = None,
        value: EncodableT | None = None,
        mapping: Mapping[KeyT, EncodableT] | None = None,
        items: list[Any] | None = None,
    ) -> int:
        """Set one field (``key``, ``value``) and/or many (``mapping``, flat ``items``);
        returns the number of fields added."""
        args: list[Any] = ["HSET", name]
        if key is not None:
            args += [key, value]
        if mapping:
            args += _pairs(mapping)
        if items:
            args += items
        if len(args) == 2:
            raise DataError("'hset' with no key value pairs")
        return self._execute(args, "int")

    def hsetnx(self, name: KeyT, key: KeyT, value: EncodableT) -> bool:
        return self._execute(["HSETNX", name, key, value], "bool")

    def hget(self, name: KeyT, key: KeyT) -> bytes | None:
        return self._execute(["HGET", name, key])

    def hmget(self, name: KeyT, keys: KeyT | Iterable[KeyT], *args: KeyT) -> list[bytes | None]:
        return self._execute(["HMGET", name, *_list_or_args(keys, args)])

    def hgetall(self, name: KeyT) -> dict[bytes, bytes]:
        return self._execute(["HGETALL", name], "dict")

    def hdel(self, name: KeyT, *keys: KeyT) -> int:
        return self._execute(["HDEL", name, *keys], "int")

    def hexists(self, name: KeyT, key: KeyT) -> bool:
        return self._execute(["HEXISTS", name, key], "bool")

    def hincrby(self, name: KeyT, key: KeyT, amount: int = 1) -> int:
        return self._execute(["HINCRBY", name, key, amount], "int")

    def hincrbyfloat(self, name: KeyT, key: KeyT, amount: float = 1.0) -> float:
        return self._execute(["HINCRBYFLOAT", name, key, amount], "float")

    def hkeys(self, name: KeyT) -> list[bytes]:
        return self._execute(["HKEYS", name])

    def hvals(self, name: KeyT) -> list[bytes]:
        return self._execute(["HVALS", name])

    def hlen(self, name: KeyT) -> int:
        return self._execute(["HLEN", name], "int")

    # ---- lists ------------------------------------------------------------------------

    def lpush(self, name: KeyT, *values: EncodableT) -> int:
        return self._execute(["LPUSH", name, *values], "int")

    def rpush(self, name: KeyT, *values: EncodableT) -> int:
        return self._execute(["RPUSH", name, *values], "int")

    def lpushx(self, name: KeyT, *values: EncodableT) -> int:
        return self._execute(["LPUSHX", name, *values], "int")

    def rpushx(self, name: KeyT, *values: EncodableT) -> int:
        return self._execute(["RPUSHX", name, *values], "int")

    def lpop(self, name: KeyT, count: int | None = None) -> bytes | list[bytes] | None:
        return self._execute(["LPOP", name, *([] if count is None else [count])])

    def rpop(self, name: KeyT, count: int | None = None) -> bytes | list[bytes] | None:
        return self._execute(["RPOP", name, *([] if count is None else [count])])

    def blpop(self, keys: KeyT | Iterable[KeyT], timeout: float = 0) -> tuple[bytes, bytes] | None:
        """Wait up to ``timeout`` seconds (0: forever) for an element; ``(key, value)``."""
        return self._execute(["BLPOP", *_list_or_args(keys, ()), timeout], "pair")

    def brpop(self, keys: KeyT | Iterable[KeyT], timeout: float = 0) -> tuple[bytes, bytes] | None:
        return self._execute(["BRPOP", *_list_or_args(keys, ()), timeout], "pair")

    def lrange(self, name: KeyT, start: int, end: int) -> list[bytes]:
        return self._execute(["LRANGE", name, start, end])

    def llen(self, name: KeyT) -> int:
        return self._execute(["LLEN", name], "int")

    def lindex(self, name: KeyT, index: int) -> bytes | None:
        return self._execute(["LINDEX", name, index])

    def linsert(self, name: KeyT, where: str, refvalue: EncodableT, value: EncodableT) -> int:
        return self._execute(["LINSERT", name, where, refvalue, value], "int")

    def lrem(self, name: KeyT, count: int, value: EncodableT) -> int:
        return self._execute(["LREM", name, count, value], "int")

    def ltrim(self, name: KeyT, start: int, end: int) -> bool:
        return self._execute(["LTRIM", name, start, end], "ok")

    def lset(self, name: KeyT, index: int, value: EncodableT) -> bool:
        return self._execute(["LSET", name, index, value], "ok")

    # ---- sets -------------------------------------------------------------------------

    def sadd(self, name: KeyT, *values: EncodableT) -> int:
        return self._execute(["SADD", name, *values], "int")

    def srem(self, name: KeyT, *values: EncodableT) -> int:
        return self._execute(["SREM", name, *values], "int")

    def smembers(self, name: KeyT) -> Members:
        return self._execute(["SMEMBERS", name], "set")

    def sismember(self, name: KeyT, value: EncodableT) -> bool:
        return self._execute(["SISMEMBER", name, value], "bool")

    def smismember(
        self, name: KeyT, values: EncodableT | Iterable[EncodableT], *args: EncodableT
    ) -> list[bool]:
        return self._execute(["SMISMEMBER", name, *_list_or_args(values, args)], "bools")

    def scard(self, name: KeyT) -> int:
        return self._execute(["SCARD", name], "int")

    def sinter(self, keys: KeyT | Iterable[KeyT], *args: KeyT) -> Members:
        return self._execute(["SINTER", *_list_or_args(keys, args)], "set")

    def sunion(self, keys: KeyT | Iterable[KeyT], *args: KeyT) -> Members:
        return self._execute(["SUNION", *_list_or_args(keys, args)], "set")

    def sdiff(self, keys: KeyT | Iterable[KeyT], *args: KeyT) -> Members:
        return self._execute(["SDIFF", *_list_or_args(keys, args)], "set")

    def smove(self, src: KeyT, dst: KeyT, value: EncodableT) -> bool:
        return self._execute(["SMOVE", src, dst, value], "bool")

    def spop(self, name: KeyT, count: int | None = None) -> bytes | list[bytes] | None:
        return self._execute(["SPOP", name, *([] if count is None else [count])])

    def srandmember(self, name: KeyT, number: int | None = None) -> bytes | list[bytes] | None:
        return self._execute(["SRANDMEMBER", name, *([] if number is None else [number])])

    # ---- sorted sets ------------------------------------------------------------------

    def zadd(
        self,
        name: KeyT,
        mapping: Mapping[EncodableT, float],
        nx: bool = False,
        xx: bool = False,
        ch: bool = False,
        incr: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> int | float | None:
        """Add ``{member: score}``; the number added (changed with ``ch``), or with
        ``incr`` the member's new score (None when ``nx``/``xx`` prevented it)."""
        if not mapping:
            raise DataError("ZADD requires at least one element/score pair")
        if nx and xx:
            raise DataError("ZADD allows either 'nx' or 'xx', not both")
        if incr and len(mapping) != 1:
            raise DataError(
                "ZADD option 'incr' only works when passing a single element/score pair"
            )
        flags = [
            flag
            for flag, on in (
                ("NX", nx),
                ("XX", xx),
                ("GT", gt),
                ("LT", lt),
                ("CH", ch),
                ("INCR", incr),
            )
            if on
        ]
        pairs = [x for member, score in mapping.items() for x in (score, member)]
        return self._execute(["ZADD", name, *flags, *pairs], "float" if incr else "int")

    def zrange(
        self,
        name: KeyT,
        start: int,
        end: int,
        desc: bool = False,
        withscores: bool = False,
    ) -> list[bytes] | list[tuple[bytes, float]]:
        args: list[Any] = ["ZREVRANGE" if desc else "ZRANGE", name, start, end]
        return self._zrange_reply(args, withscores)

    def zrevrange(
        self, name: KeyT, start: int, end: int, withscores: bool = False
    ) -> list[bytes] | list[tuple[bytes, float]]:
        return self.zrange(name, start, end, desc=True, withscores=withscores)

    def zrangebyscore(
        self,
        name: KeyT,
        min: float | str,  # noqa: A002 - redis-py's names
        max: float | str,  # noqa: A002
        start: int | None = None,
        num: int | None = None,
        withscores: bool = False,
    ) -> list[bytes] | list[tuple[bytes, float]]:
        return self._zrange_reply(
            ["ZRANGEBYSCORE", name, min, max, *_limit(start, num)], withscores
        )

    def zrevrangebyscore(
        self,
        name: KeyT,
        max: float | str,  # noqa: A002 - redis-py's names and order
        min: float | str,  # noqa: A002
        start: int | None = None,
        num: int | None = None,
        withscores: bool = False,
    ) -> list[bytes] | list[tuple[bytes, float]]:
        args = ["ZREVRANGEBYSCORE", name, max, min, *_limit(start, num)]
        return self._zrange_reply(args, withscores)

    def _zrange_reply(self, args: list[Any], withscores: bool) -> Any:
        if withscores:
            return self._execute([*args, "WITHSCORES"], "scores")
        return self._execute(args)

    def zscore(self, name: KeyT, value: EncodableT) -> float | None:
        return self._execute(["ZSCORE", name, value], "float")

    def zincrby(self, name: KeyT, amount: float, value: EncodableT) -> float:
        return self._execute(["ZINCRBY", name, amount, value], "float")

    def zrem(self, name: KeyT, *values: EncodableT) -> int:
        return self._execute(["ZREM", name, *values], "int")

    def zcard(self, name: KeyT) -> int:
        return self._execute(["ZCARD", name], "int")

    def zcount(self, name: KeyT, min: float | str, max: float | str) -> int:  # noqa: A002
        return self._execute(["ZCOUNT", name, min, max], "int")

    def zrank(self, name: KeyT, value: EncodableT) -> int | None:
        return self._execute(["ZRANK", name, value], "int")

    def zrevrank(self, name: KeyT, value: EncodableT) -> int | None:
        return self._execute(["ZREVRANK", name, value], "int")

    def zremrangebyscore(self, name: KeyT, min: float | str, max: float | str) -> int:  # noqa: A002
        return self._execute(["ZREMRANGEBYSCORE", name, min, max], "int")

    def zpopmin(self, name: KeyT, count: int | None = None) -> list[tuple[bytes, float]]:
        return self._execute(["ZPOPMIN", name, *([] if count is None else [count])], "scores")

    def zpopmax(self, name: KeyT, count: int | None = None) -> list[tuple[bytes, float]]:
        return self._execute(["ZPOPMAX", name, *([] if count is None else [count])], "scores")


def _pairs(mapping: Mapping[Any, Any]) -> list[Any]:
    return [x for pair in mapping.items() for x in pair]


def _limit(start: int | None, num: int | None) -> list[Any]:
    if (start is None) != (num is None):
        raise DataError("``start`` and ``num`` must both be specified")
    return [] if start is None else ["LIMIT", start, num]


class RedisClient(_Commands):
    """Commands on one named pool. Cheap to create; the pool is looked up on first use, so
    ``global_redis`` can be created at import time, outside the runtime."""

    def __init__(self, name: str = "default") -> None:
        self._name = name
        self._client: Any = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def _native(self) -> Any:
        if self._client is None:
            self._client = _require_native().client(self._name)
        return self._client

    def _execute(
        self, args: list[Any], reply: str = "raw", post: Callable[[Any], Any] | None = None
    ) -> Any:
        return _apply(self._native.command(args, reply), post)

    def pipeline(self, transaction: bool = True) -> Pipeline:
        """Queue commands and send them in one round trip with :meth:`Pipeline.execute`;
        with ``transaction`` (the default, as in redis-py) wrapped in MULTI/EXEC."""
        return Pipeline(self, transaction)

    def scan_iter(
        self, match: KeyT | None = None, count: int | None = None, _type: str | None = None
    ) -> Iterator[bytes]:
        """Every key matching ``match`` (SCAN: keys may repeat, as in redis-py)."""
        cursor = -1
        while cursor != 0:
            cursor, keys = self.scan(max(cursor, 0), match=match, count=count, _type=_type)
            yield from keys

    def pool_status(self) -> dict[str, int]:
        """``connections``, ``idle`` and ``max_open`` of this client's pool."""
        return _require_native().pool_status(self._name)

    def __repr__(self) -> str:
        return f"<puff.redis.RedisClient {self._name!r}>"


class Pipeline(_Commands):
    """Commands queued by a pipeline return the pipeline itself, so calls chain:
    ``pipe.set("a", 1).incr("a").execute()  # [True, 2]``."""

    def __init__(self, client: RedisClient, transaction: bool = True) -> None:
        self._client = client
        self.transaction = transaction
        self._queued: list[tuple[list[Any], str]] = []
        self._posts: list[Callable[[Any], Any] | None] = []

    def _execute(
        self, args: list[Any], reply: str = "raw", post: Callable[[Any], Any] | None = None
    ) -> Pipeline:
        self._queued.append((args, reply))
        self._posts.append(post)
        return self

    def multi(self) -> Pipeline:
        """Make this pipeline a MULTI/EXEC transaction (redis-py compatibility)."""
        self.transaction = True
        return self

    def execute(self) -> list[Any]:
        """Send every queued command in one round trip and return their replies in order.

        An error reply raises :class:`ResponseError` for the first failing command. The
        other commands still ran: Redis does not roll back, except that a command rejected
        while a transaction is queued (wrong arguments) aborts the whole transaction."""
        queued, posts = self._queued, self._posts
        self.reset()
        if not queued:
            return []
        result = self._client._native.pipeline(queued, self.transaction)

        def convert(replies: list[Any]) -> list[Any]:
            return [r if post is None else post(r) for r, post in zip(replies, posts)]

        return _apply(result, convert if any(posts) else None)

    def reset(self) -> None:
        """Forget the queued commands."""
        self._queued = []
        self._posts = []

    def __len__(self) -> int:
        return len(self._queued)

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.reset()

    def __repr__(self) -> str:
        kind = "transaction" if self.transaction else "pipeline"
        return f"<puff.redis.Pipeline {kind} on {self._client.name!r}, {len(self)} queued>"


def named_client(name: str = "default") -> RedisClient:
    """The client on the pool configured as ``[[redis]] name = "..."``."""
    client = RedisClient(name)
    if _native_redis is not None:
        client._native  # noqa: B018 - fail now (RedisError naming the pools) on a bad name
    return client


def pool_names() -> list[str]:
    """Names of the configured ``[[redis]]`` pools."""
    return list(_require_native().pool_names())


global_redis = RedisClient("default")
