"""`puff-cli --config examples/django_polls/puff.toml pytest examples/django_polls`: the
example's own django.test.TestCase tests pass under pytest-django inside the runtime, on a
``test_polls`` database that pytest-django creates through Puff's pool and drops at the
end, leaving the ``polls`` database alone."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import puff
from conftest import EXAMPLE, ROOT, Cli, Sampler, Seeded, probe_sql, tail


def test_example_tests_pass_under_pytest_django(
    migrated: Seeded, cli: Cli, tmp_path: Path
) -> None:
    expected = len(re.findall(r"^\s+def test_", (EXAMPLE / "polls" / "tests.py").read_text(), re.M))
    assert expected > 0
    questions_before = probe_sql("SELECT count(*) FROM polls_question")
    sampler = Sampler("SELECT count(*) FROM pg_database WHERE datname = 'test_polls'")
    argv = cli.argv(
        ("pytest", str(EXAMPLE), "-q", "-p", "no:cacheprovider"), EXAMPLE / "puff.toml"
    )
    log_path = tmp_path / "pytest.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=cli.env(), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    deadline = time.monotonic() + 240
    try:
        while proc.poll() is None:  # sample pg_database while the tests run
            sampler.sample()
            puff.sleep_ms(20)
            if time.monotonic() > deadline:
                raise AssertionError("pytest in examples/django_polls ran for over 240 s")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    output = log_path.read_text(errors="replace")
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{tail(output, 120)}"
    summary = re.search(r"^=*\s*(\d+) passed(.*) in [\d.]+s", output, re.M)
    assert summary, f"no summary line:\n{tail(output)}"
    assert int(summary.group(1)) == expected, f"expected {expected} passed:\n{tail(output)}"
    assert not re.search(r"failed|error|skipped", summary.group(2)), summary.group(0)
    assert max(sampler.values, default=0) == 1, (
        f"test_polls never showed up in pg_database while the tests ran: {sampler.describe()}"
    )
    assert probe_sql("SELECT count(*) FROM pg_database WHERE datname = 'test_polls'") == [(0,)]
    assert probe_sql("SELECT count(*) FROM polls_question") == questions_before
