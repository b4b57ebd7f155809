"""The differential table: the same calls through redis-py and through ``puff.redis``.

Imported by both sides of ``test_redis_compat.py``: ``compat_peer.py`` runs every case with
the real redis-py (plain Python, ``.venv/bin/python``) and the test runs them inside
puff-cli with ``puff.redis``, each case on a freshly flushed database of the same private
server. Every step's outcome (its result, or the exception it raised) is described by
:func:`describe` (type and value, recursively; nothing else is normalised) and the two
descriptions must be equal.

A case is a name and its steps; a step is a method name, its arguments and keyword
arguments, and optionally a ``view``: a function both sides apply to the result before
describing it, only for results that differ between any two runs (clocks, idle times).
Cases run on the client and, unless ``pipeline=False``, again queued on a pipeline
(``transaction=False``), whose ``execute()`` result is compared the same way.

This module must not import puff or redis: both sides import it.
"""

from __future__ import annotations

import datetime
import enum
import hashlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

View = Callable[[Any], Any]


@dataclass(frozen=True)
class Step:
    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    view: View | None = None


@dataclass(frozen=True)
class Case:
    name: str
    steps: tuple[Step, ...]
    pipeline: bool = True


def S(method: str, *args: Any, _view: View | None = None, **kwargs: Any) -> Step:
    return Step(method, args, kwargs, _view)


CASES: list[Case] = []


def case(name: str, *steps: Step, pipeline: bool = True) -> None:
    assert name not in {c.name for c in CASES}, name
    CASES.append(Case(name, steps, pipeline))


def describe(value: Any) -> Any:
    """A JSON-able description of ``value``: its exact type and value, recursively."""
    if value is None:
        return ["None"]
    if isinstance(value, bool):
        return ["bool", value]
    if isinstance(value, int):
        return ["int", str(value)]
    if isinstance(value, float):
        return ["float", repr(value)]
    if isinstance(value, bytes):
        return ["bytes", value.decode("latin-1")]
    if isinstance(value, str):
        return ["str", value]
    if isinstance(value, (list, tuple)):
        return [type(value).__name__, [describe(v) for v in value]]
    if isinstance(value, (set, frozenset)):
        return ["set", sorted((describe(v) for v in value), key=repr)]
    if isinstance(value, dict):
        items = [[describe(k), describe(v)] for k, v in value.items()]
        return ["dict", sorted(items, key=repr)]
    if isinstance(value, datetime.datetime):
        return ["datetime", value.isoformat()]
    return ["other", type(value).__name__, repr(value)]


def describe_signature(fn: Any) -> list[list[str]]:
    """Each parameter's name, kind and default (repr), for comparing signatures (the
    names of ``*args``/``**kwargs`` left out: callers cannot use them)."""
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return [
        [
            "" if p.kind in variadic else p.name,
            p.kind.name,
            "-" if p.default is p.empty else repr(p.default),
        ]
        for p in inspect.signature(fn).parameters.values()
    ]


def describe_error(exc: BaseException, with_message: bool = True) -> Any:
    """Exceptions compare by class name (redis-py's and puff.redis's classes have the same
    names) and, for Redis errors, message; Python's own (TypeError, ...) by class only,
    since their messages name the defining class."""
    name = type(exc).__name__
    builtin = type(exc).__module__ == "builtins"
    message = str(exc) if with_message and not builtin else None
    return ["raise", name, message]


def _call(client: Any, step: Step) -> Any:
    if step.method == "bitfield":  # the builder, its chained operations, then execute()
        op = client.bitfield(*step.args)
        for name, *args in step.kwargs["_ops"]:
            op = getattr(op, name)(*args)
        return op.execute()
    if step.method == "register_script":  # called twice (EVALSHA, loading it once)
        script = client.register_script(*step.args)
        return [script(keys=["k"], args=[5]), script(keys=["k"], args=[6]), script.sha]
    if step.method == "restore_dump_of":  # RESTORE what DUMP gave
        source, *args = step.args
        return client.restore(*args, client.dump(source), **step.kwargs)
    result = getattr(client, step.method)(*step.args, **step.kwargs)
    if step.method.endswith("scan_iter"):
        result = sorted(result, key=repr)
    return result


def flush(client: Any) -> None:
    client.execute_command("FLUSHALL")


def run_case(client: Any, c: Case) -> list[Any]:
    """Run ``c`` on ``client`` (every database flushed first): one outcome per step;
    stops at the first step that raises."""
    flush(client)
    out: list[Any] = []
    for step in c.steps:
        try:
            result = _call(client, step)
        except Exception as exc:  # noqa: BLE001 - compared, not handled
            out.append(describe_error(exc))
            break
        out.append(describe(step.view(result) if step.view else result))
    return out


def run_case_pipelined(client: Any, c: Case, transaction: bool = False) -> list[Any]:
    """Queue every step of ``c`` on one pipeline (MULTI/EXEC with ``transaction``) and
    describe ``execute()`` (or the error it raised, class and message)."""
    flush(client)
    pipe = client.pipeline(transaction=transaction)
    views = []
    try:
        for step in c.steps:
            getattr(pipe, step.method)(*step.args, **step.kwargs)
            views.append(step.view)
    except Exception as exc:  # noqa: BLE001
        return [describe_error(exc)]
    try:
        results = pipe.execute()
    except Exception as exc:  # noqa: BLE001
        return [describe_error(exc)]
    return [describe(v(r) if v else r) for v, r in zip(views, results)]


# ---- the same, awaiting each call (puff.redis from a coroutine, asyncio = true) --------


