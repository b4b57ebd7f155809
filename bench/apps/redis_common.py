"""Shared by the `bench redis` programs: settings, keys and values, the pub/sub bookkeeping,
the checks and the result line.

`cargo xtask bench redis` sets BENCH_REDIS_URL, BENCH_CASE (a or b), BENCH_OPS,
BENCH_CONCURRENCY, BENCH_WARMUP, BENCH_MESSAGES, BENCH_SUBSCRIBERS and BENCH_BURST and reads
the `BENCH_RESULT ...` line each program prints last.

- (a) GET/SET: BENCH_OPS commands from BENCH_CONCURRENCY concurrent callers, alternating
  ``SET k v`` / ``GET k`` (50/50; 100-byte values, a key per pair); every GET must return
  the value just set. BENCH_WARMUP untimed commands first, with the same callers.
- (b) pub/sub: BENCH_SUBSCRIBERS subscribers on one channel, one publisher in the same
  process. Once every subscriber has seen a probe message (so all are subscribed), the
  publisher sends one untimed burst and then BENCH_MESSAGES timed messages in bursts of
  BENCH_BURST; after each burst it waits until every subscriber has received it (the
  subscriber that completes a burst wakes it), so the figures are for a bounded backlog,
  not a queue drain. Each
  body carries its sequence number and ``time.perf_counter_ns()`` at publish; subscribers
  take their latency on receipt and check that they get every message, in order.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Union

CHANNEL = "puff-bench"
VALUE_LEN = 100
TIMEOUT_S = 30.0  # longest wait for a message (or for the subscriptions)
RECEIVE_MS = (
    200  # a subscriber's receive timeout: how often it checks for a stalled run
)


@dataclass
class Settings:
    url: str
    case: str
    ops: int
    concurrency: int
    warmup: int
    messages: int
    subscribers: int
    burst: int


def settings() -> Settings:
    env = os.environ.get
    return Settings(
        url=env("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        case=env("BENCH_CASE", "a"),
        ops=int(env("BENCH_OPS", "100000")),
        concurrency=max(1, int(env("BENCH_CONCURRENCY", "100"))),
        warmup=int(env("BENCH_WARMUP", "2000")),
        messages=max(1, int(env("BENCH_MESSAGES", "2000"))),
        subscribers=max(1, int(env("BENCH_SUBSCRIBERS", "100"))),
        burst=max(1, int(env("BENCH_BURST", "20"))),
    )


class Counter:
    """Counts errors, keeps the first one."""

    def __init__(self) -> None:
        self.errors = 0
        self.first_error = ""

    def error(self, what: str) -> None:
        self.errors += 1
        if not self.first_error:
            self.first_error = what.replace("\n", " ")[:300]


# ---- (a) GET/SET ---------------------------------------------------------------------


def value_of(key: str) -> bytes:
    return f"{key}:".encode().ljust(VALUE_LEN, b"v")


def work(s: Settings, ops: int, tag: str) -> list[list[tuple[str, bytes]]]:
    """The (key, value) pairs of each caller: ``ops`` commands in all, one SET and one GET
    per pair, split evenly between the callers (built before the clock starts)."""
    keys = [f"puff-bench:{tag}:{i}" for i in range(max(1, ops // 2))]
    return [
        [(k, value_of(k)) for k in keys[c :: s.concurrency]]
        for c in range(s.concurrency)
    ]


def check_set(reply: object, key: str, counter: Counter) -> None:
    if reply is not True:
        counter.error(f"SET {key}: {reply!r}")


def check_get(reply: object, key: str, value: bytes, counter: Counter) -> None:
    if reply != value:
        counter.error(f"GET {key}: {reply!r}")


async def agetset_round(
    client: object, plan: list[list[tuple[str, bytes]]], counter: Counter
) -> None:
    """One round of (a) from coroutines, a caller per list of ``plan``: ``client`` is
    Puff's ``global_redis`` (asyncio = true) or a ``redis.asyncio.Redis``."""

    async def caller(mine: list[tuple[str, bytes]]) -> None:
        for key, value in mine:
            try:
                check_set(await client.set(key, value), key, counter)  # type: ignore[attr-defined]
                check_get(await client.get(key), key, value, counter)  # type: ignore[attr-defined]
            except Exception as e:  # noqa: BLE001 - counted and reported
                counter.error(repr(e))

    await asyncio.gather(*(caller(mine) for mine in plan))


