"""The task queue suite runs inside puff-cli; see run.py.

run.py runs it twice; the config of each run names it in PUFF_TASKS_SUITE: `redis` (the
queues on a private redis-server, plus worker processes) and `memory` (no Redis at all,
the in-process backend).
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator

import puff
import pytest

RUN_HINT = "run the task queue suite with `.venv/bin/python tests/tasks/run.py`"
HERE = os.path.dirname(os.path.abspath(__file__))

SUITE = os.environ.get("PUFF_TASKS_SUITE", "")
SUITES = {
    "redis": [
        "test_tasks.py",
        "test_tasks_distributed.py",
        "test_tasks_cli.py",
        "test_periodic.py",
        "test_periodic_distributed.py",
        "test_unique.py",
        "test_rate_limit.py",
        "test_unique_rate_distributed.py",
        "test_tasks_outbox.py",
    ],
    "memory": ["test_tasks.py", "test_periodic.py", "test_unique.py", "test_rate_limit.py"],
}
_ALL = sorted({f for files in SUITES.values() for f in files})
collect_ignore = [f for f in _ALL if f not in SUITES.get(SUITE, _ALL)]


@pytest.fixture(autouse=True)
def _inside_puff() -> None:
    if puff._native is None:
        pytest.fail(f"not inside the Puff runtime: {RUN_HINT}", pytrace=False)
    if SUITE not in SUITES:
        pytest.fail(f"PUFF_TASKS_SUITE is {SUITE!r}: {RUN_HINT}", pytrace=False)
    if SUITE == "redis" and not os.environ.get("PUFF_DEFAULT_REDIS_URL"):
        pytest.fail(f"PUFF_DEFAULT_REDIS_URL is not set: {RUN_HINT}", pytrace=False)


@pytest.fixture
def start_worker(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """``start_worker(config="worker.toml", env=None)``: a `puff-cli --config CONFIG
    wait-forever` process (with ``env`` added to the environment), its output in a temp
    file; every one still running is killed afterwards."""
    binary = os.environ.get("PUFF_CLI_BINARY")
    if not binary:
        pytest.fail(f"PUFF_CLI_BINARY is not set: {RUN_HINT}", pytrace=False)
    procs: list[subprocess.Popen[bytes]] = []
    logs = tmp_path_factory.mktemp("workers")

    def start(
        config: str = "worker.toml", env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = open(logs / f"worker-{len(procs)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [binary, "--config", os.path.join(HERE, config), "wait-forever"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
