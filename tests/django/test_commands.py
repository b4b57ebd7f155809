"""`puff-cli ... django <command>` on examples/django_polls: Django's management commands
run inside the runtime on Puff's pool (migrate on an empty database, check,
makemigrations, shell), a failing command exits non-zero promptly with Django's
message, and Django never sets the session time zone itself (the pool does)."""

from __future__ import annotations

import pytest
from conftest import SEED, Cli, Seeded, probe_sql


def test_migrate_created_the_tables(migrated: Seeded) -> None:
    tables = {
        row[0]
        for row in probe_sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
    }
    expected = {
        "polls_question", "polls_choice", "auth_user", "auth_group", "auth_permission",
        "django_migrations", "django_content_type", "django_session", "django_admin_log",
    }  # fmt: skip
    assert expected <= tables, f"missing after migrate: {sorted(expected - tables)}"
    applied = probe_sql("SELECT name FROM django_migrations WHERE app = 'polls'")
    assert applied == [("0001_initial",)]
    # The columns the model declares, as the migration made them.
    columns = dict(
        probe_sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'polls_choice'"
        )
    )
    assert columns == {
        "id": "bigint", "question_id": "bigint", "choice_text": "character varying",
        "votes": "integer",
    }  # fmt: skip


def test_migrate_again_has_nothing_to_do(migrated: Seeded, cli: Cli) -> None:
    done = cli.check("django", "migrate")
    assert "No migrations to apply." in done.stdout, done.stdout


def test_check(migrated: Seeded, cli: Cli) -> None:
    done = cli.check("django", "check")
    assert "System check identified no issues" in done.stdout, done.stdout


def test_models_match_the_migrations(migrated: Seeded, cli: Cli) -> None:
    done = cli.check("django", "makemigrations", "--check", "--dry-run")
    assert "No changes detected" in done.stdout, done.stdout


def test_shell_counts_the_seeded_questions(migrated: Seeded, cli: Cli) -> None:
    code = "from polls.models import Question; print('COUNT', Question.objects.count())"
    done = cli.check("django", "shell", "-c", code)
    assert f"COUNT {len(SEED)}" in done.stdout.splitlines(), done.stdout
    assert probe_sql("SELECT count(*) FROM polls_question") == [(len(SEED),)]


def test_migrate_to_a_missing_migration_fails_clearly(migrated: Seeded, cli: Cli) -> None:
    # Within 60 s, or cli.run fails the test: a failing command must not hang.
    done = cli.run("django", "migrate", "polls", "9999", timeout=60)
    assert done.returncode != 0, (done.stdout, done.stderr)
    assert "CommandError: Cannot find a migration matching '9999' from app 'polls'" in (
        done.stderr
    ), done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    # Nothing was unapplied on the way.
    assert probe_sql("SELECT name FROM django_migrations WHERE app = 'polls'") == [
        ("0001_initial",)
    ]


@pytest.mark.usefixtures("pg_stat_statements")
def test_django_never_sets_the_session_time_zone(migrated: Seeded, cli: Cli) -> None:
    # The server runs in America/New_York (run.py) and Django wants UTC: Puff's pools set
    # the zone once per server connection, so Django's own per-connection
    # `SELECT set_config('TimeZone', ...)` must never run. A fresh process connects anew.
    probe_sql("SELECT pg_stat_statements_reset()")
    code = (
        "from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    c.execute('SHOW TimeZone')\n"
        "    print('ZONE', c.fetchone()[0])"
    )
    done = cli.check("django", "shell", "-c", code)
    assert "ZONE UTC" in done.stdout.splitlines(), done.stdout
    (calls,) = probe_sql(
        "SELECT coalesce(sum(calls), 0)::int FROM pg_stat_statements WHERE query ILIKE %s",
        ("%set_config(%",),  # its constants are normalised away
    )[0]
    assert calls == 0, f"Django set the time zone {calls} times"
    assert probe_sql("SHOW TimeZone") == [("America/New_York",)]