def commands(plan: list[list[tuple[str, bytes]]]) -> int:
    return 2 * sum(len(p) for p in plan)


# ---- (b) pub/sub ---------------------------------------------------------------------


def message(seq: int) -> bytes:
    """Message ``seq`` (-1: a probe), stamped now."""
    return f"{seq}:{time.perf_counter_ns()}:".encode().ljust(VALUE_LEN, b"m")


@dataclass
class Board:
    """What the subscribers and the publisher share (one thread: no locks needed)."""

    s: Settings
    probed: int = 0  # subscribers that have seen a probe
    received: int = 0  # sequenced messages received, all subscribers
    start_ns: int = 0  # when the first timed message was published
    last_ns: int = 0  # when the last message of the run arrived
    aborted: bool = False
    counter: Counter = field(default_factory=Counter)
    latencies_ns: list[int] = field(default_factory=list)
    last_progress: float = field(default_factory=time.monotonic)
    _wait_for: int = 0
    _wake: Callable[[], object] | None = None

    @property
    def total(self) -> int:
        """Sequenced messages: one untimed burst, then the timed ones."""
        return self.s.burst + self.s.messages

    def inbox(self) -> Inbox:
        return Inbox(self)

    def burst_ends(self) -> list[int]:
        return list(range(self.s.burst, self.total, self.s.burst)) + [self.total]

    def want(self, end: int) -> int:
        """``received`` once every subscriber has every message before ``end``."""
        return end * self.s.subscribers

    def park(self, end: int, wake: Callable[[], object]) -> None:
        """Have ``wake()`` called once every subscriber has every message before ``end``
        (or the run is aborted): at once if that is so already, else by a subscriber."""
        self.last_progress = time.monotonic()
        self._wait_for, self._wake = self.want(end), wake
        self.progress()

    def progress(self) -> None:
        if self._wake is not None and (self.received >= self._wait_for or self.aborted):
            wake, self._wake = self._wake, None
            wake()

    def abort(self, what: str) -> None:
        self.counter.error(what)
        self.aborted = True
        self.progress()

    def idle(self) -> None:
        """A subscriber's receive timed out: abort when nothing has arrived for a while."""
        if not self.aborted and time.monotonic() - self.last_progress > TIMEOUT_S:
            self.abort(
                f"nothing for {TIMEOUT_S:.0f} s ({self.received} of "
                f"{self.want(self.total)} messages received)"
            )

    def results(self) -> tuple[int, float, float, float]:
        """Timed deliveries, seconds, p50 and p99 latency in ms."""
        lat = sorted(self.latencies_ns)
        if not lat:
            return 0, 0.0, 0.0, 0.0
        seconds = max(self.last_ns - self.start_ns, 1) / 1e9
        return len(lat), seconds, percentile(lat, 50) / 1e6, percentile(lat, 99) / 1e6


class Inbox:
    """One subscriber's view: checks order and completeness, records latencies."""

    def __init__(self, board: Board) -> None:
        self.board = board
        self.next = 0
        self.probed = False
        self.done = False

    def on_message(self, body: bytes) -> None:
        now = time.perf_counter_ns()
        board = self.board
        seq_s, sent_s, _ = body.split(b":", 2)
        seq = int(seq_s)
        if seq < 0:
            if not self.probed:
                self.probed = True
                board.probed += 1
            return
        if seq != self.next:
            self.done = True
            board.abort(f"expected message {self.next}, got {seq}")
            return
        self.next += 1
        board.received += 1
        board.last_progress = time.monotonic()
        if seq >= board.s.burst:
            board.latencies_ns.append(now - int(sent_s))
        if self.next == board.total:
            self.done = True
            board.last_ns = max(board.last_ns, now)
        board.progress()

    def stop(self) -> bool:
        """True when the subscriber loop should end."""
        return self.done or self.board.aborted


