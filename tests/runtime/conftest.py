"""These tests call the Puff Python API for real, so they must run inside puff-cli:

target/debug/puff-cli --config tests/runtime/puff.toml pytest tests/runtime -q
"""

from __future__ import annotations

import puff
import pytest

RUN_HINT = (
    "tests/runtime must run inside the Puff runtime: "
    "`target/debug/puff-cli --config tests/runtime/puff.toml pytest tests/runtime -q`"
)


@pytest.fixture(autouse=True)
def _inside_puff_runtime() -> None:
    if puff._native is None:
        pytest.fail(RUN_HINT, pytrace=False)
