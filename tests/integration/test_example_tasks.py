"""examples/tasks: the docs' task queue example runs as written (in process, no Redis)."""

from __future__ import annotations

import ast
import re

from puffserver import run_cli


def test_run_main_schedules_300_tasks_and_prints_every_result() -> None:
    result = run_cli(["--config", "examples/tasks/puff.toml", "run_main"], timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    expected: dict[str, int] = {}
    for x, ids in enumerate(re.findall(r"Put tasks (\S+), (\S+), (\S+) in queue", out)):
        for task in ids:
            expected[task] = x
    assert len(expected) == 300, out[-2000:]
    returned = dict(re.findall(r"^(\S+) returned (\S+)$", out, re.M))
    assert {t: int(v) for t, v in returned.items()} == expected
    # Tasks with increasing scheduled_time_unix_ms ran in that order.
    ordered = [
        ast.literal_eval(p)["x"][0]
        for p in re.findall(r"^In async task (\{.*'async-ordered'.*\})$", out, re.M)
    ]
    assert ordered == list(range(100))
    assert len(re.findall(r"^In task \{'type': 'coroutine'", out, re.M)) >= 100
