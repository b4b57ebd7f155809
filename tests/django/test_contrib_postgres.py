"""django.contrib.postgres through the psycopg2 shim: hstore registration, ArrayField,
HStoreField and range fields round-trip and their lookups match."""

from __future__ import annotations

from pathlib import Path

from conftest import Cli, Seeded

PROBE = Path(__file__).parent / "probes" / "contrib_postgres.py"


def test_contrib_postgres_fields_and_lookups(migrated: Seeded, cli: Cli) -> None:
    done = cli.check("django", "shell", "-c", PROBE.read_text())
    lines = done.stdout.splitlines()
    for field in ("tags", "grid", "attrs", "days", "ints", "money"):
        assert f"{field} OK" in lines, done.stdout
    for expected in (
        "tags contains 1",
        "tags overlap 2",
        "tags len 1",
        "tags index 1",
        "attrs has_key 1",
        "attrs key 1",
        "attrs contains 1",
        "days contains 1",
        "ints contains 1",
        "ints overlap 1",
    ):
        assert expected in lines, done.stdout
