"""The Postgres server of `bench django`, run from bench/.venv-peers (Django + psycopg2):

    python django_pg_server.py

The server of `bench postgres` (pg_bench_server.serve: private and throwaway unless
PUFF_BENCH_POSTGRES_URL or PUFF_TEST_POSTGRES_URL names one) with a database of its own,
django_common.DATABASE (dropped first if it exists), migrated by Django (the polls example
with django_bench_settings.py, the real psycopg2) and filled by django_common.seed():
QUESTIONS questions with CHOICES_PER_QUESTION choices each. Prints `BENCH_DJANGO_URL=<url of
that database>` and `BENCH_DJANGO_VERSION=...` once all that is done (after serve's own
`BENCH_PG_*` lines would come too late: the bench waits for the BENCH_DJANGO_ ones), waits
until its standard input closes; then removes the private server (or drops the database on
a given one).
"""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit, urlunsplit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "django_polls"))

import psycopg2  # noqa: E402
from django_common import CHOICES_PER_QUESTION, DATABASE, QUESTIONS, seed  # noqa: E402
from pg_bench_server import serve  # noqa: E402

DROP_SQL = f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"


def prepare(url: str) -> str:
    """Creates, migrates and fills DATABASE; returns the server version."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(DROP_SQL)
        cur.execute(f"CREATE DATABASE {DATABASE}")
        cur.execute("SHOW server_version")
        (version,) = cur.fetchone()
    conn.close()
    db_url = urlunsplit(urlsplit(url)._replace(path=f"/{DATABASE}"))

    os.environ["BENCH_PG_URL"] = db_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "django_bench_settings"
    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    seed()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM polls_question")
        (questions,) = cur.fetchone()
        cur.execute("SELECT count(*) FROM polls_choice")
        (choices,) = cur.fetchone()
        cur.execute("ANALYZE")
    connection.close()
    if (questions, choices) != (QUESTIONS, QUESTIONS * CHOICES_PER_QUESTION):
        raise RuntimeError(f"{questions} questions and {choices} choices after seeding")
    print(f"{questions} questions, {choices} choices in {DATABASE}", flush=True)
    version = f"PostgreSQL {version}"
    print(f"BENCH_DJANGO_VERSION={version}", flush=True)
    print(f"BENCH_DJANGO_URL={db_url}", flush=True)
    return version


if __name__ == "__main__":
    # max_connections = 100 (Postgres' default): `bench django` case (b) runs 256 client
    # connections against it, each server with a budget of 90 Postgres connections.
    sys.exit(serve(prepare, DROP_SQL, server_options="-c max_connections=100"))