def subscribed(board: Board, since: float) -> bool:
    """True once every subscriber has seen a probe; aborts after ``TIMEOUT_S``."""
    if board.probed >= board.s.subscribers:
        return True
    if time.monotonic() - since > TIMEOUT_S:
        board.abort(
            f"{board.probed} of {board.s.subscribers} subscribed after {TIMEOUT_S} s"
        )
    return board.aborted


PROBE_PAUSE_MS = 10  # between probe messages, until every subscriber has seen one

Step = Union[bytes, int, None]


def publisher_steps(board: Board) -> Iterator[Step]:
    """The publisher of (b) and (c), for a greenlet or coroutine driver to carry out:
    ``bytes``: publish this body on ``CHANNEL`` now; ``None``: pause ``PROBE_PAUSE_MS``;
    an int ``end``: wait until every subscriber has every message before ``end``
    (``Board.park``). Sets ``board.start_ns`` when the timed messages start."""
    since = time.monotonic()
    while not subscribed(board, since):
        yield message(-1)
        yield None
    seq = 0
    for end in board.burst_ends():
        if board.aborted:
            return
        if seq == board.s.burst:
            board.start_ns = time.perf_counter_ns()
        while seq < end:
            yield message(seq)
            seq += 1
        yield end


async def apublish_run(
    board: Board, publish: Callable[[str, bytes], Awaitable[object]]
) -> None:
    """``publisher_steps`` from a coroutine, with Puff's ``global_pubsub.publish``
    (asyncio = true) or redis-py's ``Redis.publish``; the subscriber that completes a burst
    resolves a future."""
    loop = asyncio.get_running_loop()
    for step in publisher_steps(board):
        if isinstance(step, bytes):
            await publish(CHANNEL, step)
        elif step is None:
            await asyncio.sleep(PROBE_PAUSE_MS / 1000)
        else:
            arrived = loop.create_future()
            board.park(step, lambda f=arrived: f.done() or f.set_result(None))
            await arrived


def missing(board: Board) -> None:
    """After the run: every subscriber must have every message."""
    want = board.want(board.total)
    if board.received != want and not board.counter.errors:
        board.counter.error(f"{board.received} of {want} messages received")


# ---- the result line -----------------------------------------------------------------


def percentile(sorted_values: list[int], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    k = max(
        0, min(len(sorted_values) - 1, int(len(sorted_values) * q / 100.0 + 0.5) - 1)
    )
    return float(sorted_values[k])


def report(
    name: str,
    s: Settings,
    ops: int,
    counter: Counter,
    seconds: float,
    latency: tuple[float, float] | None = None,
) -> int:
    """``ops`` commands (a) or deliveries (b) took ``seconds``; the exit status."""
    rate = ops / seconds if seconds > 0 else 0.0
    what = "commands" if s.case == "a" else "deliveries"
    extra = ""
    if latency is not None:
        extra = f" p50_ms={latency[0]:.4f} p99_ms={latency[1]:.4f}"
    print(
        f"{name}: case ({s.case}) {ops} {what}, {seconds * 1000:.1f} ms, {rate:.0f}/s, "
        f"{counter.errors} errors{extra}",
        flush=True,
    )
    if counter.first_error:
        print(f"first error: {counter.first_error}", flush=True)
    print(
        f"BENCH_RESULT requests={ops} errors={counter.errors} "
        f"seconds={seconds:.6f} rps={rate:.3f}{extra}",
        flush=True,
    )
    return 1 if counter.errors else 0
