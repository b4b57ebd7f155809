"""Helpers for the in-runtime tests (importable through puff.toml's python_path)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import puff


class OverlapCounter:
    """Counts how many greenlets are inside a section at once.

    Greenlets of one Puff runtime share a single OS thread and only switch inside Puff
    calls, so plain integer updates between those calls are race-free.
    """

    def __init__(self) -> None:
        self.active = 0
        self.max_active = 0
        self.finished = 0

    def enter(self) -> None:
        self.active += 1
        self.max_active = max(self.max_active, self.active)

    def leave(self) -> None:
        self.active -= 1
        self.finished += 1


def later(
    return_func: Callable[..., None],
    delay_ms: int,
    result: Any = None,
    error: BaseException | None = None,
) -> None:
    """What a Rust async function does with wrap_async's return function: call it from
    elsewhere, after the caller has already started waiting."""

    def finish() -> None:
        puff.sleep_ms(delay_ms)
        return_func(result, error)

    puff.spawn(finish)
