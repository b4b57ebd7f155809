"""`QuerySet.iterator()` streams: Django's chunked fetch runs on a named (server-side)
cursor of Puff's psycopg2 shim, so 1,000,000 rows pass through with the process's RSS
growing by less than 50 MB, and the rows equal those of the ordinary evaluation."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import Cli, Seeded

PROBE = Path(__file__).parent / "probes" / "streaming.py"
RSS_LIMIT_MB = 50


def test_iterator_over_a_million_rows_streams(migrated: Seeded, cli: Cli) -> None:
    done = cli.check("django", "shell", "-c", PROBE.read_text())
    print(done.stdout)  # the figures, with -s
    lines = done.stdout.splitlines()
    assert "streamed 1000000" in lines, done.stdout
    # Django in autocommit mode declares its cursor WITH HOLD; it is open mid-iteration.
    assert "server cursors 1" in lines, done.stdout
    assert "same rows True" in lines, done.stdout
    growth = [float(m.group(1)) for line in lines if (m := re.fullmatch(r"rss growth (\S+) MB", line))]
    assert growth and growth[0] < RSS_LIMIT_MB, done.stdout
