"""Shared by the `bench client` programs: settings from the environment and the result line.

`cargo xtask bench client` sets BENCH_URL, BENCH_REQUESTS, BENCH_CONCURRENCY and BENCH_WARMUP
and reads the `BENCH_RESULT ...` line each program prints last.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class Settings:
    url: str
    requests: int
    concurrency: int
    warmup: int


def settings() -> Settings:
    return Settings(
        url=os.environ.get("BENCH_URL", "http://127.0.0.1:7777/rust/hello"),
        requests=int(os.environ.get("BENCH_REQUESTS", "10000")),
        concurrency=int(os.environ.get("BENCH_CONCURRENCY", "64")),
        warmup=int(os.environ.get("BENCH_WARMUP", "1000")),
    )


class Counter:
    """Hands out request numbers to the workers until `total` have been taken (workers run on
    one thread, cooperatively, so no lock is needed)."""

    def __init__(self, total: int) -> None:
        self.left = total
        self.errors = 0
        self.first_error = ""

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True

    def error(self, what: str) -> None:
        self.errors += 1
        if not self.first_error:
            self.first_error = what.replace("\n", " ")[:300]


def report(name: str, s: Settings, counter: Counter, seconds: float) -> None:
    rps = s.requests / seconds if seconds > 0 else 0.0
    print(
        f"{name}: {s.requests} GETs, {s.concurrency} concurrent callers, "
        f"{seconds:.3f} s, {rps:.0f} req/s, {counter.errors} errors",
        flush=True,
    )
    if counter.first_error:
        print(f"first error: {counter.first_error}", flush=True)
    print(
        f"BENCH_RESULT requests={s.requests} errors={counter.errors} "
        f"seconds={seconds:.6f} rps={rps:.3f}",
        flush=True,
    )
