"""``puff.redis``: a redis-py style client on Puff's Rust connection pools.

Code written for redis-py ports by changing the import::

    from puff.redis import global_redis as redis   # was: redis = Redis(...)

    redis.set("greeting", "hello", ex=60)
    assert redis.get("greeting") == b"hello"
    with redis.pipeline() as pipe:                  # MULTI ... EXEC, one round trip
        pipe.incr("hits").expire("hits", 300)
        hits, _ = pipe.execute()

The command methods of redis-py 8's core client (strings, bits, keys, hashes, lists, sets,
sorted sets, streams and consumer groups, HyperLogLog, geo, scripting, scans and a few
server commands; also those of Redis 7.4 and 8.x) keep redis-py's names, signatures and
return types, as redis-py gives them with its default options (``decode_responses=False``): bytes replies, ``True`` for
OK, ``None`` for nil, ints, floats, dicts, sets, ``(member, score)`` tuples.
``execute_command(...)`` applies the same per-command reply conversions redis-py applies
(``execute_command("SET", "k", "v")`` is ``True``); ``command([...])`` returns the raw
reply. Each call borrows a connection from the pool configured by the ``[[redis]]`` entry
of that name in puff.toml (``named_client(name)``; ``global_redis`` is ``default``) and
runs on Tokio: a greenlet waiting for Redis lets every other greenlet run. Blocking
commands (``BLPOP``, ``XREAD ... BLOCK``, ...) wait on connections of their own, outside
the pool, so any number of waiters never starve the other callers. Called from a
coroutine on Puff's event loop (``asyncio = true``) every command returns an awaitable.

Refused, because they pin one connection to one caller: ``WATCH``/``UNWATCH``,
``MULTI``/``EXEC``/``DISCARD`` as raw commands (use :meth:`RedisClient.pipeline`, or a
Lua script for check-and-set), ``SUBSCRIBE`` and friends (use ``puff.pubsub``),
``MONITOR``, ``SELECT`` (configure the database in the pool's URL), ``CLIENT REPLY``,
``RESET``, ``QUIT``, ``HELLO``, ``AUTH`` (the pool's URL holds the credentials). Values
must be bytes, str, int or float; other types raise :class:`DataError` like redis-py.
Server error replies raise :class:`ResponseError` (:class:`NoScriptError`, ... for the
codes redis-py maps), an unreachable server :class:`ConnectionError`.
"""

from __future__ import annotations

import datetime
import hashlib
import inspect
import textwrap
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import TYPE_CHECKING, Any, Union, cast

from puff import PuffError, PuffNotRunningError, _native

if TYPE_CHECKING:
    from puff._native import _RedisModule, _RedisNativeClient

__all__ = [
    "BitFieldOperation",
    "ConnectionError",
    "DataError",
    "ExecAbortError",
    "NoScriptError",
    "Pipeline",
    "RedisClient",
    "RedisError",
    "ResponseError",
    "Script",
    "TimeoutError",
    "global_redis",
    "named_client",
    "pool_names",
]

_native_redis: _RedisModule | None = (
    getattr(_native, "redis", None) if _native is not None else None
)

if _native is not None and _native_redis is None:
    raise ImportError(
        "puff.redis needs the `redis` feature, which this build of Puff does not include: "
        "rebuild with it enabled (e.g. `cargo build -p puff-cli --features redis`)"
    )

if TYPE_CHECKING:  # the native classes, as puff/_native.pyi describes them
    from puff._native import _RedisConnectionError as ConnectionError  # noqa: A004
    from puff._native import _RedisDataError as DataError
    from puff._native import _RedisError as RedisError
    from puff._native import _RedisExecAbortError as ExecAbortError
    from puff._native import _RedisNoScriptError as NoScriptError
    from puff._native import _RedisResponseError as ResponseError
    from puff._native import _RedisTimeoutError as TimeoutError  # noqa: A004
elif _native_redis is not None:
    RedisError = _native_redis.RedisError
    ResponseError = _native_redis.ResponseError
    ConnectionError = _native_redis.ConnectionError  # noqa: A001 - redis-py's name
    TimeoutError = _native_redis.TimeoutError  # noqa: A001 - redis-py's name
    DataError = _native_redis.DataError
    NoScriptError = _native_redis.NoScriptError
    ExecAbortError = _native_redis.ExecAbortError
else:  # outside the runtime: importable for tools and type checkers

    class RedisError(PuffError):
        """Base class of the errors raised by puff.redis."""

    class ResponseError(RedisError):
        """The server answered with an error reply (e.g. ``WRONGTYPE ...``)."""

    class ConnectionError(RedisError):  # noqa: A001
        """The server is unreachable or the connection broke."""

    class TimeoutError(RedisError):  # noqa: A001
        """No connection or no reply within the configured timeout."""

    class DataError(RedisError):
        """An argument cannot be sent to Redis (e.g. a bool or None)."""

    class NoScriptError(ResponseError):
        """EVALSHA of a script the server does not have (``NOSCRIPT``)."""

    class ExecAbortError(ResponseError):
        """A transaction was discarded because a queued command was rejected."""


def _require_native() -> _RedisModule:
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
StreamIdT = Union[int, bytes, str, memoryview]
ZScoreBoundT = Union[float, str]
# `set` is also a method name of the command classes: spell the reply type outside them.
Members = set[bytes]
# `type` too (TYPE is a command): a score conversion is a class or any function.
ScoreCast = Union[type, Callable[[Any], Any]]
ScorePairs = list[tuple[bytes, Any]]
Post = Callable[..., Any]

# Commands that would pin a connection to one caller, and what to use instead.
_PINNED = {
    "WATCH": "a pipeline (MULTI/EXEC) or a Lua script (eval / register_script)",
    "UNWATCH": "a pipeline (MULTI/EXEC) or a Lua script (eval / register_script)",
    "MULTI": "pipeline(transaction=True)",
    "EXEC": "pipeline(transaction=True)",
    "DISCARD": "pipeline(transaction=True)",
    "SUBSCRIBE": "puff.pubsub",
    "PSUBSCRIBE": "puff.pubsub",
    "SSUBSCRIBE": "puff.pubsub",
    "UNSUBSCRIBE": "puff.pubsub",
    "PUNSUBSCRIBE": "puff.pubsub",
    "SUNSUBSCRIBE": "puff.pubsub",
    "MONITOR": "redis-cli monitor",
    "SELECT": "a database number in the pool's URL (redis://host:port/DB)",
    "SWAPDB": "a database number in the pool's URL (redis://host:port/DB)",
    "CLIENT REPLY": "ordinary commands",
    "RESET": "ordinary commands",
    "QUIT": "ordinary commands",
    "HELLO": "the pool's URL (RESP2 is used)",
    "AUTH": "credentials in the pool's URL (redis://user:password@host:port)",
}


def _refuse_pinned(name: str) -> None:
    raise RedisError(
        f"{name} is not supported by puff.redis: it would pin one pooled connection to "
        f"one caller; use {_PINNED[name]} instead"
    )


# ---- argument helpers -----------------------------------------------------------------


def _list_or_args(keys: Any, args: Iterable[Any] | None) -> list[Any]:
    """redis-py's convention: ``mget("a", "b")`` and ``mget(["a", "b"])`` are the same."""
    if isinstance(keys, (str, bytes, bytearray, memoryview)):
        out = [keys]
    else:
        try:
            out = list(keys)
        except TypeError:
            out = [keys]
    if args:
        out.extend(args)
    return out


def _pairs(mapping: Mapping[Any, Any]) -> list[Any]:
    return [x for pair in mapping.items() for x in pair]


def _seconds(time: ExpiryT) -> int:
    return int(time.total_seconds()) if isinstance(time, datetime.timedelta) else time