async def _ready(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def _call_async(client: Any, step: Step) -> Any:
    if step.method == "bitfield":
        op = client.bitfield(*step.args)
        for name, *args in step.kwargs["_ops"]:
            op = getattr(op, name)(*args)
        return await _ready(op.execute())
    if step.method == "register_script":
        script = client.register_script(*step.args)
        first = await _ready(script(keys=["k"], args=[5]))
        second = await _ready(script(keys=["k"], args=[6]))
        return [first, second, script.sha]
    if step.method == "restore_dump_of":
        source, *args = step.args
        dumped = await _ready(client.dump(source))
        return await _ready(client.restore(*args, dumped, **step.kwargs))
    result = getattr(client, step.method)(*step.args, **step.kwargs)
    if step.method.endswith("scan_iter"):
        return sorted([item async for item in result], key=repr)
    return await _ready(result)


async def run_case_async(client: Any, c: Case) -> list[Any]:
    """:func:`run_case`, each call awaited."""
    await _ready(client.execute_command("FLUSHALL"))
    out: list[Any] = []
    for step in c.steps:
        try:
            result = await _call_async(client, step)
        except Exception as exc:  # noqa: BLE001 - compared, not handled
            out.append(describe_error(exc))
            break
        out.append(describe(step.view(result) if step.view else result))
    return out


async def run_case_pipelined_async(
    client: Any, c: Case, transaction: bool = False
) -> list[Any]:
    """:func:`run_case_pipelined`, ``execute()`` awaited."""
    await _ready(client.execute_command("FLUSHALL"))
    pipe = client.pipeline(transaction=transaction)
    views = []
    try:
        for step in c.steps:
            getattr(pipe, step.method)(*step.args, **step.kwargs)
            views.append(step.view)
    except Exception as exc:  # noqa: BLE001
        return [describe_error(exc)]
    try:
        results = await _ready(pipe.execute())
    except Exception as exc:  # noqa: BLE001
        return [describe_error(exc)]
    return [describe(v(r) if v else r) for v, r in zip(views, results)]


# ---- views: only for values that differ between runs ----------------------------------


def _kinds(value: Any) -> Any:
    """The types only (recursively), e.g. for TIME."""
    if isinstance(value, (list, tuple)):
        return [type(value).__name__, [_kinds(v) for v in value]]
    if isinstance(value, dict):
        return ["dict", sorted((str(k), _kinds(v)) for k, v in value.items())]
    return type(value).__name__


def _without(*keys: str) -> View:
    def view(value: Any) -> Any:
        if isinstance(value, list):
            return [{k: v for k, v in d.items() if k not in keys} for d in value]
        return {k: v for k, v in value.items() if k not in keys}

    return view


def _info_view(info: Any) -> Any:
    fields = (
        "redis_version",
        "tcp_port",
        "uptime_in_seconds",
        "mem_fragmentation_ratio",
    )
    return [type(info).__name__, [(k, type(info[k]).__name__) for k in fields]]


def _near(expected: int, slack: int) -> View:
    return lambda value: [type(value).__name__, abs(value - expected) <= slack]


# ---- the cases ------------------------------------------------------------------------

DAY = datetime.timedelta(days=1)
WHEN = datetime.datetime(2100, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
LUA_SUM = "return tonumber(redis.call('GET', KEYS[1]) or 0) + tonumber(ARGV[1])"
SUM_SHA = hashlib.sha1(LUA_SUM.encode()).hexdigest()
ONE_SHA = hashlib.sha1(b"return 1").hexdigest()

# server
case("ping", S("ping"), S("execute_command", "PING"))
case("echo", S("echo", "hi"), S("echo", b"\x00\xff"))
case("dbsize", S("set", "a", 1), S("set", "b", 2), S("dbsize"))
case(
    "flushdb",
    S("set", "a", 1),
    S("flushdb"),
    S("flushdb", asynchronous=True),
    S("dbsize"),
)
case("time", S("time", _view=_kinds))
case(
    "info",
    S("info", _view=_info_view),
    S("set", "a", 1),
    S("info", "keyspace"),
    S("info", "server", "keyspace", _view=lambda i: sorted(i)[:3]),
)

# strings
case(
    "set-get",
    S("set", "k", "v"),
    S("get", "k"),
    S("get", "missing"),
    S("set", "n", 12),
    S("set", "f", 1.5),
    S("set", "b", b"\x00\xff"),
    S("mget", "n", "f", "b", "missing"),
)
case(
    "set-options",
    S("set", "k", "v", nx=True),
    S("set", "k", "w", nx=True),
    S("set", "k", "w", xx=True),
    S("set", "x", "w", xx=True),
    S("set", "k", "z", get=True),
    S("set", "k", "y", ex=100),
    S("ttl", "k"),
    S("set", "k", "y", px=DAY),
    S("ttl", "k"),
    S("set", "k", "y", exat=WHEN),
    S("expiretime", "k"),
    S("set", "k", "y", pxat=WHEN),
    S("pexpiretime", "k"),
    S("set", "k", "q", keepttl=True),
    S("pexpiretime", "k"),
    S("set", "k", "y", ex="100"),
    S("set", "k", "y", ex=datetime.timedelta(seconds=70)),
    S("ttl", "k"),
)
case("set-error-exclusive", S("set", "k", "v", ex=1, px=1))
case("set-error-nx-xx", S("set", "k", "v", nx=True, xx=True))
case("set-error-ex-type", S("set", "k", "v", ex=1.5))
case("set-error-bool", S("set", "k", True))
case("set-error-none", S("set", "k", None))
case("set-error-object", S("set", "k", object))
case("set-error-negative-ex", S("set", "k", "v", ex=-1))
case(
    "getex",
    S("set", "k", "v"),
    S("getex", "k"),
    S("getex", "k", ex=100),
    S("ttl", "k"),
    S("getex", "k", px=200000),
    S("getex", "k", exat=WHEN),
    S("getex", "k", pxat=WHEN),
    S("getex", "k", persist=True),
    S("ttl", "k"),
    S("getex", "missing"),
)
case("getex-error", S("getex", "k", ex=1, persist=True))
case("getdel", S("set", "k", "v"), S("getdel", "k"), S("getdel", "k"), S("exists", "k"))
case("getset", S("getset", "k", "a"), S("getset", "k", "b"), S("get", "k"))
case(
    "mget-mset",
    S("mset", {"a": 1, "b": b"2", "c": "three"}),
    S("mget", ["a", "b", "c", "d"]),
    S("mget", "a", "b"),
    S("mget", ("a",), "c"),
    S("mget", []),
    S("msetnx", {"a": 9, "x": 1}),
    S("msetnx", {"y": 1, "z": 2}),
    S("mget", "a", "y", "z"),
)
case(
    "setnx-setex-psetex",
    S("setnx", "k", 1),
    S("setnx", "k", 2),
    S("setex", "e", 100, "v"),
    S("ttl", "e"),
    S("setex", "e", DAY, "v"),
    S("ttl", "e"),
    S("psetex", "p", 100000, "v"),
    S("pttl", "p", _view=_near(100000, 1000)),
    S("psetex", "p", datetime.timedelta(seconds=5), "v"),
    S("pttl", "p", _view=_near(5000, 1000)),
    S("get", "p"),
)
case("setex-error", S("setex", "e", 0, "v"))
case(
    "setrange-getrange-substr",
    S("set", "k", "Hello World"),
    S("setrange", "k", 6, "Redis"),
    S("get", "k"),
    S("setrange", "new", 3, b"x"),
    S("get", "new"),
    S("getrange", "k", 0, 4),
    S("getrange", "k", -5, -1),
    S("substr", "k", 6),
    S("substr", "k", 0, 2),
    S("strlen", "k"),
    S("strlen", "missing"),
    S("append", "k", "!"),
    S("append", "fresh", 12),
)
case(
    "incr-decr",
    S("incr", "n"),
    S("incr", "n", 10),
    S("incrby", "n", 5),
    S("decr", "n"),
    S("decr", "n", 3),
    S("decrby", "n", 2),
    S("incrbyfloat", "f"),
    S("incrbyfloat", "f", 2.25),
    S("incrbyfloat", "f", -0.5),
    S("set", "s", "text"),
    S("incr", "s"),
)
case("incrbyfloat-error", S("set", "s", "text"), S("incrbyfloat", "s", 1.5))
case("incr-wrongtype", S("rpush", "l", "x"), S("incr", "l"))
case(
    "lcs",
    S("mset", {"a": "ohmytext", "b": "mynewtext"}),
    S("lcs", "a", "b"),
    S("lcs", "a", "b", len=True),
    S("lcs", "a", "b", idx=True),
    S("lcs", "a", "b", idx=True, minmatchlen=4, withmatchlen=True),
)

# bits
case(
    "bits",
    S("setbit", "b", 7, 1),
    S("setbit", "b", 7, True),
    S("setbit", "b", 100, 1),
    S("getbit", "b", 7),
    S("getbit", "b", 8),
    S("getbit", "missing", 1),
    S("bitcount", "b"),
    S("bitcount", "b", 0, 0),
    S("bitcount", "b", 0, 7, "BIT"),
    S("bitpos", "b", 1),
    S("bitpos", "b", 0),
    S("bitpos", "b", 1, 1),
    S("bitpos", "b", 1, 1, 20),
    S("bitpos", "b", 1, 0, 100, "BIT"),
    S("set", "x", "\xff"),
    S("bitop", "AND", "dst", "b", "x"),
    S("bitop", "OR", "dst", "b", "x"),
    S("bitop", "NOT", "dst2", "b"),
    S("get", "dst2"),
)
case("bitcount-error", S("bitcount", "b", 1))
case("bitpos-error-bit", S("bitpos", "b", 2))
case("bitpos-error-end", S("bitpos", "b", 1, None, 3))
case("setbit-error", S("setbit", "b", -1, 1))
case(
    "bitfield",
    S(
        "bitfield",
        "bf",
        _ops=[("set", "u8", 0, 200), ("get", "u8", 0), ("incrby", "u8", 0, 100)],
    ),
    S("bitfield", "bf", _ops=[("incrby", "u8", 0, 100, "SAT"), ("get", "u4", "#1")]),
    S("bitfield", "bf", "FAIL", _ops=[("incrby", "u8", 0, 100), ("overflow", "WRAP")]),
    S("bitfield_ro", "bf", "u8", 0),
    S("bitfield_ro", "bf", "u8", 0, items=[("u4", 4), ("i8", "#1")]),
    pipeline=False,
)

# keys
case(
    "keys-exists-delete",
    S("mset", {"a": 1, "b": 2, "c": 3}),
    S("exists", "a"),
    S("exists", "a", "b", "missing", "a"),
    S("keys", _view=sorted),
    S("keys", "a*"),
    S("delete", "a", "missing"),
    S("unlink", "b"),
    S("touch", "c", "missing"),
    S("delete", "nothing"),
    S("randomkey"),
    S("type", "c"),
    S("type", "missing"),
)
case("delete-no-keys", S("delete"))
case(
    "expire-family",
    S("set", "k", "v"),
    S("expire", "k", 100),
    S("expire", "k", 50, gt=True),
    S("expire", "k", 50, lt=True),
    S("expire", "k", 10, xx=True),
    S("expire", "k", 10, nx=True),
    S("ttl", "k"),
    S("expire", "missing", 10),
    S("expire", "k", DAY),
    S("ttl", "k"),
    S("pexpire", "k", 100000),
    S("pexpire", "k", datetime.timedelta(seconds=200)),
    S("pttl", "k", _view=_near(200000, 1000)),
    S("pexpire", "k", 10, nx=True),
    S("expireat", "k", WHEN),
    S("expiretime", "k"),
    S("expireat", "k", 4102444800),
    S("expireat", "k", WHEN, xx=True),
    S("pexpireat", "k", WHEN),
    S("pexpiretime", "k"),
    S("pexpireat", "k", 4102444800123, lt=True),
    S("pexpiretime", "k"),
    S("persist", "k"),
    S("persist", "k"),
    S("ttl", "k"),
    S("pttl", "k"),
    S("ttl", "missing"),
    S("expiretime", "missing"),
)
case("expire-error", S("set", "k", "v"), S("expire", "k", "soon"))
case("expire-error-flags", S("set", "k", "v"), S("expire", "k", 10, nx=True, xx=True))
case(
    "rename-copy-move",
    S("set", "a", 1),
    S("rename", "a", "b"),
    S("renamenx", "b", "c"),
    S("set", "d", 2),
    S("renamenx", "c", "d"),
    S("copy", "c", "e"),
    S("copy", "c", "d"),
    S("copy", "c", "d", replace=True),
    S("copy", "c", "other-db", destination_db=1),
    S("move", "d", 2),
    S("move", "d", 2),
    S("exists", "d"),
    S("mget", "a", "b", "c", "d", "e"),
)
case("rename-error", S("rename", "missing", "x"))
case(
    "dump-restore",
    S("rpush", "l", "a", "b"),
    S("dump", "l", _view=lambda d: [type(d).__name__, len(d) > 10]),
    S("dump", "missing"),
    S("restore_dump_of", "l", "l2", 0),
    S("lrange", "l2", 0, -1),
    S("restore_dump_of", "l", "l2", 100000, replace=True),
    S("pttl", "l2", _view=_near(100000, 1000)),
    S("restore_dump_of", "l", "l3", 4102444800000, absttl=True, idletime=10),
    S("pexpiretime", "l3"),
    S("restore_dump_of", "l", "l4", 0, frequency=5),
    S("lrange", "l4", 0, -1),
    S("restore_dump_of", "l", "l2", 0),
    pipeline=False,
)
case("restore-error-idletime", S("restore", "k", 0, b"x", idletime="soon"))
case("restore-error", S("restore", "k", 0, b"garbage"))
case("restore-error-busykey", S("set", "k", 1), S("restore", "k", 0, b"garbage"))
case(
    "sort",
    S("rpush", "l", 3, 1, 2),
    S("sort", "l"),
    S("sort", "l", desc=True),
    S("sort", "l", start=0, num=2),
    S(
        "mset",
        {"w_1": 30, "w_2": 20, "w_3": 10, "o_1": "one", "o_2": "two", "o_3": "three"},
    ),
    S("sort", "l", by="w_*"),
    S("sort", "l", get="o_*"),
    S("sort", "l", get=["#", "o_*"], groups=True),
    S("sort", "l", by="w_*", get=["o_*"], alpha=True),
    S("sort", "l", store="sorted"),
    S("lrange", "sorted", 0, -1),
    S("rpush", "words", "b", "a"),
    S("sort", "words", alpha=True),
    S("sort_ro", "l", desc=True),
)
case("sort-error-limit", S("sort", "l", start=1))
case("sort-error-groups", S("sort", "l", get="o_*", groups=True))
case("sort-error-alpha", S("rpush", "w", "x", "y"), S("sort", "w"))

# scans
case(
    "scans",
    S("mset", {"a1": 1, "a2": 2, "b1": 3}),
    S("scan", _view=lambda r: [r[0], sorted(r[1])]),
    S("scan", 0, match="a*", count=100, _view=lambda r: [r[0], sorted(r[1])]),
    S("scan", 0, _type="string", _view=lambda r: [r[0], sorted(r[1])]),
    S("scan_iter"),
    S("scan_iter", match="a*", count=1),
    S("scan_iter", _type="list"),
    S("sadd", "s", "x", "y", "z"),
    S("sscan", "s", _view=lambda r: [r[0], sorted(r[1])]),
    S("sscan", "s", 0, match="x", count=10),
    S("sscan_iter", "s"),
    S("sscan_iter", "s", match="y"),
    S("hset", "h", mapping={"f1": 1, "f2": 2}),
    S("hscan", "h"),
    S("hscan", "h", 0, match="f1", count=10),
    S("hscan_iter", "h"),
    S("zadd", "z", {"m1": 1, "m2": 2.5}),
    S("zscan", "z"),
    S("zscan", "z", 0, match="m2", score_cast_func=str),
    S("zscan_iter", "z"),
    S("zscan_iter", "z", score_cast_func=int),
    pipeline=False,
)
case(
    "scans-pipelined",
    S("mset", {"a1": 1}),
    S("scan", 0, match="a*"),
    S("sadd", "s", "x"),
    S("sscan", "s"),
    S("hset", "h", "f", 1),
    S("hscan", "h"),
    S("zadd", "z", {"m": 1}),
    S("zscan", "z"),
)
case("hscan-wrongtype", S("set", "k", 1), S("hscan", "k"))

# hashes
case(
    "hashes",
    S("hset", "h", "f", "v"),
    S("hset", "h", mapping={"a": 1, "b": 2.5}),
    S("hset", "h", "c", 3, mapping={"d": 4}, items=["e", 5, "f", "w"]),
    S("hget", "h", "f"),
    S("hget", "h", "missing"),
    S("hmget", "h", ["a", "b", "missing"]),
    S("hmget", "h", "a", "c"),
    S("hgetall", "h"),
    S("hgetall", "missing"),
    S("hlen", "h"),
    S("hkeys", "h"),
    S("hvals", "h"),
    S("hexists", "h", "a"),
    S("hexists", "h", "missing"),
    S("hstrlen", "h", "f"),
    S("hdel", "h", "a", "b", "missing"),
    S("hincrby", "h", "n"),
    S("hincrby", "h", "n", 10),
    S("hincrbyfloat", "h", "x"),
    S("hincrbyfloat", "h", "x", 0.25),
    S("hsetnx", "h", "f", "other"),
    S("hsetnx", "h", "new", "yes"),
    S("hmset", "h", {"m1": 1, "m2": 2}),
    S("hmget", "h", "m1", "m2"),
    S("hrandfield", "single-missing"),
)
case("hset-error", S("hset", "h"))
case("hset-error-none", S("hset", "h", "f", None))
case("hmset-error", S("hmset", "h", {}))
case("hincrby-error", S("hset", "h", "f", "x"), S("hincrby", "h", "f"))
case(
    "hrandfield",
    S("hset", "h", "only", "v"),
    S("hrandfield", "h"),
    S("hrandfield", "h", 1),
    S("hrandfield", "h", 1, withvalues=True),
    S("hrandfield", "h", -2, withvalues=True),
    S("hrandfield", "missing", 2),
)

# lists
case(
    "lists",
    S("lpush", "l", "b", "a"),
    S("rpush", "l", "c", 4),
    S("lpushx", "l", "z"),
    S("lpushx", "missing", "z"),
    S("rpushx", "l", "y"),
    S("rpushx", "missing", "y"),
    S("lrange", "l", 0, -1),
    S("llen", "l"),
    S("lindex", "l", 1),
    S("lindex", "l", 100),
    S("linsert", "l", "BEFORE", "c", "bc"),
    S("linsert", "l", "after", "c", "cd"),
    S("linsert", "l", "AFTER", "nope", "x"),
    S("lset", "l", 0, "first"),
    S("lrem", "l", 0, "y"),
    S("lpos", "l", "c"),
    S("lpos", "l", "missing"),
    S("rpush", "l", "c", "c"),
    S("lpos", "l", "c", rank=2),
    S("lpos", "l", "c", count=0),
    S("lpos", "l", "c", count=2, maxlen=100),
    S("ltrim", "l", 0, 5),
    S("lrange", "l", 0, -1),
    S("lpop", "l"),
    S("rpop", "l"),
    S("lpop", "l", 2),
    S("rpop", "l", 1),
    S("lpop", "missing"),
    S("lpop", "missing", 2),
    S("rpush", "src", 1, 2, 3),
    S("rpoplpush", "src", "dst"),
    S("lmove", "src", "dst"),
    S("lmove", "src", "dst", "RIGHT", "LEFT"),
    S("lmove", "src", "dst"),
    S("lrange", "dst", 0, -1),
)
case("lset-error", S("rpush", "l", 1), S("lset", "l", 5, "x"))
case("lpush-wrongtype", S("set", "k", 1), S("lpush", "k", 1))
case("linsert-error", S("rpush", "l", 1), S("linsert", "l", "MIDDLE", 1, 2))
case(
    "lmpop",
    S("rpush", "a", 1, 2, 3),
    S("lmpop", 2, "missing", "a", direction="LEFT"),
    S("lmpop", 1, "a", direction="RIGHT", count=5),
    S("lmpop", 1, "a", direction="RIGHT"),
)
case(
    "blocking-lists",
    S("rpush", "a", 1, 2, 3, 4, 5, 6),
    S("blpop", "a"),
    S("blpop", ["missing", "a"], timeout=1),
    S("brpop", "a", 1),
    S("brpop", ["a"], None),
    S("blpop", "missing", timeout=0.01),
    S("brpop", "missing", timeout=0.01),
    S("brpoplpush", "a", "dst"),
    S("brpoplpush", "missing", "dst", timeout=0.01),
    S("blmove", "dst", "a", 1),
    S("blmove", "dst", "a", 0.01, "RIGHT", "LEFT"),
    S("blmove", "missing", "a", 0.01),
    S("blmpop", 0.01, 2, "missing", "a", direction="LEFT"),
    S("blmpop", 0.01, 1, "a", direction="LEFT", count=None),
    S("blmpop", 0.01, 1, "missing", direction="LEFT", count=2),
    S("lrange", "a", 0, -1),
)
case("blpop-error", S("set", "k", 1), S("blpop", "k", 1))
case("blpop-error-timeout", S("blpop", "k", -1))

# sets
case(
    "sets",
    S("sadd", "s", "a", "b", "c"),
    S("sadd", "s", "a"),
    S("smembers", "s"),
    S("smembers", "missing"),
    S("sismember", "s", "a"),
    S("sismember", "s", "z"),
    S("smismember", "s", ["a", "z", "c"]),
    S("smismember", "s", "a", "z"),
    S("scard", "s"),
    S("sadd", "t", "b", "c", "d"),
    S("sinter", "s", "t"),
    S("sinter", ["s", "t"]),
    S("sunion", ["s"], "t"),
    S("sdiff", "s", "t"),
    S("sdiff", "missing", "s"),
    S("sinterstore", "i", "s", "t"),
    S("sunionstore", "u", ["s", "t"]),
    S("sdiffstore", "d", "s", "t"),
    S("smembers", "d"),
    S("sintercard", 2, ["s", "t"]),
    S("sintercard", 2, ["s", "t"], limit=1),
    S("smove", "s", "t", "a"),
    S("smove", "s", "t", "nope"),
    S("srem", "t", "a", "zz"),
    S("sadd", "one", "x"),
    S("spop", "one"),
    S("spop", "one"),
    S("sadd", "one", "x"),
    S("spop", "one", 5),
    S("spop", "one", 1),
    S("sadd", "one", "y"),
    S("srandmember", "one"),
    S("srandmember", "one", 3),
    S("srandmember", "one", -2),
    S("srandmember", "missing"),
    S("srandmember", "missing", 2),
)
case("sadd-wrongtype", S("set", "k", 1), S("sadd", "k", 1))
case("smembers-wrongtype", S("set", "k", 1), S("smembers", "k"))

# sorted sets
case(
    "zadd-family",
    S("zadd", "z", {"a": 1, "b": 2.5, "c": 3}),
    S("zadd", "z", {"a": 5}, nx=True),
    S("zadd", "z", {"a": 5, "d": 4}, xx=True, ch=True),
    S("zadd", "z", {"a": 1}, gt=True, ch=True),
    S("zadd", "z", {"a": 1}, lt=True, ch=True),
    S("zadd", "z", {"a": 2}, incr=True),
    S("zadd", "z", {"new": 2}, xx=True, incr=True),
    S("zadd", "z", {"e": "7"}),
    S("zcard", "z"),
    S("zcount", "z", 2, 4),
    S("zcount", "z", "(2", "+inf"),
    S("zscore", "z", "b"),
    S("zscore", "z", "missing"),
    S("zmscore", "z", ["a", "missing", "c"]),
    S("zincrby", "z", 1.5, "a"),
    S("zincrby", "z", 2, "fresh"),
    S("zrank", "z", "a"),
    S("zrank", "z", "missing"),
    S("zrevrank", "z", "a"),
    S("zrem", "z", "fresh", "missing"),
    S("zrange", "z", 0, -1, withscores=True),
)
case("zadd-error-empty", S("zadd", "z", {}))
case("zadd-error-nx-xx", S("zadd", "z", {"a": 1}, nx=True, xx=True))
case("zadd-error-gt-lt", S("zadd", "z", {"a": 1}, gt=True, lt=True))
case("zadd-error-incr", S("zadd", "z", {"a": 1, "b": 2}, incr=True))
case("zadd-error-nx-gt", S("zadd", "z", {"a": 1}, nx=True, gt=True))
case("zadd-error-score", S("zadd", "z", {"a": "high"}))
case("zmscore-error", S("zmscore", "z", []))
case(
    "zrange-family",
    S("zadd", "z", {"a": 1, "b": 2, "c": 3, "d": 4}),
    S("zrange", "z", 0, -1),
    S("zrange", "z", 0, 1, withscores=True),
    S("zrange", "z", 0, 1, desc=True),
    S("zrange", "z", 0, -1, desc=True, withscores=True),
    S("zrange", "z", 0, -1, withscores=True, score_cast_func=int),
    S("zrange", "z", 2, 3, byscore=True),
    S("zrange", "z", "(1", "+inf", byscore=True, offset=1, num=1),
    S("zrange", "z", "[a", "[c", bylex=True),
    S("zrange", "z", "[c", "[a", bylex=True, desc=True),
    S("zrange", "z", 0, 1, use_rev=True, desc=True),
    S("zrange", "missing", 0, -1, withscores=True),
    S("zrevrange", "z", 0, 1),
    S("zrevrange", "z", 0, 1, withscores=True),
    S("zrevrange", "z", 0, 1, True, str),
    S("zrangebyscore", "z", 2, 3),
    S("zrangebyscore", "z", "-inf", "+inf", start=1, num=2, withscores=True),
    S("zrangebyscore", "z", 1, 2, withscores=True, score_cast_func=int),
    S("zrevrangebyscore", "z", 3, 2),
    S("zrevrangebyscore", "z", "+inf", "-inf", 0, 1, True),
    S("zrangebylex", "z", "-", "+"),
    S("zrangebylex", "z", "[b", "+", start=0, num=1),
    S("zrevrangebylex", "z", "+", "-"),
    S("zrevrangebylex", "z", "[c", "-", 1, 1),
    S("zlexcount", "z", "-", "+"),
    S("zrangestore", "dst", "z", 0, 1),
    S("zrangestore", "dst", "z", 2, 3, byscore=True),
    S("zrangestore", "dst", "z", "[a", "[b", bylex=True, desc=False),
    S("zrangestore", "dst", "z", 0, 1, desc=True, byscore=False, offset=None, num=None),
    S("zrange", "dst", 0, -1),
)
# WITHSCORE needs Redis 7.2: on older servers both raise the same error.
case("zrank-withscore", S("zadd", "z", {"c": 3}), S("zrank", "z", "c", withscore=True))
case(
    "zrevrank-withscore",
    S("zadd", "z", {"c": 3}),
    S("zrevrank", "z", "c", withscore=True),
)
case(
    "zrank-withscore-cast",
    S("zadd", "z", {"c": 3}),
    S("zrank", "z", "missing", withscore=True),
    S("zrank", "z", "c", withscore=True, score_cast_func=int),
)
case("zrange-error-byscore-bylex", S("zrange", "z", 0, 1, byscore=True, bylex=True))
case("zrange-error-offset", S("zrange", "z", 0, 1, byscore=True, offset=1))
case(
    "zrange-error-bylex-withscores",
    S("zrange", "z", "-", "+", bylex=True, withscores=True),
)
case("zrangebyscore-error", S("zrangebyscore", "z", 0, 1, start=1))
case("zrangebylex-error", S("zrangebylex", "z", "-", "+", num=1))
case("zrangebyscore-error-server", S("zrangebyscore", "z", "low", "high"))
case(
    "zremrange",
    S("zadd", "z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}),
    S("zremrangebyrank", "z", 0, 0),
    S("zremrangebyscore", "z", 2, 2),
    S("zremrangebylex", "z", "[c", "[c"),
    S("zrange", "z", 0, -1),
)
case(
    "zpop",
    S("zadd", "z", {"a": 1, "b": 2, "c": 3, "d": 4}),
    S("zpopmin", "z"),
    S("zpopmax", "z"),
    S("zpopmin", "z", 5),
    S("zpopmax", "missing"),
    S("zadd", "y", {"a": 1, "b": 2, "c": 3}),
    S("bzpopmin", "y"),
    S("bzpopmax", ["missing", "y"], 1),
    S("bzpopmin", "missing", timeout=0.01),
    S("zmpop", 2, ["missing", "y"], min=True),
    S("zadd", "y", {"x": 9, "w": 8}),
    S("zmpop", 1, ["y"], max=True, count=5),
    S("zmpop", 1, ["y"], max=True),
    S("zadd", "y", {"x": 9, "w": 8.5}),
    S("bzmpop", 0.01, 1, ["y"], min=True),
    S("bzmpop", 0.01, 1, ["y"], max=True, count=3),
    S("bzmpop", 0.01, 1, ["y"], max=True, count=None),
)
case("zmpop-error", S("zmpop", 1, ["y"]))
case("bzmpop-error", S("bzmpop", 1, 1, ["y"], min=True, max=True))
case(
    "zrandmember",
    S("zadd", "z", {"only": 3}),
    S("zrandmember", "z"),
    S("zrandmember", "z", 1),
    S("zrandmember", "z", 1, withscores=True),
    S("zrandmember", "z", -2, withscores=True),
    S("zrandmember", "missing"),
)
case(
    "zset-algebra",
    S("zadd", "a", {"x": 1, "y": 2, "z": 3}),
    S("zadd", "b", {"y": 10, "z": 20, "w": 30}),
    S("zinter", ["a", "b"]),
    S("zinter", ["a", "b"], withscores=True),
    S("zinter", {"a": 2, "b": 1}, aggregate="MAX", withscores=True),
    S("zunion", ["a", "b"]),
    S("zunion", ["a", "b"], aggregate="min", withscores=True),
    S("zunion", {"a": 1, "b": 0.5}, withscores=True, score_cast_func=int),
    S("zdiff", ["a", "b"]),
    S("zdiff", ["a", "b"], withscores=True),
    S("zinterstore", "i", ["a", "b"]),
    S("zinterstore", "i", {"a": 3, "b": 1}, aggregate="SUM"),
    S("zunionstore", "u", ["a", "b"], aggregate="MAX"),
    S("zunionstore", "u", {"a": 1, "b": 2}),
    S("zdiffstore", "d", ["a", "b"]),
    S("zrange", "i", 0, -1, withscores=True),
    S("zrange", "u", 0, -1, withscores=True),
    S("zintercard", 2, ["a", "b"]),
    S("zintercard", 2, ["a", "b"], limit=1),
)
case("zinter-error-aggregate", S("zinter", ["a", "b"], aggregate="AVG"))
case("zscore-wrongtype", S("set", "k", 1), S("zscore", "k", "m"))

# HyperLogLog
case(
    "hyperloglog",
    S("pfadd", "h", "a", "b", "c"),
    S("pfadd", "h", "a"),
    S("pfadd", "g", "c", "d"),
    S("pfcount", "h"),
    S("pfcount", "h", "g"),
    S("pfmerge", "m", "h", "g"),
    S("pfcount", "m"),
    S("pfcount", "missing"),
)
case("pfadd-wrongtype", S("set", "k", "not a hll"), S("pfcount", "k"))

# geo
PLACES = (13.361389, 38.115556, "Palermo", 15.087269, 37.502669, "Catania")
case(
    "geo",
    S("geoadd", "g", PLACES),
    S("geoadd", "g", (13.361389, 38.115556, "Palermo"), nx=True),
    S("geoadd", "g", (13.4, 38.1, "Palermo"), xx=True, ch=True),
    S("geoadd", "g", PLACES, ch=True),
    S("geodist", "g", "Palermo", "Catania"),
    S("geodist", "g", "Palermo", "Catania", "km"),
    S("geodist", "g", "Palermo", "missing"),
    S("geohash", "g", "Palermo", "Catania", "missing"),
    S("geopos", "g", "Palermo", "missing"),
    S("georadius", "g", 15, 37, 200, "km"),
    S(
        "georadius",
        "g",
        15,
        37,
        200,
        "km",
        withdist=True,
        withcoord=True,
        withhash=True,
    ),
    S("georadius", "g", 15, 37, 200, "km", withdist=True, sort="ASC", count=1),
    S("georadius", "g", 15, 37, 200, "km", count=1, any=True),
    S("georadius", "g", 15, 37, 200, "km", store="stored"),
    S("georadius", "g", 15, 37, 200, "km", store_dist="stored_dist"),
    S("zrange", "stored_dist", 0, -1, withscores=True, score_cast_func=round),
    S("georadiusbymember", "g", "Palermo", 200, unit="km", withcoord=True),
    S("georadiusbymember", "g", "Palermo", 100000, withdist=True, sort="DESC"),
    S("geosearch", "g", member="Palermo", radius=200, unit="km"),
    S(
        "geosearch",
        "g",
        longitude=15,
        latitude=37,
        radius=200,
        unit="km",
        withdist=True,
        withcoord=True,
        withhash=True,
        sort="asc",
    ),
    S(
        "geosearch",
        "g",
        longitude=15,
        latitude=37,
        width=400,
        height=400,
        unit="km",
        count=1,
        any=True,
        withdist=True,
    ),
    S("geosearchstore", "dst", "g", member="Palermo", radius=300, unit="km"),
    S(
        "geosearchstore",
        "dst2",
        "g",
        longitude=15,
        latitude=37,
        radius=300,
        unit="km",
        storedist=True,
        sort="DESC",
        count=2,
    ),
    S("zrange", "dst2", 0, -1),
)
case("geoadd-error-nx-xx", S("geoadd", "g", PLACES, nx=True, xx=True))
case("geoadd-error-values", S("geoadd", "g", (1, 2)))
case("geoadd-error-server", S("geoadd", "g", (500, 100, "x")))
case("geodist-error", S("geodist", "g", "a", "b", "yards"))
case("georadius-error-unit", S("georadius", "g", 1, 2, 3, "yards"))
case("georadius-error-any", S("georadius", "g", 1, 2, 3, any=True))
case("georadius-error-sort", S("georadius", "g", 1, 2, 3, sort="UP"))
case("georadius-error-store", S("georadius", "g", 1, 2, 3, store="a", store_dist="b"))
case("geosearch-error-from", S("geosearch", "g", radius=1))
case(
    "geosearch-error-both",
    S("geosearch", "g", member="a", longitude=1, latitude=2, radius=1),
)
case("geosearch-error-shape", S("geosearch", "g", member="a"))
case("geosearch-error-unit", S("geosearch", "g", member="a", radius=1, unit="yards"))
case(
    "geosearch-error-radius-box",
    S("geosearch", "g", member="a", radius=1, width=1, height=1),
)
case("geosearch-error-sort", S("geosearch", "g", member="a", radius=1, sort="UP"))
case("geosearch-error-any", S("geosearch", "g", member="a", radius=1, any=True))
case("geosearch-error-unit-none", S("geosearch", "g", member="a", radius=1, unit=None))

# streams
case(
    "streams",
    S("xadd", "s", {"f": "v1"}, id="1-0"),
    S("xadd", "s", {"f": "v2", "g": 2}, id="2-0"),
    S("xadd", "s", {"f": "v3"}, id=3),
    S("xadd", "s", {"f": "v4"}, id="4-0", maxlen=10),
    S("xadd", "s", {"f": "v5"}, id="5-0", maxlen=3, approximate=False),
    S("xadd", "s", {"f": "v6"}, id="6-0", minid="4-0", approximate=False),
    S("xadd", "s", {"f": "v7"}, id="7-0", maxlen=100, limit=10),
    S("xadd", "missing", {"f": "v"}, nomkstream=True),
    S("xlen", "s"),
    S("xlen", "missing"),
    S("xrange", "s"),
    S("xrange", "s", "5-0", "+", count=1),
    S("xrange", "s", min="5", max="6"),
    S("xrevrange", "s"),
    S("xrevrange", "s", "+", "-", 2),
    S("xrange", "missing"),
    S("xdel", "s", "5-0", "99-0"),
    S("xtrim", "s", maxlen=1, approximate=False),
    S("xtrim", "s", minid="7-0"),
    S("xtrim", "s", maxlen=10, limit=10),
    S("xrange", "s"),
)
case(
    "stream-read",
    S("xadd", "a", {"f": 1}, id="1-0"),
    S("xadd", "a", {"f": 2}, id="2-0"),
    S("xadd", "b", {"g": 3}, id="1-1"),
    S("xread", {"a": 0}),
    S("xread", {"a": "1-0", "b": "0-0"}, count=1),
    S("xread", {"a": "$"}, block=10),
    S("xread", {"missing": 0}),
    S("xread", {"a": 0, "b": 0}, block=0),
)
case(
    "consumer-groups",
    S("xadd", "s", {"f": "v1"}, id="1-0"),
    S("xadd", "s", {"f": "v2"}, id="2-0"),
    S("xadd", "s", {"f": "v3"}, id="3-0"),
    S("xgroup_create", "s", "g", id="0"),
    S("xgroup_create", "new", "g2", mkstream=True),
    S("xgroup_create", "s", "g3", id="$", entries_read=2),
    S("xgroup_createconsumer", "s", "g", "c1"),
    S("xgroup_createconsumer", "s", "g", "c1"),
    S("xreadgroup", "g", "c1", {"s": ">"}, count=1),
    S("xreadgroup", "g", "c2", {"s": ">"}),
    S("xreadgroup", "g", "c2", {"s": ">"}, block=10),
    S("xreadgroup", "g", "c2", {"s": "0"}, noack=True),
    S("xpending", "s", "g"),
    S("xpending", "s", "g3"),
    S("xpending_range", "s", "g", "-", "+", 10, _view=_without("time_since_delivered")),
    S(
        "xpending_range",
        "s",
        "g",
        "-",
        "+",
        10,
        consumername="c1",
        idle=0,
        _view=_without("time_since_delivered"),
    ),
    S("xpending_range", "s", "g", None, None, None),
    S("xclaim", "s", "g", "c3", 0, ["1-0"]),
    S("xclaim", "s", "g", "c3", 0, ("2-0",), justid=True),
    S("xclaim", "s", "g", "c3", 0, ["3-0"], idle=5, retrycount=3, force=True),
    S("xclaim", "s", "g", "c3", 0, ["1-0"], time=1000),
    S("xautoclaim", "s", "g", "c4", 0),
    S("xautoclaim", "s", "g", "c4", 0, start_id="2-0", count=1),
    S("xautoclaim", "s", "g", "c4", 0, justid=True),
    S("xack", "s", "g", "1-0", "2-0", "9-0"),
    S("xinfo_groups", "s", _view=_without()),
    S("xinfo_consumers", "s", "g", _view=_without("idle", "inactive")),
    S("xinfo_stream", "s"),
    S(
        "xinfo_stream",
        "s",
        full=True,
        _view=lambda d: {k: v for k, v in d.items() if k != "groups"},
    ),
    S("xinfo_stream", "new"),
    S("xgroup_setid", "s", "g", "0"),
    S("xgroup_setid", "s", "g", "$", entries_read=3),
    S("xgroup_delconsumer", "s", "g", "c1"),
    S("xgroup_destroy", "s", "g"),
    S("xgroup_destroy", "s", "g"),
)
case(
    "xgroup-create-busygroup",
    S("xgroup_create", "s", "g", mkstream=True),
    S("xgroup_create", "s", "g"),
)
case("xgroup-create-error-nostream", S("xgroup_create", "missing", "g"))
case("xadd-error-fields", S("xadd", "s", {}))
case("xadd-error-maxlen-minid", S("xadd", "s", {"f": 1}, maxlen=1, minid="1-0"))
case("xadd-error-maxlen", S("xadd", "s", {"f": 1}, maxlen=-1))
case(
    "xadd-error-id",
    S("xadd", "s", {"f": 1}, id="2-0"),
    S("xadd", "s", {"f": 1}, id="1-0"),
)
case("xadd-error-idmp-both", S("xadd", "s", {"f": 1}, idmpauto="p", idmp=("p", b"1")))
case("xadd-error-idmp-id", S("xadd", "s", {"f": 1}, id="1-0", idmpauto="p"))
case("xadd-error-idmp-tuple", S("xadd", "s", {"f": 1}, idmp=["p", b"1"]))
case("xadd-error-ref-policy", S("xadd", "s", {"f": 1}, ref_policy="KEEP"))
# Redis 8.2+ options: on older servers both raise the server's syntax error.
case("xadd-ref-policy", S("xadd", "s", {"f": 1}, id="1-0", ref_policy="KEEPREF"))
case("xadd-idmp", S("xadd", "s", {"f": 1}, idmp=("p", b"1")))
case("xadd-idmpauto", S("xadd", "s", {"f": 1}, idmpauto="p", maxlen=5))
case(
    "xtrim-ref-policy",
    S("xadd", "s", {"f": 1}, id="1-0"),
    S("xtrim", "s", 5, ref_policy="DELREF"),
)
case("xtrim-error-ref-policy", S("xtrim", "s", 5, ref_policy="nope"))
case("xtrim-error-none", S("xtrim", "s"))
case("xtrim-error-both", S("xtrim", "s", maxlen=1, minid="1-0"))
case("xrange-error-count", S("xrange", "s", count=0))
case("xrevrange-error-count", S("xrevrange", "s", count=-1))
case("xread-error-block", S("xread", {"s": 0}, block=-1))
case("xread-error-count", S("xread", {"s": 0}, count=0))
case("xread-error-streams", S("xread", {}))
case("xread-error-max-count", S("xread", {"s": 0}, count=5, max_count=2))
case("xreadgroup-error-count", S("xreadgroup", "g", "c", {"s": ">"}, count=0))
case("xreadgroup-error-block", S("xreadgroup", "g", "c", {"s": ">"}, block="soon"))
case("xreadgroup-error-streams", S("xreadgroup", "g", "c", []))
case(
    "xreadgroup-error-nogroup",
    S("xadd", "s", {"f": 1}, id="1-0"),
    S("xreadgroup", "g", "c", {"s": ">"}),
)
case(
    "xreadgroup-error-claim",
    S("xreadgroup", "g", "c", {"s": ">"}, claim_min_idle_time=-1),
)
case("xclaim-error-idle-time", S("xclaim", "s", "g", "c", -1, ["1-0"]))
case("xclaim-error-ids", S("xclaim", "s", "g", "c", 0, []))
case("xclaim-error-idle", S("xclaim", "s", "g", "c", 0, ["1-0"], idle="5"))
case("xclaim-error-justid", S("xclaim", "s", "g", "c", 0, ["1-0"], justid=1))
case("xautoclaim-error", S("xautoclaim", "s", "g", "c", -1))
case("xautoclaim-error-count", S("xautoclaim", "s", "g", "c", 0, count=-1))
case("xpending-range-error-partial", S("xpending_range", "s", "g", "-", None, 10))
case(
    "xpending-range-error-consumer",
    S("xpending_range", "s", "g", None, None, None, consumername="c"),
)
case("xpending-range-error-idle", S("xpending_range", "s", "g", "-", "+", 1, idle=-1))
case("xinfo-stream-error", S("xinfo_stream", "missing"))

# scripting
case(
    "eval",
    S("set", "k", 5),
    S("eval", LUA_SUM, 1, "k", 10),
    S("eval", "return {1, 'two', {3}, false}", 0),
    S("eval", "return redis.status_reply('FINE')", 0),
    S("eval", "return 3.7", 0),
    S("eval", "return nil", 0),
    S("eval_ro", "return redis.call('GET', KEYS[1])", 1, "k"),
    S("script_load", LUA_SUM),
    S("script_exists", SUM_SHA, "0" * 40),
    S("evalsha", SUM_SHA, 1, "k", 1),
    S("evalsha_ro", SUM_SHA, 1, "k", 2),
    S("script_flush"),
    S("script_exists", SUM_SHA),
    S("script_flush", "ASYNC"),
    S("script_flush", sync_type="SYNC"),
)
case("eval-error-lua", S("eval", "return redis.call('NOSUCH')", 0))
case("eval-error-syntax", S("eval", "return +", 0))
case("eval-error-numkeys", S("eval", "return 1", 5, "a"))
case("eval-error-value", S("eval", "return redis.error_reply('MY failure')", 0))
case(
    "eval-ro-error-write", S("eval_ro", "return redis.call('SET', KEYS[1], 1)", 1, "k")
)
case("evalsha-noscript", S("evalsha", "0" * 40, 0))
case("script-flush-error", S("script_flush", "LATER"))
case("script-kill-notbusy", S("script_kill"))
case(
    "register-script",
    S("set", "k", 1),
    S("register_script", LUA_SUM),
    S("register_script", "return redis.call('INCRBY', KEYS[1], ARGV[1])"),
    pipeline=False,
)

# execute_command: redis-py's conversions by command name
case(
    "execute-command",
    S("execute_command", "SET", "k", "v"),
    S("execute_command", "set", "k", "w", "GET"),
    S("execute_command", "SET", "k", "v", "NX"),
    S("execute_command", "GET", "k"),
    S("execute_command", "INCRBYFLOAT", "f", 1.5),
    S("execute_command", "EXPIRE", "k", 100),
    S("execute_command", "HSET", "h", "a", 1),
    S("execute_command", "HGETALL", "h"),
    S("execute_command", "HEXISTS", "h", "a"),
    S("execute_command", "SADD", "s", "x", "y"),
    S("execute_command", "SMEMBERS", "s"),
    S("execute_command", "SISMEMBER", "s", "x"),
    S("execute_command", "ZADD", "z", 1, "a", 2, "b"),
    S("execute_command", "ZRANGE", "z", 0, -1, "WITHSCORES", withscores=True),
    S("execute_command", "ZSCORE", "z", "a"),
    S("execute_command", "ZPOPMIN", "z"),
    S("execute_command", "LPUSH", "l", "x"),
    S("execute_command", "LSET", "l", 0, "y"),
    S("execute_command", "BLPOP", "l", 1),
    S("execute_command", "MSET", "a", 1, "b", 2),
    S("execute_command", "MSETNX", "a", 1),
    S("execute_command", "RENAME", "a", "c"),
    S("execute_command", "TIME", _view=_kinds),
    S("execute_command", "PING"),
    S("execute_command", "SCAN", 0, "MATCH", "c"),
    S("execute_command", "TYPE", "c"),
    S("execute_command", "XADD", "st", "1-0", "f", "v"),
    S("execute_command", "XRANGE", "st", "-", "+"),
    S("execute_command", "XINFO STREAM", "st"),
    S("execute_command", "XREAD", "STREAMS", "st", 0),
    S("execute_command", "XGROUP CREATE", "st", "g", 0),
    S("execute_command", "XGROUP", "DESTROY", "st", "g"),
    S("execute_command", "GEOADD", "geo", 13.361389, 38.115556, "Palermo"),
    S("execute_command", "GEOPOS", "geo", "Palermo"),
    S("execute_command", "GEOHASH", "geo", "Palermo"),
    S("execute_command", "GEODIST", "geo", "Palermo", "Palermo"),
    S(
        "execute_command",
        "GEOSEARCH",
        "geo",
        "FROMMEMBER",
        "Palermo",
        "BYRADIUS",
        1,
        "km",
        "WITHDIST",
    ),
    S("execute_command", "SCRIPT LOAD", "return 1"),
    S("execute_command", "SCRIPT", "EXISTS", ONE_SHA),
    # avg_ttl is the server's running estimate: it moves between runs.
    S(
        "execute_command",
        "INFO",
        "keyspace",
        _view=lambda i: {k: _without("avg_ttl")(v) for k, v in i.items()},
    ),
    S("execute_command", "DBSIZE"),
    S("execute_command", "OBJECT", "ENCODING", "c"),
    S("execute_command", b"GET", "c"),
    S("execute_command", "FLUSHDB"),
)
case("execute-command-error", S("execute_command", "GET"))
case("execute-command-unknown", S("execute_command", "NOSUCHCOMMAND", "x"))
case("execute-command-wrongtype", S("rpush", "l", 1), S("execute_command", "GET", "l"))
case("execute-command-none-arg", S("execute_command", "SET", "k", None))

# arguments that are not bytes/str/int/float, and redis-py's argument forms
case(
    "argument-encoding",
    S("set", "k", memoryview(b"mv")),
    S("get", memoryview(b"k")),
    S("set", b"bk", bytearray(b"ba")),
    S("get", "bk"),
    S("set", "big", 2**70),
    S("get", "big"),
    S("set", "neg", -1.25e-10),
    S("get", "neg"),
    S("set", "uni", "\u00e9\u6f22"),
    S("get", "uni"),
    S("rpush", "l", 1, 2.5, b"3", "4"),
    S("lrange", "l", 0, -1),
)
case("argument-error-dict", S("rpush", "l", {"a": 1}))
case("argument-error-list-value", S("set", "k", [1, 2]))

# Commands of Redis 7.4 and 8.x: a Redis 7.0 server rejects them, and its message repeats
# the first arguments, so these check the arguments (and every client-side check).


class Persist(enum.Enum):
    """Like redis-py's DataPersistOptions & co. (both sides only read ``.value``)."""

    FNX = "FNX"
    MNX = "MNX"
    NX = "NX"


case("hexpire", S("hexpire", "h", 100, "a", "b", nx=True))
case("hexpire-timedelta", S("hexpire", "h", DAY, "a"))
case("hexpire-error-flags", S("hexpire", "h", 100, "a", nx=True, xx=True))
case("hpexpire", S("hpexpire", "h", datetime.timedelta(seconds=2), "a", gt=True))
case("hexpireat", S("hexpireat", "h", WHEN, "a", lt=True))
case("hpexpireat", S("hpexpireat", "h", WHEN, "a", "b"))
case("hpexpireat-error-flags", S("hpexpireat", "h", 1, "a", gt=True, lt=True))
case("hpersist", S("hpersist", "h", "a", "b"))
case("hexpiretime", S("hexpiretime", "h", "a"))
case("hpexpiretime", S("hpexpiretime", "h", "a", "b"))
case("httl", S("httl", "h", "a"))
case("hpttl", S("hpttl", "h", "a", "b"))
case("hgetdel", S("hgetdel", "h", "a", "b"))
case("hgetdel-error", S("hgetdel", "h"))
case("hgetex", S("hgetex", "h", "a", ex=100))
case("hgetex-persist", S("hgetex", "h", "a", "b", persist=True))
case("hgetex-error", S("hgetex", "h"))
case("hgetex-error-exclusive", S("hgetex", "h", "a", px=1, persist=True))
case("hsetex", S("hsetex", "h", "a", 1, mapping={"b": 2}, items=["c", 3], ex=100))
case(
    "hsetex-options",
    S("hsetex", "h", "a", 1, data_persist_option=Persist.FNX, keepttl=True),
)
case("hsetex-error", S("hsetex", "h"))
case("hsetex-error-items", S("hsetex", "h", items=["a"]))
case("hsetex-error-exclusive", S("hsetex", "h", "a", 1, ex=1, keepttl=True))
case("saddex", S("saddex", "s", "a", "b", ex=100, data_persist_option=Persist.MNX))
case("saddex-error", S("saddex", "s", "a", px=1, pxat=2))
case("sexpire", S("sexpire", "s", 100, "a", "b", xx=True))
case("sexpire-error-flags", S("sexpire", "s", 100, "a", nx=True, gt=True))
case("spexpire", S("spexpire", "s", 100, "a"))
case("sexpireat", S("sexpireat", "s", WHEN, "a"))
case("spexpireat", S("spexpireat", "s", WHEN, "a", lt=True))
case("spersist", S("spersist", "s", "a"))
case("sexpiretime", S("sexpiretime", "s", "a", "b"))
case("spexpiretime", S("spexpiretime", "s", "a"))
case("sttl", S("sttl", "s", "a"))
case("spttl", S("spttl", "s", "a"))
case("sdiffcard", S("sdiffcard", 2, ["a", "b"], limit=3))
case("sunioncard", S("sunioncard", 2, ["a", "b"], approx=True))
case("delex", S("delex", "k", ifeq="v"))
case("delex-plain", S("delex", "k"))
case("delex-error", S("delex", "k", ifeq="v", ifne="w"))
case("digest", S("digest", "k"))
case(
    "increx",
    S("increx", "k", byfloat=1.5, lbound=0, ubound=10, saturate=True, ex=100, enx=True),
)
case("increx-byint", S("increx", "k", byint=2, persist=True))
case("increx-error-by", S("increx", "k", byfloat=1.5, byint=1))
case("increx-error-exclusive", S("increx", "k", ex=1, persist=True))
case("increx-error-enx", S("increx", "k", enx=True))
case("msetex", S("msetex", {"a": 1, "b": 2}, data_persist_option=Persist.NX, px=100000))
case("msetex-error", S("msetex", {"a": 1}, ex=1, keepttl=True))
case("lmovem", S("lmovem", "a", "b", "RIGHT", "LEFT", count=2, ordering="OBO"))
case("lmovem-error-count", S("lmovem", "a", "b", mode="EXACTLY"))
case("lmovem-error-ordering", S("lmovem", "a", "b", count=2))
case("blmovem", S("blmovem", "a", "b", 0.01, count=2, mode="EXACTLY", ordering="BULK"))
case("zmove", S("zmove", "a", "b", min=True, count=2))
case("zmove-byscore", S("zmove", "a", "b", byscore=(1, "(5")))
case("zmove-error", S("zmove", "a", "b", min=True, byscore=(1, 2)))
case("bzmove", S("bzmove", "a", "b", 0.01, max=True))
case("bzmove-error", S("bzmove", "a", "b", 1))
case("zmovemember", S("zmovemember", "a", "b", ["m", "n"], xx=True))
case("zmovemember-one", S("zmovemember", "a", "b", "m"))
case("zmovemember-error", S("zmovemember", "a", "b", "m", nx=True, xx=True))
case("xackdel", S("xackdel", "s", "g", "1-0", "2-0", ref_policy="ACKED"))
case("xackdel-error-ids", S("xackdel", "s", "g"))
case("xackdel-error-policy", S("xackdel", "s", "g", "1-0", ref_policy="ALL"))
case("xdelex", S("xdelex", "s", "1-0"))
case("xdelex-error-ids", S("xdelex", "s"))
case("xdelex-error-policy", S("xdelex", "s", "1-0", ref_policy="x"))
case("xnack", S("xnack", "s", "g", "FAIL", "1-0", retrycount=2, force=True))
case("xnack-error-ids", S("xnack", "s", "g", "FAIL"))
case("xnack-error-mode", S("xnack", "s", "g", "LOUD", "1-0"))
case("xnack-error-retrycount", S("xnack", "s", "g", "FAIL", "1-0", retrycount=-1))
case("xcfgset", S("xcfgset", "s", idmp_duration=10, idmp_maxsize=100))
case("xcfgset-error", S("xcfgset", "s"))
case("xcfgset-error-duration", S("xcfgset", "s", idmp_duration=301))
case("xcfgset-error-maxsize", S("xcfgset", "s", idmp_maxsize=0))
case("bitrangeintarray", S("bitrangeintarray", "k", 0, 10, "BIT", limit=5, zeros=True))
