"""Model field types through the psycopg2 shim: each value comes back equal, and the ORM
features that lean on the driver (JSON lookups, server-side-cursor iterator(),
bulk_create, select_for_update, nested atomic savepoints, raw()) work."""

from __future__ import annotations

from pathlib import Path

from conftest import Cli, Seeded

PROBE = Path(__file__).parent / "probes" / "field_types.py"
FIELDS = ["j", "u", "d", "dur", "b", "ip", "t", "dt", "f", "s"]


def test_every_field_type_round_trips(migrated: Seeded, cli: Cli) -> None:
    done = cli.check("django", "shell", "-c", PROBE.read_text())
    lines = done.stdout.splitlines()
    for field in FIELDS:
        assert f"{field} OK" in lines, done.stdout
    assert "json lookup 1 0" in lines, done.stdout
    assert "ip filter 1" in lines, done.stdout
    assert "iterator 1" in lines, done.stdout
    assert "bulk 6" in lines, done.stdout
    assert "savepoint ok" in lines, done.stdout
    assert "update 5" in lines, done.stdout
    assert "contains 5" in lines, done.stdout
    assert "values [datetime.timedelta(days=1, seconds=5)]" in lines, done.stdout