_ONE_MS = datetime.timedelta(milliseconds=1)
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def _millis(time: Any) -> Any:
    if not isinstance(time, datetime.timedelta):
        return time
    # Integer arithmetic: a float product can come out 1 ms low.
    return -(-time // _ONE_MS) if time < datetime.timedelta(0) else time // _ONE_MS


def _unix_seconds(when: Any) -> Any:
    return int(when.timestamp()) if isinstance(when, datetime.datetime) else when


def _unix_millis(when: Any) -> Any:
    if not isinstance(when, datetime.datetime):
        return when
    if when.utcoffset() is None:
        whole = int(when.replace(tzinfo=None, microsecond=0).timestamp())
        return _millis(datetime.timedelta(seconds=whole, microseconds=when.microsecond))
    return _millis(when - _EPOCH)


def _expiry_flags(ex: Any, px: Any, exat: Any, pxat: Any) -> list[Any]:
    """EX/PX/EXAT/PXAT as SET and GETEX take them (the first one given wins)."""
    if ex is not None:
        return ["EX", _relative(ex, "ex", _seconds)]
    if px is not None:
        return ["PX", _relative(px, "px", _millis)]
    if exat is not None:
        return ["EXAT", _unix_seconds(exat)]
    if pxat is not None:
        return ["PXAT", _unix_millis(pxat)]
    return []


def _relative(value: Any, what: str, convert: Callable[[Any], Any]) -> Any:
    if isinstance(value, datetime.timedelta):
        return convert(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdecimal():
        return int(value)
    raise DataError(f"{what} must be datetime.timedelta, int, or a digit string")


def _one_at_most(*flags: Any) -> bool:
    return sum(bool(f) for f in flags) <= 1


def _condition_flags(nx: bool, xx: bool, gt: bool, lt: bool) -> list[str]:
    return [name for name, on in (("NX", nx), ("XX", xx), ("GT", gt), ("LT", lt)) if on]


def _optional(*items: Any) -> list[Any]:
    """``[]`` when the last item is None, else the items (``_optional("COUNT", n)``)."""
    return [] if items[-1] is None else list(items)


def _text(value: Any) -> Any:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value


# ---- reply conversions (each takes the raw reply and the call's options) --------------


def _pong(reply: Any, **_: Any) -> bool:
    return _text(reply) == "PONG"


def _ok(reply: Any, **_: Any) -> bool:
    return _text(reply) == "OK"


def _to_bool(reply: Any, **_: Any) -> bool:
    return bool(reply)


def _to_float(reply: Any, **_: Any) -> float:
    return float(reply)


def _float_or_none(reply: Any, **_: Any) -> float | None:
    return None if reply is None else float(reply)


def _to_set(reply: Any, **_: Any) -> set[Any]:
    return set(reply) if reply else set()


def _to_dict(reply: Any, **_: Any) -> dict[Any, Any]:
    if not reply:
        return {}
    it = iter(reply)
    return dict(zip(it, it))


def _str_keys_dict(reply: Any) -> dict[str, Any]:
    it = iter(reply)
    return {_text(k): v for k, v in zip(it, it)}


def _to_tuple_or_none(reply: Any, **_: Any) -> tuple[Any, ...] | None:
    return tuple(reply) if reply else None


def _set_reply(reply: Any, get: bool = False, **_: Any) -> Any:
    if get or not reply:  # the old value, or None when NX/XX prevented the SET
        return reply
    return _text(reply) == "OK"


def _cast_scores(score_cast_func: Any) -> Callable[[Any], Any]:
    """``score_cast_func`` that also reads scores written in exponent form (``1e+18``)
    when it cannot, as redis-py does."""
    if score_cast_func is float:
        return float

    def cast(value: Any) -> Any:
        try:
            return score_cast_func(value)
        except (TypeError, ValueError):
            return score_cast_func(float(value))

    return cast


def _score_pairs(
    reply: Any, withscores: bool = False, score_cast_func: Any = float, **_: Any
) -> Any:
    if not reply or not withscores:
        return reply
    cast = _cast_scores(score_cast_func)
    it = iter(reply)
    return [(member, cast(score)) for member, score in zip(it, it)]


def _popped_pairs(reply: Any, score_cast_func: Any = float, **_: Any) -> Any:
    return _score_pairs(reply, withscores=True, score_cast_func=score_cast_func)


def _rank_reply(reply: Any, withscore: bool = False, score_cast_func: Any = float, **_: Any) -> Any:
    if not reply or not withscore:
        return reply
    return [reply[0], _cast_scores(score_cast_func)(reply[1])]


def _bzpop_reply(reply: Any, **_: Any) -> Any:
    return (reply[0], reply[1], float(reply[2])) if reply else None


def _zadd_reply(reply: Any, as_score: bool = False, **_: Any) -> Any:
    if reply is None:
        return None
    return float(reply) if as_score else int(reply)


def _zmscore_reply(reply: Any, **_: Any) -> list[float | None]:
    return [None if score is None else float(score) for score in reply]


def _increx_reply(reply: Any, **_: Any) -> Any:
    # RESP3 (redis-py's default) sends BYFLOAT's numbers as doubles, RESP2 as strings.
    return [float(x) if isinstance(x, bytes) else x for x in reply]


def _zmove_reply(reply: Any, **_: Any) -> Any:
    if reply is None:
        return None
    return [[member, float(score)] for member, score in reply]


def _scan_reply(reply: Any, **_: Any) -> tuple[int, Any]:
    return int(reply[0]), reply[1]


def _hscan_reply(reply: Any, no_values: Any = None, **_: Any) -> tuple[int, Any]:
    cursor, items = reply
    if no_values:
        return int(cursor), items or []
    return int(cursor), _to_dict(items)


def _zscan_reply(reply: Any, score_cast_func: Any = float, **_: Any) -> tuple[int, Any]:
    cursor, items = reply
    cast = _cast_scores(score_cast_func)
    it = iter(items)
    return int(cursor), [(member, cast(score)) for member, score in zip(it, it)]


def _sort_reply(reply: Any, groups: int | None = None, **_: Any) -> Any:
    if not reply or not groups:
        return reply
    return list(zip(*[reply[i::groups] for i in range(groups)]))


def _time_reply(reply: Any, **_: Any) -> tuple[int, int]:
    return int(reply[0]), int(reply[1])


def _info_value(value: str) -> Any:
    if "," not in value and "=" not in value:
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            return value
    if "=" not in value:
        return [_info_value(v) for v in value.split(",") if v]
    sub: dict[str, Any] = {}
    for item in value.split(","):
        if not item:
            continue
        if "=" in item:
            k, v = item.rsplit("=", 1)
            sub[k] = _info_value(v)
        else:
            sub[item] = True
    return sub


def _info_reply(reply: Any, **_: Any) -> dict[str, Any]:
    """INFO's ``key:value`` lines as a dict, values typed (ints, floats, sub-dicts)."""
    info: dict[str, Any] = {}
    for line in _text(reply).splitlines():
        if not line or line.startswith("#"):
            continue
        if ":" not in line:
            info.setdefault("__raw__", []).append(line)
            continue
        key, value = line.split(":", 1)
        if key == "cmdstat_host":
            key, value = line.rsplit(":", 1)
        if key == "module":
            info.setdefault("modules", []).append(_info_value(value))
        else:
            info[key] = _info_value(value)
    return info


def _script_exists_reply(reply: Any, **_: Any) -> list[bool]:
    return [bool(x) for x in reply]


def _text_reply(reply: Any, **_: Any) -> Any:
    return _text(reply)


def _texts_reply(reply: Any, **_: Any) -> list[Any]:
    return [_text(x) for x in reply]


def _geopos_reply(reply: Any, **_: Any) -> list[tuple[float, float] | None]:
    return [None if p is None else (float(p[0]), float(p[1])) for p in reply]


def _geosearch_reply(reply: Any, **options: Any) -> Any:
    if "store" not in options:  # sent through execute_command: the raw reply
        return reply
    if options["store"] or options["store_dist"]:
        return reply
    rows = reply if isinstance(reply, list) else [reply]
    wanted = [
        cast
        for flag, cast in (
            ("withdist", float),
            ("withhash", int),
            ("withcoord", lambda ll: (float(ll[0]), float(ll[1]))),
        )
        if options[flag]
    ]
    if not wanted:
        return rows
    return [[row[0], *(cast(v) for cast, v in zip(wanted, row[1:]))] for row in rows]


def _stream_entries(reply: Any, **options: Any) -> Any:
    if reply is None:
        return None
    out: list[Any] = []
    for entry in reply:
        if entry is None:
            out.append((None, None))
        elif "claim_min_idle_time" in options:
            out.append((entry[0], _to_dict(entry[1]), *entry[2:]))
        else:
            out.append((entry[0], _to_dict(entry[1])))
    return out


def _xread_reply(reply: Any, **options: Any) -> Any:
    if reply is None:
        return []
    return [[stream, _stream_entries(entries, **options)] for stream, entries in reply]


def _xclaim_reply(reply: Any, parse_justid: bool = False, **_: Any) -> Any:
    return reply if parse_justid else _stream_entries(reply)


def _xautoclaim_reply(reply: Any, parse_justid: bool = False, **_: Any) -> Any:
    if parse_justid:
        return reply[1]
    reply[1] = _stream_entries(reply[1])
    return reply


def _xinfo_stream_reply(reply: Any, full: bool = False, **_: Any) -> dict[str, Any]:
    data = _str_keys_dict(reply)
    if not full:
        for end in ("first-entry", "last-entry"):
            entry = data.get(end)
            if entry is not None and entry[0] is not None:
                data[end] = (entry[0], _to_dict(entry[1]))
        return data
    data["entries"] = {entry_id: _to_dict(fields) for entry_id, fields in data["entries"]}
    groups = [_str_keys_dict(g) for g in data["groups"]]
    for group in groups:
        if group["consumers"] and group["consumers"][0] is not None:
            group["consumers"] = [_str_keys_dict(c) for c in group["consumers"]]
    data["groups"] = groups
    return data


def _list_of_dicts(reply: Any, **_: Any) -> list[dict[str, Any]]:
    return [_str_keys_dict(item) for item in reply]


_PENDING_FIELDS = ("message_id", "consumer", "time_since_delivered", "times_delivered")


def _xpending_reply(reply: Any, parse_detail: bool = False, **_: Any) -> Any:
    if parse_detail:
        return [dict(zip(_PENDING_FIELDS, row)) for row in reply]
    return {
        "pending": reply[0],
        "min": reply[1],
        "max": reply[2],
        "consumers": [{"name": n, "pending": int(p)} for n, p in reply[3] or []],
    }


# Command name (as given to execute_command, upper case) -> reply conversion: a reply kind
# converted in Rust (the cheap, common cases) or a function of the reply and the call's
# options. Commands not listed return the raw reply (bytes, int, list, None).
_REPLY: dict[str, str | Post] = {
    **dict.fromkeys(
        "COPY EXPIRE EXPIREAT HEXISTS HMSET MOVE MSETNX PERSIST PSETEX PEXPIRE PEXPIREAT "
        "RENAMENX SETEX SETNX SMOVE".split(),
        "bool",
    ),
    "XGROUP DESTROY": "bool",
    **dict.fromkeys(["FLUSHALL", "FLUSHDB", "LSET", "LTRIM", "MSET", "PFMERGE", "RENAME"], "ok"),
    **dict.fromkeys(["SCRIPT FLUSH", "SCRIPT KILL", "XGROUP CREATE", "XGROUP SETID"], _ok),
    **dict.fromkeys(["HINCRBYFLOAT", "INCRBYFLOAT"], "float"),
    **dict.fromkeys(["ZINCRBY", "ZSCORE", "GEODIST"], "float"),
    **dict.fromkeys(["SDIFF", "SINTER", "SMEMBERS", "SUNION"], "set"),
    "HGETALL": "dict",
    **dict.fromkeys(["BLPOP", "BRPOP"], "pair"),
    **dict.fromkeys(
        ["ZINTER", "ZRANGE", "ZRANGEBYSCORE", "ZREVRANGE", "ZREVRANGEBYSCORE", "ZUNION"],
        _score_pairs,
    ),
    **dict.fromkeys(["ZPOPMAX", "ZPOPMIN"], _popped_pairs),
    **dict.fromkeys(["ZRANK", "ZREVRANK"], _rank_reply),
    **dict.fromkeys(["BZPOPMAX", "BZPOPMIN"], _bzpop_reply),
    "ZADD": _zadd_reply,
    "ZMSCORE": _zmscore_reply,
    "INCREX": _increx_reply,
    **dict.fromkeys(["ZMOVE", "BZMOVE", "ZMOVEMEMBER"], _zmove_reply),
    "SET": _set_reply,
    "PING": _pong,
    "TIME": _time_reply,
    "INFO": _info_reply,
    "SCAN": _scan_reply,
    "SSCAN": _scan_reply,
    "HSCAN": _hscan_reply,
    "ZSCAN": _zscan_reply,
    "SORT": _sort_reply,
    "SCRIPT EXISTS": _script_exists_reply,
    "SCRIPT LOAD": _text_reply,
    "GEOHASH": _texts_reply,
    "GEOPOS": _geopos_reply,
    **dict.fromkeys(["GEORADIUS", "GEORADIUSBYMEMBER", "GEOSEARCH"], _geosearch_reply),
    **dict.fromkeys(["XRANGE", "XREVRANGE"], _stream_entries),
    **dict.fromkeys(["XREAD", "XREADGROUP"], _xread_reply),
    "XCLAIM": _xclaim_reply,
    "XAUTOCLAIM": _xautoclaim_reply,
    "XINFO STREAM": _xinfo_stream_reply,
    **dict.fromkeys(["XINFO CONSUMERS", "XINFO GROUPS"], _list_of_dicts),
    "XPENDING": _xpending_reply,
}


def _command_key(name: Any) -> str:
    if isinstance(name, (bytes, bytearray, memoryview)):
        name = bytes(name).decode("utf-8", errors="replace")
    return str(name).upper()


async def _await_then(awaitable: Awaitable[Any], post: Callable[[Any], Any]) -> Any:
    return post(await awaitable)


def _apply(result: Any, post: Callable[[Any], Any] | None) -> Any:
    """Run ``post`` on a reply, now or (from a coroutine) once it has been awaited."""
    if post is None:
        return result
    if inspect.isawaitable(result):
        return _await_then(result, post)
    return post(result)


def _bind(post: Post | None, options: dict[str, Any]) -> Callable[[Any], Any] | None:
    if post is None or not options:
        return post
    return lambda reply: post(reply, **options)


class _Commands:
    """The redis-py command methods. Each builds the argument list and hands it, with the
    reply conversion it needs, to ``_execute``: the client sends it at once, a pipeline
    queues it. A conversion is a reply kind done in Rust (``"ok"``, ``"bool"``, ``"int"``,
    ``"float"``, ``"dict"``, ``"set"``, ``"scores"``, ``"pair"``; see
    ``puff._native.redis``) and/or a Python function of the raw reply."""

    def _execute(
        self, args: list[Any], reply: str = "raw", post: Callable[[Any], Any] | None = None
    ) -> Any:
        raise NotImplementedError

    # ---- any command ------------------------------------------------------------------

    def command(self, args: list[Any] | tuple[Any, ...]) -> Any:
        """Send any command, e.g. ``command(["OBJECT", "ENCODING", "key"])``; raw reply."""
        args = list(args)
        if args:
            self._check_pinned(args)
        return self._execute(args)

    def execute_command(self, *args: Any, **options: Any) -> Any:
        """Send any command with redis-py's reply conversion for its name
        (``execute_command("SET", "k", "v")`` is ``True``). A name with spaces
        (``"XINFO STREAM"``) is sent as several words, as redis-py does."""
        if not args:
            raise DataError("an empty command: give at least its name")
        name = args[0]
        key = _command_key(name)
        if isinstance(name, str) and " " in name:
            args = (*name.split(), *args[1:])
        self._check_pinned(list(args))
        conversion = _REPLY.get(key)
        if conversion is None:
            return self._execute(list(args))
        if isinstance(conversion, str):
            return self._execute(list(args), conversion)
        return self._execute(list(args), "raw", _bind(conversion, options))

    @staticmethod
    def _check_pinned(args: list[Any]) -> None:
        name = _command_key(args[0])
        if name == "CLIENT" and len(args) > 1:
            name = f"CLIENT {_command_key(args[1])}"
        if name in _PINNED:
            _refuse_pinned(name)

    def watch(self, *names: KeyT) -> None:
        """Refused: WATCH needs one connection kept for one caller until EXEC."""
        _refuse_pinned("WATCH")

    def unwatch(self) -> None:
        """Refused, like :meth:`watch`."""
        _refuse_pinned("UNWATCH")

    # ---- server -----------------------------------------------------------------------

    def ping(self, **kwargs: Any) -> bool:
        return self._execute(["PING"], post=_pong)

    def info(self, section: str | None = None, *args: str, **kwargs: Any) -> dict[str, Any]:
        sections = [] if section is None else [section, *args]
        return self._execute(["INFO", *sections], post=_info_reply)

    def dbsize(self, **kwargs: Any) -> int:
        return self._execute(["DBSIZE"])

    def flushdb(self, asynchronous: bool = False, **kwargs: Any) -> bool:
        """Delete every key of the pool's database (tests only!)."""
        return self._execute(["FLUSHDB", *(["ASYNC"] if asynchronous else [])], "ok")

    def time(self, **kwargs: Any) -> tuple[int, int]:
        return self._execute(["TIME"], post=_time_reply)

    def echo(self, value: EncodableT, **kwargs: Any) -> bytes:
        return self._execute(["ECHO", value])

    # ---- keys -------------------------------------------------------------------------

    def copy(
        self,
        source: KeyT,
        destination: KeyT,
        destination_db: int | str | None = None,
        replace: bool = False,
    ) -> bool:
        args = ["COPY", source, destination, *_optional("DB", destination_db)]
        return self._execute([*args, *(["REPLACE"] if replace else [])], "bool")

    def delete(self, *names: KeyT) -> int:
        return self._execute(["DEL", *names])

    def unlink(self, *names: KeyT) -> int:
        return self._execute(["UNLINK", *names])

    def dump(self, name: KeyT) -> bytes | None:
        return self._execute(["DUMP", name])

    def exists(self, *names: KeyT) -> int:
        return self._execute(["EXISTS", *names])

    def touch(self, *args: KeyT) -> int:
        return self._execute(["TOUCH", *args])

    def expire(
        self,
        name: KeyT,
        time: ExpiryT,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> bool:
        flags = _condition_flags(nx, xx, gt, lt)
        return self._execute(["EXPIRE", name, _seconds(time), *flags], "bool")

    def pexpire(
        self,
        name: KeyT,
        time: ExpiryT,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> bool:
        flags = _condition_flags(nx, xx, gt, lt)
        return self._execute(["PEXPIRE", name, _millis(time), *flags], "bool")

    def expireat(
        self,
        name: KeyT,
        when: AbsExpiryT,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> bool:
        flags = _condition_flags(nx, xx, gt, lt)
        return self._execute(["EXPIREAT", name, _unix_seconds(when), *flags], "bool")

    def pexpireat(
        self,
        name: KeyT,
        when: AbsExpiryT,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> bool:
        flags = _condition_flags(nx, xx, gt, lt)
        return self._execute(["PEXPIREAT", name, _unix_millis(when), *flags], "bool")

    def expiretime(self, key: KeyT) -> int:
        return self._execute(["EXPIRETIME", key])

    def pexpiretime(self, key: KeyT) -> int:
        return self._execute(["PEXPIRETIME", key])

    def ttl(self, name: KeyT) -> int:
        return self._execute(["TTL", name])

    def pttl(self, name: KeyT) -> int:
        return self._execute(["PTTL", name])

    def persist(self, name: KeyT) -> bool:
        return self._execute(["PERSIST", name], "bool")

    def keys(self, pattern: KeyT = "*", **kwargs: Any) -> list[bytes]:
        return self._execute(["KEYS", pattern])

    def randomkey(self, **kwargs: Any) -> bytes | None:
        return self._execute(["RANDOMKEY"])

    def rename(self, src: KeyT, dst: KeyT) -> bool:
        return self._execute(["RENAME", src, dst], "ok")

    def renamenx(self, src: KeyT, dst: KeyT) -> bool:
        return self._execute(["RENAMENX", src, dst], "bool")

    def move(self, name: KeyT, db: int) -> bool:
        return self._execute(["MOVE", name, db], "bool")

    def restore(
        self,
        name: KeyT,
        ttl: float,
        value: EncodableT,
        replace: bool = False,
        absttl: bool = False,
        idletime: int | None = None,
        frequency: int | None = None,
    ) -> bytes:
        args: list[Any] = ["RESTORE", name, ttl, value]
        if replace:
            args.append("REPLACE")
        if absttl:
            args.append("ABSTTL")
        if idletime is not None:
            try:
                args += ["IDLETIME", int(idletime)]
            except ValueError:
                raise DataError("idletimemust be an integer") from None
        if frequency is not None:
            try:
                args += ["FREQ", int(frequency)]
            except ValueError:
                raise DataError("frequency must be an integer") from None
        return self._execute(args)

    def type(self, name: KeyT) -> bytes:
        return self._execute(["TYPE", name])

    def sort(
        self,
        name: KeyT,
        start: int | None = None,
        num: int | None = None,
        by: KeyT | None = None,
        get: KeyT | Sequence[KeyT] | None = None,
        desc: bool = False,
        alpha: bool = False,
        store: KeyT | None = None,
        groups: bool | None = False,
    ) -> list[Any] | int:
        if (start is None) != (num is None):
            raise DataError("``start`` and ``num`` must both be specified")
        args: list[Any] = ["SORT", name, *_optional("BY", by)]
        if start is not None:
            args += ["LIMIT", start, num]
        gets = [] if get is None else [get] if isinstance(get, (bytes, str)) else list(get)
        for pattern in gets:
            args += ["GET", pattern]
        if desc:
            args.append("DESC")
        if alpha:
            args.append("ALPHA")
        args += _optional("STORE", store)
        if groups and (not get or isinstance(get, (bytes, str)) or len(gets) < 2):
            raise DataError(
                'when using "groups" the "get" argument must be specified and contain at '
                "least two keys"
            )
        return self._execute(
            args, post=_bind(_sort_reply, {"groups": len(gets) if groups else None})
        )

    def sort_ro(
        self,
        key: KeyT,
        start: int | None = None,
        num: int | None = None,
        by: KeyT | None = None,
        get: KeyT | Sequence[KeyT] | None = None,
        desc: bool = False,
        alpha: bool = False,
    ) -> list[Any]:
        """As redis-py does, this sends SORT (SORT_RO's reply is the same)."""
        # Without `store`, SORT replies with the list.
        return cast(
            "list[Any]",
            self.sort(key, start=start, num=num, by=by, get=get, desc=desc, alpha=alpha),
        )

    # ---- scans ------------------------------------------------------------------------

    def scan(
        self,
        cursor: int = 0,
        match: KeyT | None = None,
        count: int | None = None,
        _type: str | None = None,
        **kwargs: Any,
    ) -> tuple[int, list[bytes]]:
        args = ["SCAN", cursor, *_optional("MATCH", match), *_optional("COUNT", count)]
        return self._execute([*args, *_optional("TYPE", _type)], post=_scan_reply)

    def sscan(
        self,
        name: KeyT,
        cursor: int = 0,
        match: KeyT | None = None,
        count: int | None = None,
    ) -> tuple[int, list[bytes]]:
        args = ["SSCAN", name, cursor, *_optional("MATCH", match), *_optional("COUNT", count)]
        return self._execute(args, post=_scan_reply)

    def hscan(
        self,
        name: KeyT,
        cursor: int = 0,
        match: KeyT | None = None,
        count: int | None = None,
        no_values: bool | None = None,
    ) -> tuple[int, dict[bytes, bytes] | list[bytes]]:
        args = ["HSCAN", name, cursor, *_optional("MATCH", match), *_optional("COUNT", count)]
        if no_values:
            args.append("NOVALUES")
        return self._execute(args, post=_bind(_hscan_reply, {"no_values": no_values}))

    def zscan(
        self,
        name: KeyT,
        cursor: int = 0,
        match: KeyT | None = None,
        count: int | None = None,
        score_cast_func: ScoreCast = float,
    ) -> tuple[int, ScorePairs]:
        args = ["ZSCAN", name, cursor, *_optional("MATCH", match), *_optional("COUNT", count)]
        return self._execute(args, post=_bind(_zscan_reply, {"score_cast_func": score_cast_func}))

    # ---- strings ----------------------------------------------------------------------

    def set(
        self,
        name: KeyT,
        value: EncodableT,
        ex: ExpiryT | str | None = None,
        px: ExpiryT | str | None = None,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
        get: bool = False,
        exat: AbsExpiryT | None = None,
        pxat: AbsExpiryT | None = None,
        ifeq: bytes | str | None = None,
        ifne: bytes | str | None = None,
        ifdeq: str | None = None,
        ifdne: str | None = None,
    ) -> bool | bytes | None:
        """True when set, None when a condition (``nx``, ``xx``, ...) prevented it; with
        ``get=True`` the old value instead."""
        if (
            ex is None
            and px is None
            and exat is None
            and pxat is None
            and not (keepttl or nx or xx or get)
            and ifeq is None
            and ifne is None
            and ifdeq is None
            and ifdne is None
        ):
            return self._execute(["SET", name, value], "ok")  # the common case, fast
        if not _one_at_most(
            ex is not None, px is not None, exat is not None, pxat is not None, keepttl
        ):
            raise DataError(
                "``ex``, ``px``, ``exat``, ``pxat``, and ``keepttl`` are mutually exclusive."
            )
        if not _one_at_most(
            nx, xx, ifeq is not None, ifne is not None, ifdeq is not None, ifdne is not None
        ):
            raise DataError(
                "``nx``, ``xx``, ``ifeq``, ``ifne``, ``ifdeq``, ``ifdne`` are mutually exclusive."
            )
        args: list[Any] = ["SET", name, value]
        if nx:
            args.append("NX")
        elif xx:
            args.append("XX")
        else:
            for flag, operand in (
                ("IFEQ", ifeq),
                ("IFNE", ifne),
                ("IFDEQ", ifdeq),
                ("IFDNE", ifdne),
            ):
                if operand is not None:
                    args += [flag, operand]
                    break
        if get:
            args.append("GET")
        args += _expiry_flags(ex, px, exat, pxat)
        if keepttl:
            args.append("KEEPTTL")
        return self._execute(args) if get else self._execute(args, "ok")

    def get(self, name: KeyT) -> bytes | None:
        return self._execute(["GET", name])

    def getdel(self, name: KeyT) -> bytes | None:
        return self._execute(["GETDEL", name])

    def getex(
        self,
        name: KeyT,
        ex: ExpiryT | str | None = None,
        px: ExpiryT | str | None = None,
        exat: AbsExpiryT | None = None,
        pxat: AbsExpiryT | None = None,
        persist: bool = False,
    ) -> bytes | None:
        if not _one_at_most(
            ex is not None, px is not None, exat is not None, pxat is not None, persist
        ):
            raise DataError(
                "``ex``, ``px``, ``exat``, ``pxat``, and ``persist`` are mutually exclusive."
            )
        flags = _expiry_flags(ex, px, exat, pxat)
        return self._execute(["GETEX", name, *flags, *(["PERSIST"] if persist else [])])

    def getset(self, name: KeyT, value: EncodableT) -> bytes | None:
        return self._execute(["GETSET", name, value])

    def mget(self, keys: KeyT | Iterable[KeyT], *args: KeyT) -> list[bytes | None]:
        names = _list_or_args(keys, args)
        if not names:  # redis-py answers [] without a round trip
            return (
                [] if isinstance(self, RedisClient) else self._execute(["PING"], post=lambda _: [])
            )
        return self._execute(["MGET", *names])

    def mset(self, mapping: Mapping[KeyT, EncodableT]) -> bool:
        return self._execute(["MSET", *_pairs(mapping)], "ok")

    def msetnx(self, mapping: Mapping[KeyT, EncodableT]) -> bool:
        return self._execute(["MSETNX", *_pairs(mapping)], "bool")

    def setnx(self, name: KeyT, value: EncodableT) -> bool:
        return self._execute(["SETNX", name, value], "bool")

    def setex(self, name: KeyT, time: ExpiryT, value: EncodableT) -> bool:
        return self._execute(["SETEX", name, _seconds(time), value], "bool")

    def psetex(self, name: KeyT, time_ms: ExpiryT, value: EncodableT) -> bool:
        return self._execute(["PSETEX", name, _millis(time_ms), value], "bool")

    def setrange(self, name: KeyT, offset: int, value: EncodableT) -> int:
        return self._execute(["SETRANGE", name, offset, value])

    def append(self, key: KeyT, value: EncodableT) -> int:
        return self._execute(["APPEND", key, value])

    def strlen(self, name: KeyT) -> int:
        return self._execute(["STRLEN", name])

    def getrange(self, key: KeyT, start: int, end: int) -> bytes:
        return self._execute(["GETRANGE", key, start, end])

    def substr(self, name: KeyT, start: int, end: int = -1) -> bytes:
        return self._execute(["SUBSTR", name, start, end])

    def incr(self, name: KeyT, amount: int = 1) -> int:
        return self._execute(["INCRBY", name, amount])

    def incrby(self, name: KeyT, amount: int = 1) -> int:
        return self._execute(["INCRBY", name, amount])

    def incrbyfloat(self, name: KeyT, amount: float = 1.0) -> float:
        return self._execute(["INCRBYFLOAT", name, amount], "float")

    def decr(self, name: KeyT, amount: int = 1) -> int:
        return self._execute(["DECRBY", name, amount])

    def decrby(self, name: KeyT, amount: int = 1) -> int:
        return self._execute(["DECRBY", name, amount])

    def lcs(
        self,
        key1: KeyT,
        key2: KeyT,
        len: bool | None = False,  # noqa: A002 - redis-py's names
        idx: bool | None = False,
        minmatchlen: int | None = 0,
        withmatchlen: bool | None = False,
    ) -> bytes | int | list[Any]:
        args: list[Any] = ["LCS", key1, key2]
        if len:
            args.append("LEN")
        if idx:
            args.append("IDX")
        if minmatchlen:
            args += ["MINMATCHLEN", minmatchlen]
        if withmatchlen:
            args.append("WITHMATCHLEN")
        return self._execute(args)

    # ---- bits -------------------------------------------------------------------------

    def setbit(self, name: KeyT, offset: int, value: int) -> int:
        return self._execute(["SETBIT", name, offset, 1 if value else 0])

    def getbit(self, name: KeyT, offset: int) -> int:
        return self._execute(["GETBIT", name, offset])

    def bitcount(
        self,
        key: KeyT,
        start: int | None = None,
        end: int | None = None,
        mode: str | None = None,
    ) -> int:
        if (start is None) != (end is None):
            raise DataError("Both start and end must be specified")
        args: list[Any] = ["BITCOUNT", key]
        if start is not None:
            args += [start, end]
        return self._execute([*args, *_optional(mode)])

    def bitop(self, operation: str, dest: KeyT, *keys: KeyT) -> int:
        return self._execute(["BITOP", operation, dest, *keys])

    def bitpos(
        self,
        key: KeyT,
        bit: int,
        start: int | None = None,
        end: int | None = None,
        mode: str | None = None,
    ) -> int:
        if bit not in (0, 1):
            raise DataError("bit must be 0 or 1")
        args: list[Any] = ["BITPOS", key, bit]
        if start is not None:
            args.append(start)
            if end is not None:
                args.append(end)
        elif end is not None:
            raise DataError("start argument is not set, when end is specified")
        return self._execute([*args, *_optional(mode)])

    def bitfield(self, key: KeyT, default_overflow: str | None = None) -> BitFieldOperation:
        """A builder of one BITFIELD command: chain ``.set/.get/.incrby/.overflow`` and
        call ``.execute()``."""
        return BitFieldOperation(self, key, default_overflow=default_overflow)

    def bitfield_ro(
        self,
        key: KeyT,
        encoding: str,
        offset: int | str,
        items: list[tuple[str, int | str]] | None = None,
    ) -> list[int]:
        args: list[Any] = ["BITFIELD_RO", key, "GET", encoding, offset]
        for more_encoding, more_offset in items or []:
            args += ["GET", more_encoding, more_offset]
        return self._execute(args)

    # ---- hashes -----------------------------------------------------------------------

    def hset(
        self,
        name: KeyT,
        key: KeyT | None = None,
        value: EncodableT | None = None,
        mapping: Mapping[KeyT, EncodableT] | None = None,
        items: Sequence[EncodableT] | None = None,
    ) -> int:
        """Set one field (``key``, ``value``) and/or many (``mapping``, flat ``items``);
        returns the number of fields added."""
        if key is None and not mapping and not items:
            raise DataError("'hset' with no key value pairs")
        args: list[Any] = ["HSET", name]
        if items:
            args += items
        if key is not None:
            args += [key, value]
        if mapping:
            args += _pairs(mapping)
        return self._execute(args)

    def hsetnx(self, name: KeyT, key: KeyT, value: EncodableT) -> int:
        return self._execute(["HSETNX", name, key, value])

    def hmset(self, name: KeyT, mapping: Mapping[KeyT, EncodableT]) -> bool:
        if not mapping:
            raise DataError("'hmset' with 'mapping' of length 0")
        return self._execute(["HMSET", name, *_pairs(mapping)], "bool")

    def hget(self, name: KeyT, key: KeyT) -> bytes | None:
        return self._execute(["HGET", name, key])

    def hmget(self, name: KeyT, keys: KeyT | Iterable[KeyT], *args: KeyT) -> list[bytes | None]:
        return self._execute(["HMGET", name, *_list_or_args(keys, args)])

    def hgetall(self, name: KeyT) -> dict[bytes, bytes]:
        return self._execute(["HGETALL", name], "dict")

    def hdel(self, name: KeyT, *keys: KeyT) -> int:
        return self._execute(["HDEL", name, *keys])

    def hexists(self, name: KeyT, key: KeyT) -> bool:
        return self._execute(["HEXISTS", name, key], "bool")

    def hincrby(self, name: KeyT, key: KeyT, amount: int = 1) -> int:
        return self._execute(["HINCRBY", name, key, amount])

    def hincrbyfloat(self, name: KeyT, key: KeyT, amount: float = 1.0) -> float:
        return self._execute(["HINCRBYFLOAT", name, key, amount], "float")

    def hkeys(self, name: KeyT) -> list[bytes]:
        return self._execute(["HKEYS", name])

    def hvals(self, name: KeyT) -> list[bytes]:
        return self._execute(["HVALS", name])

    def hlen(self, name: KeyT) -> int:
        return self._execute(["HLEN", name])

    def hstrlen(self, name: KeyT, key: KeyT) -> int:
        return self._execute(["HSTRLEN", name, key])

    def hrandfield(
        self, key: KeyT, count: int | None = None, withvalues: bool = False
    ) -> bytes | list[bytes] | None:
        args = ["HRANDFIELD", key, *_optional(count)]
        return self._execute([*args, *(["WITHVALUES"] if withvalues else [])])

    # ---- lists ------------------------------------------------------------------------

    def lpush(self, name: KeyT, *values: EncodableT) -> int:
        return self._execute(["LPUSH", name, *values])

    def rpush(self, name: KeyT, *values: EncodableT) -> int:
        return self._execute(["RPUSH", name, *values])

    def lpushx(self, name: KeyT, *values: EncodableT) -> int:
        return self._execute(["LPUSHX", name, *values])

    def rpushx(self, name: KeyT, *values: EncodableT) -> int:
        return self._execute(["RPUSHX", name, *values])

    def lpop(self, name: KeyT, count: int | None = None) -> bytes | list[bytes] | None:
        return self._execute(["LPOP", name, *_optional(count)])

    def rpop(self, name: KeyT, count: int | None = None) -> bytes | list[bytes] | None:
        return self._execute(["RPOP", name, *_optional(count)])

    def lmpop(
        self, num_keys: int, *args: KeyT, direction: str, count: int | None = 1
    ) -> list[Any] | None:
        extra = [] if count is None or count == 1 else ["COUNT", count]
        return self._execute(["LMPOP", num_keys, *args, direction, *extra])

    def blpop(
        self, keys: KeyT | Iterable[KeyT], timeout: float | None = 0
    ) -> tuple[bytes, bytes] | None:
        """Wait up to ``timeout`` seconds (0: forever) for an element; ``(key, value)``.
        Waits on a connection of its own, outside the pool."""
        return self._execute(["BLPOP", *_list_or_args(keys, None), timeout or 0], "pair")

    def brpop(
        self, keys: KeyT | Iterable[KeyT], timeout: float | None = 0
    ) -> tuple[bytes, bytes] | None:
        return self._execute(["BRPOP", *_list_or_args(keys, None), timeout or 0], "pair")

    def brpoplpush(self, src: KeyT, dst: KeyT, timeout: float | None = 0) -> bytes | None:
        return self._execute(["BRPOPLPUSH", src, dst, timeout or 0])

    def blmove(
        self,
        first_list: KeyT,
        second_list: KeyT,
        timeout: float,
        src: str = "LEFT",
        dest: str = "RIGHT",
    ) -> bytes | None:
        return self._execute(["BLMOVE", first_list, second_list, src, dest, timeout])

    def blmpop(
        self,
        timeout: float,
        numkeys: int,
        *args: KeyT,
        direction: str,
        count: int | None = 1,
    ) -> list[Any] | None:
        extra = [] if count is None else ["COUNT", count]
        return self._execute(["BLMPOP", timeout, numkeys, *args, direction, *extra])

    def lmove(
        self, first_list: KeyT, second_list: KeyT, src: str = "LEFT", dest: str = "RIGHT"
    ) -> bytes | None:
        return self._execute(["LMOVE", first_list, second_list, src, dest])

    def rpoplpush(self, src: KeyT, dst: KeyT) -> bytes | None:
        return self._execute(["RPOPLPUSH", src, dst])

    def lrange(self, name: KeyT, start: int, end: int) -> list[bytes]:
        return self._execute(["LRANGE", name, start, end])

    def llen(self, name: KeyT) -> int:
        return self._execute(["LLEN", name])

    def lindex(self, name: KeyT, index: int) -> bytes | None:
        return self._execute(["LINDEX", name, index])

    def linsert(self, name: KeyT, where: str, refvalue: EncodableT, value: EncodableT) -> int:
        return self._execute(["LINSERT", name, where, refvalue, value])

    def lrem(self, name: KeyT, count: int, value: EncodableT) -> int:
        return self._execute(["LREM", name, count, value])

    def ltrim(self, name: KeyT, start: int, end: int) -> bool:
        return self._execute(["LTRIM", name, start, end], "ok")

    def lset(self, name: KeyT, index: int, value: EncodableT) -> bool:
        return self._execute(["LSET", name, index, value], "ok")

    def lpos(
        self,
        name: KeyT,
        value: EncodableT,
        rank: int | None = None,
        count: int | None = None,
        maxlen: int | None = None,
    ) -> int | list[int] | None:
        args = ["LPOS", name, value, *_optional("RANK", rank), *_optional("COUNT", count)]
        return self._execute([*args, *_optional("MAXLEN", maxlen)])

    # ---- sets -------------------------------------------------------------------------

    def sadd(self, name: KeyT, *values: EncodableT) -> int:
        return self._execute(["SADD", name, *values])

    def srem(self, name: KeyT, *values: EncodableT) -> int:
        return self._execute(["SREM", name, *values])

    def smembers(self, name: KeyT) -> Members:
        return self._execute(["SMEMBERS", name], "set")

    def sismember(self, name: KeyT, value: EncodableT) -> int:
        return self._execute(["SISMEMBER", name, value])

    def smismember(
        self, name: KeyT, values: EncodableT | Iterable[EncodableT], *args: EncodableT
    ) -> list[int]:
        return self._execute(["SMISMEMBER", name, *_list_or_args(values, args)])

    def scard(self, name: KeyT) -> int:
        return self._execute(["SCARD", name])

    def sinter(self, keys: KeyT | Iterable[KeyT], *args: KeyT) -> Members:
        return self._execute(["SINTER", *_list_or_args(keys, args)], "set")

    def sunion(self, keys: KeyT | Iterable[KeyT], *args: KeyT) -> Members:
        return self._execute(["SUNION", *_list_or_args(keys, args)], "set")

    def sdiff(self, keys: KeyT | Iterable[KeyT], *args: KeyT) -> Members:
        return self._execute(["SDIFF", *_list_or_args(keys, args)], "set")

    def sinterstore(self, dest: KeyT, keys: KeyT | Iterable[KeyT], *args: KeyT) -> int:
        return self._execute(["SINTERSTORE", dest, *_list_or_args(keys, args)])

    def sunionstore(self, dest: KeyT, keys: KeyT | Iterable[KeyT], *args: KeyT) -> int:
        return self._execute(["SUNIONSTORE", dest, *_list_or_args(keys, args)])

    def sdiffstore(self, dest: KeyT, keys: KeyT | Iterable[KeyT], *args: KeyT) -> int:
        return self._execute(["SDIFFSTORE", dest, *_list_or_args(keys, args)])

    def sintercard(self, numkeys: int, keys: list[KeyT], limit: int = 0) -> int:
        return self._execute(["SINTERCARD", numkeys, *keys, "LIMIT", limit])

    def smove(self, src: KeyT, dst: KeyT, value: EncodableT) -> bool:
        return self._execute(["SMOVE", src, dst, value], "bool")

    def spop(self, name: KeyT, count: int | None = None) -> bytes | list[bytes] | None:
        return self._execute(["SPOP", name, *_optional(count)])

    def srandmember(self, name: KeyT, number: int | None = None) -> bytes | list[bytes] | None:
        return self._execute(["SRANDMEMBER", name, *_optional(number)])

    # ---- sorted sets ------------------------------------------------------------------

    def zadd(
        self,
        name: KeyT,
        mapping: Mapping[EncodableT, EncodableT],
        nx: bool = False,
        xx: bool = False,
        ch: bool = False,
        incr: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> int | float | None:
        """Add ``{member: score}``; the number added (changed with ``ch``), or with
        ``incr`` the member's new score (None when a condition prevented it)."""
        if not mapping:
            raise DataError("ZADD requires at least one element/score pair")
        if nx and xx:
            raise DataError("ZADD allows either 'nx' or 'xx', not both")
        if gt and lt:
            raise DataError("ZADD allows either 'gt' or 'lt', not both")
        if incr and len(mapping) != 1:
            raise DataError(
                "ZADD option 'incr' only works when passing a single element/score pair"
            )
        if nx and (gt or lt):
            raise DataError("Only one of 'nx', 'gt', or 'lt' may be defined.")
        flags = [f for f, on in (("NX", nx), ("XX", xx), ("CH", ch), ("INCR", incr)) if on]
        flags += [f for f, on in (("GT", gt), ("LT", lt)) if on]
        pairs = [x for member, score in mapping.items() for x in (score, member)]
        return self._execute(["ZADD", name, *flags, *pairs], "float" if incr else "int")

    def zcard(self, name: KeyT) -> int:
        return self._execute(["ZCARD", name])

    def zcount(self, name: KeyT, min: ZScoreBoundT, max: ZScoreBoundT) -> int:  # noqa: A002
        return self._execute(["ZCOUNT", name, min, max])

    def zlexcount(self, name: KeyT, min: EncodableT, max: EncodableT) -> int:  # noqa: A002
        return self._execute(["ZLEXCOUNT", name, min, max])

    def zscore(self, name: KeyT, value: EncodableT) -> float | None:
        return self._execute(["ZSCORE", name, value], "float")

    def zmscore(self, key: KeyT, members: list[EncodableT]) -> list[float | None]:
        if not members:
            raise DataError("ZMSCORE members must be a non-empty list")
        return self._execute(["ZMSCORE", key, *members], post=_zmscore_reply)

    def zincrby(self, name: KeyT, amount: float, value: EncodableT) -> float:
        return self._execute(["ZINCRBY", name, amount, value], "float")

    def zrem(self, name: KeyT, *values: EncodableT) -> int:
        return self._execute(["ZREM", name, *values])

    def zrank(
        self,
        name: KeyT,
        value: EncodableT,
        withscore: bool = False,
        score_cast_func: ScoreCast = float,
    ) -> int | list[Any] | None:
        return self._rank("ZRANK", name, value, withscore, score_cast_func)

    def zrevrank(
        self,
        name: KeyT,
        value: EncodableT,
        withscore: bool = False,
        score_cast_func: ScoreCast = float,
    ) -> int | list[Any] | None:
        return self._rank("ZREVRANK", name, value, withscore, score_cast_func)

    def _rank(self, command: str, name: KeyT, value: Any, withscore: bool, cast: Any) -> Any:
        if not withscore:
            return self._execute([command, name, value])
        options = {"withscore": True, "score_cast_func": cast}
        return self._execute([command, name, value, "WITHSCORE"], post=_bind(_rank_reply, options))

    def zremrangebyrank(self, name: KeyT, min: int, max: int) -> int:  # noqa: A002
        return self._execute(["ZREMRANGEBYRANK", name, min, max])

    def zremrangebyscore(self, name: KeyT, min: ZScoreBoundT, max: ZScoreBoundT) -> int:  # noqa: A002
        return self._execute(["ZREMRANGEBYSCORE", name, min, max])

    def zremrangebylex(self, name: KeyT, min: EncodableT, max: EncodableT) -> int:  # noqa: A002
        return self._execute(["ZREMRANGEBYLEX", name, min, max])

    def zpopmin(self, name: KeyT, count: int | None = None) -> ScorePairs:
        return self._execute(["ZPOPMIN", name, *_optional(count)], "scores")

    def zpopmax(self, name: KeyT, count: int | None = None) -> ScorePairs:
        return self._execute(["ZPOPMAX", name, *_optional(count)], "scores")

    def bzpopmin(
        self, keys: KeyT | Iterable[KeyT], timeout: float | None = 0
    ) -> tuple[bytes, bytes, float] | None:
        args = ["BZPOPMIN", *_list_or_args(keys, None), timeout or 0]
        return self._execute(args, post=_bzpop_reply)

    def bzpopmax(
        self, keys: KeyT | Iterable[KeyT], timeout: float | None = 0
    ) -> tuple[bytes, bytes, float] | None:
        args = ["BZPOPMAX", *_list_or_args(keys, None), timeout or 0]
        return self._execute(args, post=_bzpop_reply)

    def zmpop(
        self,
        num_keys: int,
        keys: list[KeyT],
        min: bool | None = False,  # noqa: A002 - redis-py's names
        max: bool | None = False,  # noqa: A002
        count: int | None = 1,
    ) -> list[Any] | None:
        if bool(min) == bool(max):
            raise DataError
        extra = [] if count is None or count == 1 else ["COUNT", count]
        return self._execute(["ZMPOP", num_keys, *keys, "MIN" if min else "MAX", *extra])

    def bzmpop(
        self,
        timeout: float,
        numkeys: int,
        keys: list[KeyT],
        min: bool | None = False,  # noqa: A002 - redis-py's names
        max: bool | None = False,  # noqa: A002
        count: int | None = 1,
    ) -> list[Any] | None:
        if bool(min) == bool(max):
            raise DataError("Either min or max, but not both must be set")
        extra = [] if count is None else ["COUNT", count]
        return self._execute(["BZMPOP", timeout, numkeys, *keys, "MIN" if min else "MAX", *extra])

    def zrandmember(
        self, key: KeyT, count: int | None = None, withscores: bool = False
    ) -> bytes | list[bytes] | None:
        args = ["ZRANDMEMBER", key, *_optional(count)]
        return self._execute([*args, *(["WITHSCORES"] if withscores else [])])

    def zrange(
        self,
        name: KeyT,
        start: EncodableT,
        end: EncodableT,
        desc: bool = False,
        withscores: bool = False,
        score_cast_func: ScoreCast = float,
        byscore: bool = False,
        bylex: bool = False,
        offset: int | None = None,
        num: int | None = None,
        use_rev: bool = False,
    ) -> list[Any]:
        if desc and not (byscore or bylex or use_rev) and offset is None and num is None:
            return self.zrevrange(name, start, end, withscores, score_cast_func)  # type: ignore[arg-type]
        args = self._zrange_args(
            "ZRANGE", None, name, start, end, desc, byscore, bylex, withscores, offset, num
        )
        return self._scored(args, withscores, score_cast_func)

    def zrangestore(
        self,
        dest: KeyT,
        name: KeyT,
        start: EncodableT,
        end: EncodableT,
        byscore: bool = False,
        bylex: bool = False,
        desc: bool = False,
        offset: int | None = None,
        num: int | None = None,
    ) -> int:
        args = self._zrange_args(
            "ZRANGESTORE", dest, name, start, end, desc, byscore, bylex, False, offset, num
        )
        return self._execute(args)

    @staticmethod
    def _zrange_args(
        command: str,
        dest: KeyT | None,
        name: KeyT,
        start: Any,
        end: Any,
        desc: bool,
        byscore: bool,
        bylex: bool,
        withscores: bool,
        offset: int | None,
        num: int | None,
    ) -> list[Any]:
        if byscore and bylex:
            raise DataError("``byscore`` and ``bylex`` can not be specified together.")
        if (offset is None) != (num is None):
            raise DataError("``offset`` and ``num`` must both be specified.")
        if bylex and withscores:
            raise DataError("``withscores`` not supported in combination with ``bylex``.")
        args: list[Any] = [command, *([] if dest is None else [dest]), name, start, end]
        args += [flag for flag, on in (("BYSCORE", byscore), ("BYLEX", bylex), ("REV", desc)) if on]
        if offset is not None:
            args += ["LIMIT", offset, num]
        return [*args, *(["WITHSCORES"] if withscores else [])]

    def _scored(self, args: list[Any], withscores: bool, cast: Any) -> Any:
        if not withscores:
            return self._execute(args)
        if cast is float:
            return self._execute(args, "scores")
        options = {"withscores": True, "score_cast_func": cast}
        return self._execute(args, post=_bind(_score_pairs, options))

    def zrevrange(
        self,
        name: KeyT,
        start: int,
        end: int,
        withscores: bool = False,
        score_cast_func: ScoreCast = float,
    ) -> list[Any]:
        args = ["ZREVRANGE", name, start, end, *(["WITHSCORES"] if withscores else [])]
        return self._scored(args, withscores, score_cast_func)

    def zrangebyscore(
        self,
        name: KeyT,
        min: ZScoreBoundT,  # noqa: A002 - redis-py's names
        max: ZScoreBoundT,  # noqa: A002
        start: int | None = None,
        num: int | None = None,
        withscores: bool = False,
        score_cast_func: ScoreCast = float,
    ) -> list[Any]:
        args = ["ZRANGEBYSCORE", name, min, max, *_limit(start, num)]
        args += ["WITHSCORES"] if withscores else []
        return self._scored(args, withscores, score_cast_func)

    def zrevrangebyscore(
        self,
        name: KeyT,
        max: ZScoreBoundT,  # noqa: A002 - redis-py's names and order
        min: ZScoreBoundT,  # noqa: A002
        start: int | None = None,
        num: int | None = None,
        withscores: bool = False,
        score_cast_func: ScoreCast = float,
    ) -> list[Any]:
        args = ["ZREVRANGEBYSCORE", name, max, min, *_limit(start, num)]
        args += ["WITHSCORES"] if withscores else []
        return self._scored(args, withscores, score_cast_func)

    def zrangebylex(
        self,
        name: KeyT,
        min: EncodableT,  # noqa: A002 - redis-py's names
        max: EncodableT,  # noqa: A002
        start: int | None = None,
        num: int | None = None,
    ) -> list[bytes]:
        return self._execute(["ZRANGEBYLEX", name, min, max, *_limit(start, num)])

    def zrevrangebylex(
        self,
        name: KeyT,
        max: EncodableT,  # noqa: A002 - redis-py's names and order
        min: EncodableT,  # noqa: A002
        start: int | None = None,
        num: int | None = None,
    ) -> list[bytes]:
        return self._execute(["ZREVRANGEBYLEX", name, max, min, *_limit(start, num)])

    def zdiff(self, keys: Sequence[KeyT], withscores: bool = False) -> list[bytes]:
        """With ``withscores`` the flat ``[member, score, ...]`` reply, as redis-py."""
        args = ["ZDIFF", len(keys), *keys, *(["WITHSCORES"] if withscores else [])]
        return self._execute(args)

    def zdiffstore(self, dest: KeyT, keys: Sequence[KeyT]) -> int:
        return self._execute(["ZDIFFSTORE", dest, len(keys), *keys])

    def zinter(
        self,
        keys: Sequence[KeyT] | Mapping[KeyT, float],
        aggregate: str | None = None,
        withscores: bool = False,
    ) -> list[Any]:
        args = _zaggregate_args("ZINTER", None, keys, aggregate, withscores)
        return self._scored(args, withscores, float)

    def zunion(
        self,
        keys: Sequence[KeyT] | Mapping[KeyT, float],
        aggregate: str | None = None,
        withscores: bool = False,
        score_cast_func: ScoreCast = float,
    ) -> list[Any]:
        args = _zaggregate_args("ZUNION", None, keys, aggregate, withscores)
        return self._scored(args, withscores, score_cast_func)

    def zinterstore(
        self,
        dest: KeyT,
        keys: Sequence[KeyT] | Mapping[KeyT, float],
        aggregate: str | None = None,
    ) -> int:
        return self._execute(_zaggregate_args("ZINTERSTORE", dest, keys, aggregate, False))

    def zunionstore(
        self,
        dest: KeyT,
        keys: Sequence[KeyT] | Mapping[KeyT, float],
        aggregate: str | None = None,
    ) -> int:
        return self._execute(_zaggregate_args("ZUNIONSTORE", dest, keys, aggregate, False))

    def zintercard(self, numkeys: int, keys: list[KeyT], limit: int = 0) -> int:
        return self._execute(["ZINTERCARD", numkeys, *keys, "LIMIT", limit])

    # ---- commands of Redis 7.4 and 8.x (checked here only up to their arguments) --------

    def hexpire(
        self,
        name: KeyT,
        seconds: ExpiryT,
        *fields: KeyT,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> list[int]:
        """Redis 7.4+: a TTL per hash field; one code per field (-2 missing, 0 condition
        not met, 1 set, 2 deleted)."""
        return self._field_expiry("HEXPIRE", name, _seconds(seconds), fields, nx, xx, gt, lt)

    def hpexpire(
        self,
        name: KeyT,
        milliseconds: ExpiryT,
        *fields: KeyT,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> list[int]:
        return self._field_expiry("HPEXPIRE", name, _millis(milliseconds), fields, nx, xx, gt, lt)

    def hexpireat(
        self,
        name: KeyT,
        unix_time_seconds: AbsExpiryT,
        *fields: KeyT,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> list[int]:
        when = _unix_seconds(unix_time_seconds)
        return self._field_expiry("HEXPIREAT", name, when, fields, nx, xx, gt, lt)

    def hpexpireat(
        self,
        name: KeyT,
        unix_time_milliseconds: AbsExpiryT,
        *fields: KeyT,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> list[int]:
        when = _unix_millis(unix_time_milliseconds)
        return self._field_expiry("HPEXPIREAT", name, when, fields, nx, xx, gt, lt)

    def _field_expiry(
        self,
        command: str,
        name: KeyT,
        time: Any,
        fields: tuple[Any, ...],
        nx: bool,
        xx: bool,
        gt: bool,
        lt: bool,
        keyword: str = "FIELDS",
    ) -> Any:
        if nx + xx + gt + lt > 1:
            raise ValueError("Only one of 'nx', 'xx', 'gt', 'lt' can be specified.")
        flags = _condition_flags(nx, xx, gt, lt)
        return self._execute([command, name, time, *flags, keyword, len(fields), *fields])

    def hpersist(self, name: KeyT, *fields: KeyT) -> list[int]:
        return self._execute(["HPERSIST", name, "FIELDS", len(fields), *fields])

    def hexpiretime(self, key: KeyT, *fields: KeyT) -> list[int]:
        return self._execute(["HEXPIRETIME", key, "FIELDS", len(fields), *fields])

    def hpexpiretime(self, key: KeyT, *fields: KeyT) -> list[int]:
        return self._execute(["HPEXPIRETIME", key, "FIELDS", len(fields), *fields])

    def httl(self, key: KeyT, *fields: KeyT) -> list[int]:
        return self._execute(["HTTL", key, "FIELDS", len(fields), *fields])

    def hpttl(self, key: KeyT, *fields: KeyT) -> list[int]:
        return self._execute(["HPTTL", key, "FIELDS", len(fields), *fields])

    def hgetdel(self, name: KeyT, *keys: KeyT) -> list[bytes | None]:
        """Redis 8.0+."""
        if not keys:
            raise DataError("'hgetdel' should have at least one key provided")
        return self._execute(["HGETDEL", name, "FIELDS", len(keys), *keys])

    def hgetex(
        self,
        name: KeyT,
        *keys: KeyT,
        ex: ExpiryT | str | None = None,
        px: ExpiryT | str | None = None,
        exat: AbsExpiryT | None = None,
        pxat: AbsExpiryT | None = None,
        persist: bool = False,
    ) -> list[bytes | None]:
        """Redis 8.0+."""
        if not keys:
            raise DataError("'hgetex' should have at least one key provided")
        if not _one_at_most(
            ex is not None, px is not None, exat is not None, pxat is not None, persist
        ):
            raise DataError(
                "``ex``, ``px``, ``exat``, ``pxat``, and ``persist`` are mutually exclusive."
            )
        flags = [*_expiry_flags(ex, px, exat, pxat), *(["PERSIST"] if persist else [])]
        return self._execute(["HGETEX", name, *flags, "FIELDS", len(keys), *keys])

    def hsetex(
        self,
        name: KeyT,
        key: KeyT | None = None,
        value: EncodableT | None = None,
        mapping: Mapping[KeyT, EncodableT] | None = None,
        items: Sequence[EncodableT] | None = None,
        ex: ExpiryT | str | None = None,
        px: ExpiryT | str | None = None,
        exat: AbsExpiryT | None = None,
        pxat: AbsExpiryT | None = None,
        data_persist_option: Any = None,
        keepttl: bool = False,
    ) -> int:
        """Redis 8.0+. ``data_persist_option``: ``"FNX"``/``"FXX"`` (or redis-py's
        ``HashDataPersistOptions``)."""
        if key is None and not mapping and not items:
            raise DataError("'hsetex' with no key value pairs")
        if items and len(items) % 2 != 0:
            raise DataError(
                "'hsetex' with odd number of items. 'items' must contain a list of key/value pairs."
            )
        flags = _expiry_and_persist(ex, px, exat, pxat, keepttl, data_persist_option)
        pairs = [*(items or []), *([key, value] if key is not None else [])]
        pairs += _pairs(mapping) if mapping else []
        return self._execute(["HSETEX", name, *flags, "FIELDS", len(pairs) // 2, *pairs])

    def saddex(
        self,
        name: KeyT,
        *members: EncodableT,
        ex: ExpiryT | str | None = None,
        px: ExpiryT | str | None = None,
        exat: AbsExpiryT | None = None,
        pxat: AbsExpiryT | None = None,
        data_persist_option: Any = None,
        keepttl: bool = False,
    ) -> int:
        """Redis 8.x: members with a TTL. ``data_persist_option``: ``"MNX"``/``"MXX"``."""
        flags = _expiry_and_persist(ex, px, exat, pxat, keepttl, data_persist_option)
        return self._execute(["SADDEX", name, *flags, "MEMBERS", len(members), *members])

    def sexpire(
        self,
        name: KeyT,
        seconds: ExpiryT,
        *members: EncodableT,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> list[int]:
        return self._field_expiry(
            "SEXPIRE", name, _seconds(seconds), members, nx, xx, gt, lt, "MEMBERS"
        )

    def spexpire(
        self,
        name: KeyT,
        milliseconds: ExpiryT,
        *members: EncodableT,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> list[int]:
        return self._field_expiry(
            "SPEXPIRE", name, _millis(milliseconds), members, nx, xx, gt, lt, "MEMBERS"
        )

    def sexpireat(
        self,
        name: KeyT,
        unix_time_seconds: AbsExpiryT,
        *members: EncodableT,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> list[int]:
        when = _unix_seconds(unix_time_seconds)
        return self._field_expiry("SEXPIREAT", name, when, members, nx, xx, gt, lt, "MEMBERS")

    def spexpireat(
        self,
        name: KeyT,
        unix_time_milliseconds: AbsExpiryT,
        *members: EncodableT,
        nx: bool = False,
        xx: bool = False,
        gt: bool = False,
        lt: bool = False,
    ) -> list[int]:
        when = _unix_millis(unix_time_milliseconds)
        return self._field_expiry("SPEXPIREAT", name, when, members, nx, xx, gt, lt, "MEMBERS")

    def spersist(self, name: KeyT, *members: EncodableT) -> list[int]:
        return self._execute(["SPERSIST", name, "MEMBERS", len(members), *members])

    def sexpiretime(self, name: KeyT, *members: EncodableT) -> list[int]:
        return self._execute(["SEXPIRETIME", name, "MEMBERS", len(members), *members])

    def spexpiretime(self, name: KeyT, *members: EncodableT) -> list[int]:
        return self._execute(["SPEXPIRETIME", name, "MEMBERS", len(members), *members])

    def sttl(self, name: KeyT, *members: EncodableT) -> list[int]:
        return self._execute(["STTL", name, "MEMBERS", len(members), *members])

    def spttl(self, name: KeyT, *members: EncodableT) -> list[int]:
        return self._execute(["SPTTL", name, "MEMBERS", len(members), *members])

    def sdiffcard(self, numkeys: int, keys: list[KeyT], limit: int = 0) -> int:
        return self._execute(["SDIFFCARD", numkeys, *keys, "LIMIT", limit])

    def sunioncard(
        self, numkeys: int, keys: list[KeyT], limit: int = 0, approx: bool = False
    ) -> int:
        args = ["SUNIONCARD", numkeys, *keys, *(["APPROX"] if approx else [])]
        return self._execute([*args, "LIMIT", limit])

    def delex(
        self,
        name: KeyT,
        ifeq: bytes | str | None = None,
        ifne: bytes | str | None = None,
        ifdeq: str | None = None,
        ifdne: str | None = None,
    ) -> int:
        """Redis 8.4+: DEL under a condition on the value (or its digest)."""
        if sum(x is not None for x in (ifeq, ifne, ifdeq, ifdne)) > 1:
            raise ValueError("Only one of IFEQ/IFNE/IFDEQ/IFDNE may be specified")
        args: list[Any] = ["DELEX", name]
        for flag, operand in (("IFEQ", ifeq), ("IFNE", ifne), ("IFDEQ", ifdeq), ("IFDNE", ifdne)):
            if operand is not None:
                args += [flag, operand]
                break
        return self._execute(args)

    def digest(self, name: KeyT) -> bytes | None:
        return self._execute(["DIGEST", name])

    def increx(
        self,
        name: KeyT,
        *,
        byfloat: EncodableT | None = None,
        byint: EncodableT | None = None,
        lbound: EncodableT | None = None,
        ubound: EncodableT | None = None,
        saturate: bool = False,
        ex: ExpiryT | str | None = None,
        px: ExpiryT | str | None = None,
        exat: AbsExpiryT | None = None,
        pxat: AbsExpiryT | None = None,
        persist: bool = False,
        enx: bool = False,
    ) -> list[Any]:
        """Redis 8.4+: ``[new value, increment applied]`` (floats with ``byfloat``)."""
        if byfloat is not None and byint is not None:
            raise DataError("``byfloat`` and ``byint`` are mutually exclusive.")
        if not _one_at_most(
            ex is not None, px is not None, exat is not None, pxat is not None, persist
        ):
            raise DataError(
                "``ex``, ``px``, ``exat``, ``pxat``, and ``persist`` are mutually exclusive."
            )
        if enx and ex is None and px is None and exat is None and pxat is None:
            raise DataError("``enx`` requires one of ``ex``, ``px``, ``exat``, or ``pxat``.")
        args: list[Any] = ["INCREX", name]
        if byfloat is not None:
            args += ["BYFLOAT", byfloat]
        elif byint is not None:
            args += ["BYINT", byint]
        args += [*_optional("LBOUND", lbound), *_optional("UBOUND", ubound)]
        args += ["SATURATE"] if saturate else []
        args += _expiry_flags(ex, px, exat, pxat)
        args += [f for f, on in (("PERSIST", persist), ("ENX", enx)) if on]
        return self._execute(args, post=_increx_reply)

    def msetex(
        self,
        mapping: Mapping[KeyT, EncodableT],
        data_persist_option: Any = None,
        ex: ExpiryT | str | None = None,
        px: ExpiryT | str | None = None,
        exat: AbsExpiryT | None = None,
        pxat: AbsExpiryT | None = None,
        keepttl: bool = False,
    ) -> int:
        """Redis 8.4+. ``data_persist_option``: ``"NX"``/``"XX"``."""
        if not _one_at_most(
            ex is not None, px is not None, exat is not None, pxat is not None, keepttl
        ):
            raise DataError(
                "``ex``, ``px``, ``exat``, ``pxat``, and ``keepttl`` are mutually exclusive."
            )
        flags = [*_optional(_option_value(data_persist_option))]
        flags += [*_expiry_flags(ex, px, exat, pxat), *(["KEEPTTL"] if keepttl else [])]
        return self._execute(["MSETEX", len(mapping), *_pairs(mapping), *flags])

    def lmovem(
        self,
        first_list: KeyT,
        second_list: KeyT,
        src: str = "LEFT",
        dest: str = "RIGHT",
        count: int | None = None,
        mode: str | None = None,
        ordering: str | None = None,
    ) -> list[bytes] | None:
        tail = _movem_tail(count, mode, ordering)
        return self._execute(["LMOVEM", first_list, second_list, src, dest, *tail])

    def blmovem(
        self,
        first_list: KeyT,
        second_list: KeyT,
        timeout: float,
        src: str = "LEFT",
        dest: str = "RIGHT",
        count: int | None = None,
        mode: str | None = None,
        ordering: str | None = None,
    ) -> list[bytes] | None:
        tail = _movem_tail(count, mode, ordering)
        return self._execute(["BLMOVEM", first_list, second_list, src, dest, timeout, *tail])

    def zmove(
        self,
        source: KeyT,
        destination: KeyT,
        min: bool | None = False,  # noqa: A002 - redis-py's names
        max: bool | None = False,  # noqa: A002
        byscore: tuple[ZScoreBoundT, ZScoreBoundT] | None = None,
        count: int | None = None,
    ) -> list[list[Any]] | None:
        if bool(min) + bool(max) + (byscore is not None) != 1:
            raise DataError("ZMOVE requires exactly one of 'min', 'max' or 'byscore'")
        args: list[Any] = ["ZMOVE", source, destination]
        if byscore is not None:
            args += ["BYSCORE", *byscore]
        else:
            args.append("MIN" if min else "MAX")
        return self._execute([*args, *_optional("COUNT", count)], post=_zmove_reply)

    def bzmove(
        self,
        source: KeyT,
        destination: KeyT,
        timeout: float,
        min: bool | None = False,  # noqa: A002 - redis-py's names
        max: bool | None = False,  # noqa: A002
        count: int | None = None,
    ) -> list[list[Any]] | None:
        if bool(min) == bool(max):
            raise DataError("BZMOVE requires exactly one of 'min' or 'max'")
        args = ["BZMOVE", source, destination, "MIN" if min else "MAX", timeout]
        return self._execute([*args, *_optional("COUNT", count)], post=_zmove_reply)

    def zmovemember(
        self,
        source: KeyT,
        destination: KeyT,
        members: EncodableT | Iterable[EncodableT],
        nx: bool = False,
        xx: bool = False,
    ) -> list[list[Any]] | None:
        if nx and xx:
            raise DataError("ZMOVEMEMBER allows either 'nx' or 'xx', not both")
        names = _list_or_args(members, None)
        args: list[Any] = ["ZMOVEMEMBER", source, destination]
        args += ["NX"] if nx else ["XX"] if xx else []
        return self._execute([*args, "MEMBERS", len(names), *names], post=_zmove_reply)

    def xackdel(
        self, name: KeyT, groupname: KeyT, *ids: StreamIdT, ref_policy: str = "KEEPREF"
    ) -> list[int]:
        """Redis 8.2+."""
        if not ids:
            raise DataError("XACKDEL requires at least one message ID")
        _check_ref_policy("XACKDEL", ref_policy)
        return self._execute(["XACKDEL", name, groupname, ref_policy, "IDS", len(ids), *ids])

    def xdelex(self, name: KeyT, *ids: StreamIdT, ref_policy: str = "KEEPREF") -> list[int]:
        """Redis 8.2+."""
        if not ids:
            raise DataError("XDELEX requires at least one message ID")
        _check_ref_policy("XDELEX", ref_policy)
        return self._execute(["XDELEX", name, ref_policy, "IDS", len(ids), *ids])

    def xnack(
        self,
        name: KeyT,
        groupname: KeyT,
        mode: str,
        *ids: StreamIdT,
        retrycount: int | None = None,
        force: bool = False,
    ) -> int:
        if not ids:
            raise DataError("XNACK requires at least one message ID")
        if mode not in ("SILENT", "FAIL", "FATAL"):
            raise DataError("XNACK mode must be one of: SILENT, FAIL, FATAL")
        args: list[Any] = ["XNACK", name, groupname, mode, "IDS", len(ids), *ids]
        if retrycount is not None:
            if retrycount < 0:
                raise DataError("XNACK retrycount must be >= 0")
            args += ["RETRYCOUNT", retrycount]
        return self._execute([*args, *(["FORCE"] if force else [])])

    def xcfgset(
        self, name: KeyT, idmp_duration: int | None = None, idmp_maxsize: int | None = None
    ) -> bytes:
        if idmp_duration is None and idmp_maxsize is None:
            raise DataError("XCFGSET requires at least one of idmp_duration or idmp_maxsize")
        args: list[Any] = ["XCFGSET", name]
        if idmp_duration is not None:
            if not isinstance(idmp_duration, int) or not 1 <= idmp_duration <= 300:
                raise DataError("XCFGSET idmp_duration must be an integer between 1 and 300")
            args += ["IDMP-DURATION", idmp_duration]
        if idmp_maxsize is not None:
            if not isinstance(idmp_maxsize, int) or not 1 <= idmp_maxsize <= 1_000_000:
                raise DataError("XCFGSET idmp_maxsize must be an integer between 1 and 1,000,000")
            args += ["IDMP-MAXSIZE", idmp_maxsize]
        return self._execute(args)

    def bitrangeintarray(
        self,
        key: KeyT,
        start: int,
        end: int,
        mode: str | None = None,
        limit: int | None = None,
        zeros: bool = False,
    ) -> list[int]:
        args = ["BITRANGEINTARRAY", key, start, end, *_optional(mode), *_optional("LIMIT", limit)]
        return self._execute([*args, *(["ZEROS"] if zeros else [])])

    # ---- HyperLogLog ------------------------------------------------------------------

    def pfadd(self, name: KeyT, *values: EncodableT) -> int:
        return self._execute(["PFADD", name, *values])

    def pfcount(self, *sources: KeyT) -> int:
        return self._execute(["PFCOUNT", *sources])

    def pfmerge(self, dest: KeyT, *sources: KeyT) -> bool:
        return self._execute(["PFMERGE", dest, *sources], "ok")

    # ---- geo --------------------------------------------------------------------------

    def geoadd(
        self,
        name: KeyT,
        values: Sequence[EncodableT],
        nx: bool = False,
        xx: bool = False,
        ch: bool = False,
    ) -> int:
        """``values`` is flat: ``(longitude, latitude, member, ...)``."""
        if nx and xx:
            raise DataError("GEOADD allows either 'nx' or 'xx', not both")
        if len(values) % 3 != 0:
            raise DataError("GEOADD requires places with lon, lat and name values")
        flags = [f for f, on in (("NX", nx), ("XX", xx), ("CH", ch)) if on]
        return self._execute(["GEOADD", name, *flags, *values])

    def geodist(
        self, name: KeyT, place1: EncodableT, place2: EncodableT, unit: str | None = None
    ) -> float | None:
        if unit and unit not in _GEO_UNITS:
            raise DataError("GEODIST invalid unit")
        return self._execute(["GEODIST", name, place1, place2, *([unit] if unit else [])], "float")

    def geohash(self, name: KeyT, *values: EncodableT) -> list[str | None]:
        return self._execute(["GEOHASH", name, *values], post=_texts_reply)

    def geopos(self, name: KeyT, *values: EncodableT) -> list[tuple[float, float] | None]:
        return self._execute(["GEOPOS", name, *values], post=_geopos_reply)

    def georadius(
        self,
        name: KeyT,
        longitude: float,
        latitude: float,
        radius: float,
        unit: str | None = None,
        withdist: bool = False,
        withcoord: bool = False,
        withhash: bool = False,
        count: int | None = None,
        sort: str | None = None,
        store: KeyT | None = None,
        store_dist: KeyT | None = None,
        any: bool = False,  # noqa: A002 - redis-py's name
    ) -> Any:
        return self._georadius(
            ["GEORADIUS", name, longitude, latitude, radius],
            unit,
            withdist,
            withcoord,
            withhash,
            count,
            sort,
            store,
            store_dist,
            any,
        )

    def georadiusbymember(
        self,
        name: KeyT,
        member: EncodableT,
        radius: float,
        unit: str | None = None,
        withdist: bool = False,
        withcoord: bool = False,
        withhash: bool = False,
        count: int | None = None,
        sort: str | None = None,
        store: KeyT | None = None,
        store_dist: KeyT | None = None,
        any: bool = False,  # noqa: A002 - redis-py's name
    ) -> Any:
        return self._georadius(
            ["GEORADIUSBYMEMBER", name, member, radius],
            unit,
            withdist,
            withcoord,
            withhash,
            count,
            sort,
            store,
            store_dist,
            any,
        )

    def _georadius(
        self,
        args: list[Any],
        unit: str | None,
        withdist: bool,
        withcoord: bool,
        withhash: bool,
        count: int | None,
        sort: str | None,
        store: Any,
        store_dist: Any,
        any_: bool,
    ) -> Any:
        if unit and unit not in _GEO_UNITS:
            raise DataError("GEORADIUS invalid unit")
        args.append(unit or "m")
        if any_ and count is None:
            raise DataError("``any`` can't be provided without ``count``")
        args += [
            f
            for f, on in (("WITHDIST", withdist), ("WITHCOORD", withcoord), ("WITHHASH", withhash))
            if on
        ]
        if count is not None:
            args += ["COUNT", count, *(["ANY"] if any_ else [])]
        if sort:
            if sort not in ("ASC", "DESC"):
                raise DataError("GEORADIUS invalid sort")
            args.append(sort)
        if store and store_dist:
            raise DataError("GEORADIUS store and store_dist can't be set together")
        args += ["STORE", store] if store else []
        args += ["STOREDIST", store_dist] if store_dist else []
        options = {
            "withdist": withdist,
            "withcoord": withcoord,
            "withhash": withhash,
            "store": store,
            "store_dist": store_dist,
        }
        return self._execute(args, post=_bind(_geosearch_reply, options))

    def geosearch(
        self,
        name: KeyT,
        member: EncodableT | None = None,
        longitude: float | None = None,
        latitude: float | None = None,
        unit: str = "m",
        radius: float | None = None,
        width: float | None = None,
        height: float | None = None,
        sort: str | None = None,
        count: int | None = None,
        any: bool = False,  # noqa: A002 - redis-py's name
        withcoord: bool = False,
        withdist: bool = False,
        withhash: bool = False,
    ) -> Any:
        args = _geosearch_args(
            ["GEOSEARCH", name],
            member,
            longitude,
            latitude,
            unit,
            radius,
            width,
            height,
            sort,
            count,
            any,
        )
        args += [
            f
            for f, on in (("WITHDIST", withdist), ("WITHCOORD", withcoord), ("WITHHASH", withhash))
            if on
        ]
        options = {
            "withdist": withdist,
            "withcoord": withcoord,
            "withhash": withhash,
            "store": None,
            "store_dist": None,
        }
        return self._execute(args, post=_bind(_geosearch_reply, options))

    def geosearchstore(
        self,
        dest: KeyT,
        name: KeyT,
        member: EncodableT | None = None,
        longitude: float | None = None,
        latitude: float | None = None,
        unit: str = "m",
        radius: float | None = None,
        width: float | None = None,
        height: float | None = None,
        sort: str | None = None,
        count: int | None = None,
        any: bool = False,  # noqa: A002 - redis-py's name
        storedist: bool = False,
    ) -> int:
        args = _geosearch_args(
            ["GEOSEARCHSTORE", dest, name],
            member,
            longitude,
            latitude,
            unit,
            radius,
            width,
            height,
            sort,
            count,
            any,
        )
        return self._execute([*args, *(["STOREDIST"] if storedist else [])])

    # ---- streams ----------------------------------------------------------------------

    def xadd(
        self,
        name: KeyT,
        fields: dict[KeyT, EncodableT],
        id: StreamIdT = "*",  # noqa: A002 - redis-py's name
        maxlen: int | None = None,
        approximate: bool = True,
        nomkstream: bool = False,
        minid: StreamIdT | None = None,
        limit: int | None = None,
        ref_policy: str | None = None,
        idmpauto: str | None = None,
        idmp: tuple[str, bytes] | None = None,
    ) -> bytes:
        """``ref_policy``, ``idmpauto`` and ``idmp`` need Redis 8.2+."""
        if maxlen is not None and minid is not None:
            raise DataError("Only one of ```maxlen``` or ```minid``` may be specified")
        if idmpauto is not None and idmp is not None:
            raise DataError("Only one of ```idmpauto``` or ```idmp``` may be specified")
        if (idmpauto is not None or idmp is not None) and id != "*":
            raise DataError("IDMPAUTO and IDMP can only be used with id='*'")
        _check_ref_policy("XADD", ref_policy)
        args: list[Any] = ["XADD", name, *(["NOMKSTREAM"] if nomkstream else [])]
        args += _optional(ref_policy) + _optional("IDMPAUTO", idmpauto)
        if idmp is not None:
            if not isinstance(idmp, tuple) or len(idmp) != 2:
                raise DataError("XADD idmp must be a tuple of (producer_id, idempotent_id)")
            args += ["IDMP", *idmp]
        if maxlen is not None:
            if not isinstance(maxlen, int) or maxlen < 0:
                raise DataError("XADD maxlen must be non-negative integer")
            args += ["MAXLEN", *(["~"] if approximate else []), str(maxlen)]
        if minid is not None:
            args += ["MINID", *(["~"] if approximate else []), minid]
        args += [*_optional("LIMIT", limit), id]
        if not isinstance(fields, dict) or not fields:
            raise DataError("XADD fields must be a non-empty dict")
        return self._execute([*args, *_pairs(fields)])

    def xlen(self, name: KeyT) -> int:
        return self._execute(["XLEN", name])

    def xdel(self, name: KeyT, *ids: StreamIdT) -> int:
        return self._execute(["XDEL", name, *ids])

    def xtrim(
        self,
        name: KeyT,
        maxlen: int | None = None,
        approximate: bool = True,
        minid: StreamIdT | None = None,
        limit: int | None = None,
        ref_policy: str | None = None,
    ) -> int:
        """``ref_policy`` needs Redis 8.2+."""
        if maxlen is not None and minid is not None:
            raise DataError("Only one of ``maxlen`` or ``minid`` may be specified")
        if maxlen is None and minid is None:
            raise DataError("One of ``maxlen`` or ``minid`` must be specified")
        _check_ref_policy("XTRIM", ref_policy)
        args: list[Any] = ["XTRIM", name, "MAXLEN" if maxlen is not None else "MINID"]
        args += ["~"] if approximate else []
        args.append(maxlen if maxlen is not None else minid)
        return self._execute([*args, *_optional("LIMIT", limit), *_optional(ref_policy)])

    def xrange(
        self,
        name: KeyT,
        min: StreamIdT = "-",  # noqa: A002 - redis-py's names
        max: StreamIdT = "+",  # noqa: A002
        count: int | None = None,
    ) -> list[tuple[bytes, dict[bytes, bytes]]]:
        return self._execute(
            ["XRANGE", name, min, max, *_stream_count("XRANGE", count)], post=_stream_entries
        )

    def xrevrange(
        self,
        name: KeyT,
        max: StreamIdT = "+",  # noqa: A002 - redis-py's names and order
        min: StreamIdT = "-",  # noqa: A002
        count: int | None = None,
    ) -> list[tuple[bytes, dict[bytes, bytes]]]:
        args = ["XREVRANGE", name, max, min, *_stream_count("XREVRANGE", count)]
        return self._execute(args, post=_stream_entries)

    def xread(
        self,
        streams: dict[KeyT, StreamIdT],
        count: int | None = None,
        block: int | None = None,
        max_count: int | None = None,
        max_size: int | None = None,
    ) -> list[Any]:
        """With ``block`` (milliseconds) the wait happens on a connection of its own."""
        args: list[Any] = ["XREAD"]
        if block is not None:
            if not isinstance(block, int) or block < 0:
                raise DataError("XREAD block must be a non-negative integer")
            args += ["BLOCK", str(block)]
        args += _stream_count("XREAD", count, "positive integer")
        args += _read_limits("XREAD", count, max_count, max_size)
        if not isinstance(streams, dict) or not streams:
            raise DataError("XREAD streams must be a non empty dict")
        args += ["STREAMS", *streams.keys(), *streams.values()]
        return self._execute(args, post=_xread_reply)

    def xreadgroup(
        self,
        groupname: KeyT,
        consumername: KeyT,
        streams: dict[KeyT, StreamIdT],
        count: int | None = None,
        block: int | None = None,
        noack: bool = False,
        claim_min_idle_time: int | None = None,
        max_count: int | None = None,
        max_size: int | None = None,
    ) -> list[Any]:
        args: list[Any] = ["XREADGROUP", "GROUP", groupname, consumername]
        args += _stream_count("XREADGROUP", count, "positive integer")
        args += _read_limits("XREADGROUP", count, max_count, max_size)
        if block is not None:
            if not isinstance(block, int) or block < 0:
                raise DataError("XREADGROUP block must be a non-negative integer")
            args += ["BLOCK", str(block)]
        if noack:
            args.append("NOACK")
        options: dict[str, Any] = {}
        if claim_min_idle_time is not None:
            if not isinstance(claim_min_idle_time, int) or claim_min_idle_time < 0:
                raise DataError("XREADGROUP claim_min_idle_time must be a non-negative integer")
            args += ["CLAIM", claim_min_idle_time]
            options["claim_min_idle_time"] = claim_min_idle_time
        if not isinstance(streams, dict) or not streams:
            raise DataError("XREADGROUP streams must be a non empty dict")
        args += ["STREAMS", *streams.keys(), *streams.values()]
        return self._execute(args, post=_bind(_xread_reply, options) or _xread_reply)

    def xack(self, name: KeyT, groupname: KeyT, *ids: StreamIdT) -> int:
        return self._execute(["XACK", name, groupname, *ids])

    def xgroup_create(
        self,
        name: KeyT,
        groupname: KeyT,
        id: StreamIdT = "$",  # noqa: A002 - redis-py's name
        mkstream: bool = False,
        entries_read: int | None = None,
    ) -> bool:
        args = ["XGROUP", "CREATE", name, groupname, id, *(["MKSTREAM"] if mkstream else [])]
        return self._execute([*args, *_optional("ENTRIESREAD", entries_read)], post=_ok)

    def xgroup_destroy(self, name: KeyT, groupname: KeyT) -> bool:
        return self._execute(["XGROUP", "DESTROY", name, groupname], "bool")

    def xgroup_createconsumer(self, name: KeyT, groupname: KeyT, consumername: KeyT) -> int:
        return self._execute(["XGROUP", "CREATECONSUMER", name, groupname, consumername])

    def xgroup_delconsumer(self, name: KeyT, groupname: KeyT, consumername: KeyT) -> int:
        return self._execute(["XGROUP", "DELCONSUMER", name, groupname, consumername])

    def xgroup_setid(
        self,
        name: KeyT,
        groupname: KeyT,
        id: StreamIdT,  # noqa: A002 - redis-py's name
        entries_read: int | None = None,
    ) -> bool:
        args = ["XGROUP", "SETID", name, groupname, id, *_optional("ENTRIESREAD", entries_read)]
        return self._execute(args, post=_ok)

    def xinfo_stream(self, name: KeyT, full: bool = False) -> dict[str, Any]:
        args = ["XINFO", "STREAM", name, *(["FULL"] if full else [])]
        return self._execute(args, post=_bind(_xinfo_stream_reply, {"full": full}))

    def xinfo_groups(self, name: KeyT) -> list[dict[str, Any]]:
        return self._execute(["XINFO", "GROUPS", name], post=_list_of_dicts)

    def xinfo_consumers(self, name: KeyT, groupname: KeyT) -> list[dict[str, Any]]:
        return self._execute(["XINFO", "CONSUMERS", name, groupname], post=_list_of_dicts)

    def xpending(self, name: KeyT, groupname: KeyT) -> dict[str, Any]:
        return self._execute(["XPENDING", name, groupname], post=_xpending_reply)

    def xpending_range(
        self,
        name: KeyT,
        groupname: KeyT,
        min: StreamIdT | None,  # noqa: A002 - redis-py's names
        max: StreamIdT | None,  # noqa: A002
        count: int | None,
        consumername: KeyT | None = None,
        idle: int | None = None,
    ) -> list[dict[str, Any]]:
        if min is None and max is None and count is None:
            if idle is not None or consumername is not None:
                raise DataError(
                    "if XPENDING is provided with idle time or consumername, it must be "
                    "provided with min, max and count parameters"
                )
            return self.xpending(name, groupname)  # type: ignore[return-value]
        if min is None or max is None or count is None:
            raise DataError(
                "XPENDING must be provided with min, max and count parameters, or none of them."
            )
        args: list[Any] = ["XPENDING", name, groupname]
        if idle is not None:
            if int(idle) < 0:
                raise DataError("XPENDING idle must be a integer >= 0")
            args += ["IDLE", idle]
        if int(count) < 0:
            raise DataError("XPENDING count must be a integer >= 0")
        args += [min, max, count, *_optional(consumername)]
        return self._execute(args, post=_bind(_xpending_reply, {"parse_detail": True}))

    def xclaim(
        self,
        name: KeyT,
        groupname: KeyT,
        consumername: KeyT,
        min_idle_time: int,
        message_ids: list[StreamIdT] | tuple[StreamIdT, ...],
        idle: int | None = None,
        time: int | None = None,
        retrycount: int | None = None,
        force: bool = False,
        justid: bool = False,
    ) -> list[Any]:
        if not isinstance(min_idle_time, int) or min_idle_time < 0:
            raise DataError("XCLAIM min_idle_time must be a non negative integer")
        if not isinstance(message_ids, (list, tuple)) or not message_ids:
            raise DataError(
                "XCLAIM message_ids must be a non empty list or tuple of message IDs to claim"
            )
        args: list[Any] = [
            "XCLAIM",
            name,
            groupname,
            consumername,
            str(min_idle_time),
            *message_ids,
        ]
        for flag, value in (("IDLE", idle), ("TIME", time), ("RETRYCOUNT", retrycount)):
            if value is not None:
                if not isinstance(value, int):
                    raise DataError(f"XCLAIM {flag.lower()} must be an integer")
                args += [flag, str(value)]
        for flag, on in (("FORCE", force), ("JUSTID", justid)):
            if on:
                if not isinstance(on, bool):
                    raise DataError(f"XCLAIM {flag.lower()} must be a boolean")
                args.append(flag)
        return self._execute(args, post=_bind(_xclaim_reply, {"parse_justid": bool(justid)}))

    def xautoclaim(
        self,
        name: KeyT,
        groupname: KeyT,
        consumername: KeyT,
        min_idle_time: int,
        start_id: StreamIdT = "0-0",
        count: int | None = None,
        justid: bool = False,
    ) -> list[Any]:
        try:
            if int(min_idle_time) < 0:
                raise DataError("XAUTOCLAIM min_idle_time must be a nonnegative integer")
        except TypeError:
            pass
        args: list[Any] = ["XAUTOCLAIM", name, groupname, consumername, min_idle_time, start_id]
        if count is not None:
            if int(count) < 0:
                raise DataError("XAUTOCLAIM count must be a integer >= 0")
            args += ["COUNT", count]
        if justid:
            args.append("JUSTID")
        return self._execute(args, post=_bind(_xautoclaim_reply, {"parse_justid": bool(justid)}))

    # ---- scripting --------------------------------------------------------------------

    def eval(self, script: str, numkeys: int, *keys_and_args: EncodableT) -> Any:
        return self._execute(["EVAL", script, numkeys, *keys_and_args])

    def eval_ro(self, script: str, numkeys: int, *keys_and_args: EncodableT) -> Any:
        return self._execute(["EVAL_RO", script, numkeys, *keys_and_args])

    def evalsha(self, sha: str, numkeys: int, *keys_and_args: EncodableT) -> Any:
        return self._execute(["EVALSHA", sha, numkeys, *keys_and_args])

    def evalsha_ro(self, sha: str, numkeys: int, *keys_and_args: EncodableT) -> Any:
        return self._execute(["EVALSHA_RO", sha, numkeys, *keys_and_args])

    def script_load(self, script: str | bytes) -> str:
        return self._execute(["SCRIPT", "LOAD", script], post=_text_reply)

    def script_exists(self, *args: str) -> list[bool]:
        return self._execute(["SCRIPT", "EXISTS", *args], post=_script_exists_reply)

    def script_flush(self, sync_type: str | None = None) -> bool:
        if sync_type not in ("SYNC", "ASYNC", None):
            raise DataError(
                "SCRIPT FLUSH defaults to SYNC in redis > 6.2, or accepts SYNC/ASYNC. For "
                "older versions, of redis leave as None."
            )
        return self._execute(["SCRIPT", "FLUSH", *_optional(sync_type)], post=_ok)

    def script_kill(self) -> bool:
        return self._execute(["SCRIPT", "KILL"], post=_ok)

    def script_debug(self, *args: Any) -> None:
        """Refused, as in redis-py: the Lua debugger takes over a connection."""
        raise NotImplementedError(
            "SCRIPT DEBUG is not supported: the Lua debugger needs a connection of its own "
            "(use redis-cli --ldb)"
        )

    def register_script(self, script: str | bytes) -> Script:
        """A callable running ``script`` by its SHA1 (EVALSHA), loading it on NOSCRIPT."""
        return Script(self, script)


def _option_value(option: Any) -> Any:
    """A redis-py options enum (``HashDataPersistOptions.FNX``, ...) or its string."""
    return getattr(option, "value", option) if option else None


def _expiry_and_persist(
    ex: Any, px: Any, exat: Any, pxat: Any, keepttl: bool, persist_option: Any
) -> list[Any]:
    if not _one_at_most(
        ex is not None, px is not None, exat is not None, pxat is not None, keepttl
    ):
        raise DataError(
            "``ex``, ``px``, ``exat``, ``pxat``, and ``keepttl`` are mutually exclusive."
        )
    flags = _expiry_flags(ex, px, exat, pxat)
    flags += _optional(_option_value(persist_option))
    return [*flags, *(["KEEPTTL"] if keepttl else [])]


def _movem_tail(count: int | None, mode: str | None, ordering: str | None) -> list[Any]:
    if count is None:
        if mode is not None or ordering is not None:
            raise DataError("``count`` is required when ``mode`` or ``ordering`` is set")
        return []
    if ordering is None:
        raise DataError("``ordering`` (OBO or BULK) is required when ``count`` is set")
    return [mode or "COUNT", count, ordering]


_GEO_UNITS = ("m", "km", "mi", "ft")


def _limit(start: int | None, num: int | None) -> list[Any]:
    if (start is None) != (num is None):
        raise DataError("``start`` and ``num`` must both be specified")
    return [] if start is None else ["LIMIT", start, num]


def _check_ref_policy(command: str, ref_policy: str | None) -> None:
    if ref_policy is not None and ref_policy not in ("KEEPREF", "DELREF", "ACKED"):
        raise DataError(f"{command} ref_policy must be one of: KEEPREF, DELREF, ACKED")


def _stream_count(command: str, count: int | None, what: str = "positive integer") -> list[Any]:
    if count is None:
        return []
    if not isinstance(count, int) or count < 1:
        raise DataError(f"{command} count must be a {what}")
    return ["COUNT", str(count)]


def _read_limits(
    command: str, count: int | None, max_count: int | None, max_size: int | None
) -> list[Any]:
    args: list[Any] = []
    if max_count is not None:
        if not isinstance(max_count, int) or max_count < 1:
            raise DataError(f"{command} max_count must be a positive integer")
        if count is not None and max_count < count:
            raise DataError(f"{command} max_count must be greater than or equal to count")
        args += ["MAXCOUNT", str(max_count)]
    if max_size is not None:
        if not isinstance(max_size, int) or max_size < 1:
            raise DataError(f"{command} max_size must be a positive integer")
        args += ["MAXSIZE", str(max_size)]
    return args


def _zaggregate_args(
    command: str,
    dest: KeyT | None,
    keys: Sequence[KeyT] | Mapping[KeyT, float],
    aggregate: str | None,
    withscores: bool,
) -> list[Any]:
    args: list[Any] = [command, *([] if dest is None else [dest]), len(keys)]
    if isinstance(keys, Mapping):
        args += [*keys.keys()]
        weights = list(keys.values())
        args += ["WEIGHTS", *weights] if weights else []
    else:
        args += list(keys)
    if aggregate:
        if aggregate.upper() not in ("SUM", "MIN", "MAX", "COUNT"):
            raise DataError("aggregate can be sum, min, max or count.")
        args += ["AGGREGATE", aggregate]
    return [*args, *(["WITHSCORES"] if withscores else [])]


def _geosearch_args(
    args: list[Any],
    member: Any,
    longitude: Any,
    latitude: Any,
    unit: str | None,
    radius: Any,
    width: Any,
    height: Any,
    sort: str | None,
    count: int | None,
    any_: bool,
) -> list[Any]:
    if member is None:
        if longitude is None or latitude is None:
            raise DataError("GEOSEARCH must have member or longitude and latitude")
        args += ["FROMLONLAT", longitude, latitude]
    else:
        if longitude is not None or latitude is not None:
            raise DataError("GEOSEARCH member and longitude or latitude can't be set together")
        args += ["FROMMEMBER", member]
    if radius is None and (width is None or height is None):
        raise DataError("GEOSEARCH must have radius or width and height")
    if unit is None:
        raise DataError("GEOSEARCH must have unit")
    if unit.lower() not in _GEO_UNITS:
        raise DataError("GEOSEARCH invalid unit")
    if radius is not None:
        if width is not None or height is not None:
            raise DataError("GEOSEARCH radius and width or height can't be set together")
        args += ["BYRADIUS", radius, unit]
    else:
        args += ["BYBOX", width, height, unit]
    if sort:
        if sort.upper() not in ("ASC", "DESC"):
            raise DataError("GEOSEARCH invalid sort")
        args.append(sort.upper())
    if count is not None:
        args += ["COUNT", count, *(["ANY"] if any_ else [])]
    elif any_:
        raise DataError("GEOSEARCH ``any`` can't be provided without count")
    return args


class BitFieldOperation:
    """One BITFIELD command built step by step (``RedisClient.bitfield(key)``)::

    client.bitfield("k").set("u8", 0, 200).incrby("u8", 0, 100, overflow="SAT").execute()
    """

    def __init__(self, client: _Commands, key: KeyT, default_overflow: str | None = None) -> None:
        self.client = client
        self.key = key
        self._default_overflow = default_overflow
        self.operations: list[tuple[Any, ...]] = []
        self._last_overflow = "WRAP"
        self.reset()

    def reset(self) -> None:
        """Forget the queued operations (and go back to the default overflow)."""
        self.operations = []
        self._last_overflow = "WRAP"
        self.overflow(self._default_overflow or self._last_overflow)

    def overflow(self, overflow: str) -> BitFieldOperation:
        """WRAP, SAT or FAIL for the operations that follow (sent only when it changes)."""
        overflow = overflow.upper()
        if overflow != self._last_overflow:
            self._last_overflow = overflow
            self.operations.append(("OVERFLOW", overflow))
        return self

    def incrby(
        self, fmt: str, offset: int | str, increment: int, overflow: str | None = None
    ) -> BitFieldOperation:
        if overflow is not None:
            self.overflow(overflow)
        self.operations.append(("INCRBY", fmt, offset, increment))
        return self

    def get(self, fmt: str, offset: int | str) -> BitFieldOperation:
        self.operations.append(("GET", fmt, offset))
        return self

    def set(self, fmt: str, offset: int | str, value: int) -> BitFieldOperation:
        self.operations.append(("SET", fmt, offset, value))
        return self

    @property
    def command(self) -> list[Any]:
        return ["BITFIELD", self.key, *(x for op in self.operations for x in op)]

    def execute(self) -> Any:
        """Send the command (queue it, on a pipeline); one reply per GET/SET/INCRBY."""
        command = self.command
        self.reset()
        return self.client.execute_command(*command)


class Script:
    """A Lua script run by its SHA1 (``RedisClient.register_script``). Calling it runs
    EVALSHA and, when the server does not know the script yet, loads it and retries."""

    def __init__(self, registered_client: _Commands, script: str | bytes) -> None:
        self.registered_client = registered_client
        self.script = script
        encoded = script.encode() if isinstance(script, str) else script
        self.sha = hashlib.sha1(encoded).hexdigest()

    def __call__(
        self,
        keys: Sequence[KeyT] | None = None,
        args: Sequence[EncodableT] | None = None,
        client: _Commands | None = None,
    ) -> Any:
        keys = list(keys or [])
        values = [*keys, *(args or [])]
        target = self.registered_client if client is None else client
        if isinstance(target, Pipeline):
            target._scripts.append(self)  # loaded, if missing, before the pipeline runs
            return target.evalsha(self.sha, len(keys), *values)
        try:
            result = target.evalsha(self.sha, len(keys), *values)
        except NoScriptError:
            self.sha = target.script_load(self.script)
            return target.evalsha(self.sha, len(keys), *values)
        if inspect.isawaitable(result):  # from a coroutine: NOSCRIPT arrives on await
            return self._load_on_noscript(target, result, len(keys), values)
        return result

    async def _load_on_noscript(
        self, target: _Commands, first: Awaitable[Any], numkeys: int, values: list[Any]
    ) -> Any:
        try:
            return await first
        except NoScriptError:
            # From a coroutine every command returns an awaitable of its reply.
            self.sha = await cast("Awaitable[str]", target.script_load(self.script))
            return await target.evalsha(self.sha, numkeys, *values)


class RedisClient(_Commands):
    """Commands on one named pool. Cheap to create; the pool is looked up on first use, so
    ``global_redis`` can be created at import time, outside the runtime."""

    def __init__(self, name: str = "default") -> None:
        self._name = name
        self._client: _RedisNativeClient | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def _native(self) -> _RedisNativeClient:
        if self._client is None:
            self._client = _require_native().client(self._name)
        return self._client

    def _execute(
        self, args: list[Any], reply: str = "raw", post: Callable[[Any], Any] | None = None
    ) -> Any:
        return _apply(self._native.command(args, reply), post)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Pipeline:
        """Queue commands and send them in one round trip with :meth:`Pipeline.execute`;
        with ``transaction`` (the default, as in redis-py) wrapped in MULTI/EXEC."""
        return Pipeline(self, transaction)

    def scan_iter(
        self,
        match: KeyT | None = None,
        count: int | None = None,
        _type: str | None = None,
        **kwargs: Any,
    ) -> Iterator[bytes] | AsyncIterator[bytes]:
        """Every key matching ``match`` (SCAN: keys may repeat, as in redis-py). From a
        coroutine an async iterator (``async for``), as in ``redis.asyncio``."""
        return _cursor_iter(
            lambda cursor: self.scan(cursor, match=match, count=count, _type=_type), _same
        )

    def sscan_iter(
        self, name: KeyT, match: KeyT | None = None, count: int | None = None
    ) -> Iterator[bytes] | AsyncIterator[bytes]:
        return _cursor_iter(lambda cursor: self.sscan(name, cursor, match, count), _same)

    def hscan_iter(
        self,
        name: KeyT,
        match: KeyT | None = None,
        count: int | None = None,
        no_values: bool | None = None,
    ) -> Iterator[Any] | AsyncIterator[Any]:
        return _cursor_iter(
            lambda cursor: self.hscan(name, cursor, match, count, no_values),
            _same if no_values else _dict_items,
        )

    def zscan_iter(
        self,
        name: KeyT,
        match: KeyT | None = None,
        count: int | None = None,
        score_cast_func: ScoreCast = float,
    ) -> Iterator[tuple[bytes, Any]] | AsyncIterator[tuple[bytes, Any]]:
        return _cursor_iter(
            lambda cursor: self.zscan(name, cursor, match, count, score_cast_func), _same
        )

    def pubsub(self, **kwargs: Any) -> None:
        """Refused: a subscriber pins a connection; use ``puff.pubsub``, whose
        subscriptions share connections and survive server restarts."""
        _refuse_pinned("SUBSCRIBE")

    def monitor(self) -> None:
        """Refused: MONITOR turns a connection into a stream of every command."""
        _refuse_pinned("MONITOR")

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
        self._scripts: list[Script] = []

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

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        """Send every queued command in one round trip and return their replies in order.

        An error reply raises :class:`ResponseError` for the first failing command (with
        ``raise_on_error=False`` the exception takes the command's place in the list). The
        other commands still ran: Redis does not roll back, except that a command rejected
        while a transaction is queued aborts the whole transaction."""
        queued, posts, scripts = self._queued, self._posts, self._scripts
        self.reset()
        if not queued:
            return []
        if scripts:  # EVALSHA needs the scripts on the server: load the missing ones first
            known = self._client.script_exists(*[s.sha for s in scripts])
            if inspect.isawaitable(known):
                # From a coroutine execute() returns an awaitable of the replies.
                sent = self._load_then_send(known, scripts, queued, posts, raise_on_error)
                return cast("list[Any]", sent)
            for script, exists in zip(scripts, known):
                if not exists:
                    self._client.script_load(script.script)
        return self._send(queued, posts, raise_on_error)

    async def _load_then_send(
        self,
        known: Awaitable[list[bool]],
        scripts: list[Script],
        queued: list[tuple[list[Any], str]],
        posts: list[Callable[[Any], Any] | None],
        raise_on_error: bool,
    ) -> list[Any]:
        for script, exists in zip(scripts, await known):
            if not exists:
                await cast("Awaitable[str]", self._client.script_load(script.script))
        return await self._send(queued, posts, raise_on_error)

    def _send(
        self,
        queued: list[tuple[list[Any], str]],
        posts: list[Callable[[Any], Any] | None],
        raise_on_error: bool,
    ) -> Any:
        # Errors come back in place, so the first one can be raised as redis-py words it.
        result = self._client._native.pipeline(queued, self.transaction, False)

        def finish(replies: list[Any]) -> list[Any]:
            errors = [(i, r) for i, r in enumerate(replies) if isinstance(r, Exception)]
            aborted = any(isinstance(r, ExecAbortError) for _, r in errors)
            if errors and (raise_on_error or aborted):
                # A command rejected while a transaction was queued aborts all of it: that
                # command's error is raised even with raise_on_error=False, as redis-py does.
                rejected = [(i, r) for i, r in errors if not isinstance(r, ExecAbortError)]
                i, error = (rejected or errors)[0]
                raise _pipeline_error(error, i, queued[i][0])
            if not any(posts):
                return replies
            return [
                r if post is None or isinstance(r, Exception) else post(r)
                for r, post in zip(replies, posts)
            ]

        return _apply(result, finish)

    def reset(self) -> None:
        """Forget the queued commands."""
        self._queued = []
        self._posts = []
        self._scripts = []

    def __len__(self) -> int:
        return len(self._queued)

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.reset()

    def __repr__(self) -> str:
        kind = "transaction" if self.transaction else "pipeline"
        return f"<puff.redis.Pipeline {kind} on {self._client.name!r}, {len(self)} queued>"


def _same(items: Any) -> Any:
    return items


def _dict_items(items: Any) -> Any:
    return items.items()


def _cursor_iter(
    scan: Callable[[int], Any], items: Callable[[Any], Iterable[Any]]
) -> Iterator[Any] | AsyncIterator[Any]:
    """Everything a SCAN-style command returns, cursor after cursor. The first page is
    asked for at once: from a coroutine it is an awaitable, and the whole walk an async
    iterator."""
    first = scan(0)
    if inspect.isawaitable(first):
        return _cursor_aiter(first, scan, items)
    return _cursor_gen(first, scan, items)


def _cursor_gen(
    first: Any, scan: Callable[[int], Any], items: Callable[[Any], Any]
) -> Iterator[Any]:
    cursor, page = first
    yield from items(page)
    while cursor != 0:
        cursor, page = scan(cursor)
        yield from items(page)


async def _cursor_aiter(
    first: Awaitable[Any], scan: Callable[[int], Any], items: Callable[[Any], Any]
) -> AsyncIterator[Any]:
    cursor, page = await first
    for item in items(page):
        yield item
    while cursor != 0:
        cursor, page = await scan(cursor)
        for item in items(page):
            yield item


def _pipeline_error(error: Exception, index: int, args: list[Any]) -> Exception:
    """``error`` of the pipeline's command number ``index`` (from 0), its message prefixed
    with the command as redis-py does (shortened to 100 characters)."""
    text = " ".join(str(_text(arg)) for arg in args)
    shown = textwrap.shorten(text, width=100, placeholder="...", break_long_words=True)
    return type(error)(f"Command # {index + 1} ({shown}) of pipeline caused error: {error}")


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
