"""Run the Django suite: examples/django_polls on Puff, against private Postgres and Redis.

    .venv/bin/python tests/django/run.py [pytest args...]

Makes sure headless Chromium is there (installs Debian's ``chromium`` as root with apt-get,
else fails with the command), starts a private throwaway Postgres (``pg_stat_statements``
loaded, so the GraphQL test can count statements) and a private Redis, creates an empty
``polls`` database, and runs ``puff-cli --config tests/django/puff.toml pytest tests/django``
with:

- ``PUFF_DEFAULT_POSTGRES_URL``: the ``polls`` database, ``application_name=polls-server``
  (the tests count the example server's connections in ``pg_stat_activity`` by it);
- ``PUFF_PROBE_POSTGRES_URL``: the same database for the tests' own ``probe`` pool
  (``application_name=polls-probe``);
- ``PUFF_DEFAULT_REDIS_URL``: the private Redis; ``PUFF_CLI_BINARY``: the binary under test.

The tests migrate and seed the database with ``puff-cli ... django`` commands and start
``puff-cli runserver`` themselves. The machine's own Postgres and Redis are never used: every
``*_POSTGRES_URL`` / ``*_REDIS_URL`` of the environment is dropped. Both servers are removed
at the end; the exit code is pytest's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "postgres"))
sys.path.insert(0, os.path.join(ROOT, "tests", "redis"))
sys.path.insert(0, HERE)

from chromium import ensure_chromium  # noqa: E402
from pg_server import PgServer  # noqa: E402
from redis_server import RedisServer  # noqa: E402

DATABASE = "polls"
BUILD_HINT = (
    "build it first: `PYO3_PYTHON=$PWD/.venv/bin/python VIRTUAL_ENV=$PWD/.venv "
    "cargo build -p puff-cli` (from the repository root), or set PUFF_CLI_BINARY"
)


def create_database(server: PgServer, name: str) -> None:
    cmd = [
        os.path.join(server.bindir, "createdb"),
        "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres", name,
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` failed:\n{done.stdout}{done.stderr}")


def main(argv: list[str]) -> int:
    binary = os.environ.get("PUFF_CLI_BINARY") or os.path.join(ROOT, "target/debug/puff-cli")
    if not os.access(binary, os.X_OK):
        print(f"FAILED: {binary} does not exist: {BUILD_HINT}", file=sys.stderr)
        return 2
    try:
        ensure_chromium()
    except RuntimeError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 2
    pg = PgServer.create(
        # A server time zone other than Django's UTC: Puff must set the sessions' zone once
        # per pooled connection, so Django never SETs it per connection (test_commands).
        options="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
        " -c timezone=America/New_York"
    )
    redis = None
    try:
        redis = RedisServer.create()
        create_database(pg, DATABASE)
        db_url = f"postgres://postgres@127.0.0.1:{pg.port}/{DATABASE}"
        env = {
            k: v
            for k, v in os.environ.items()
            if not re.fullmatch(r"PUFF_\w+_(POSTGRES|REDIS|PUBSUB)_URL", k)
            and k not in {"PUFF_CONFIG", "DJANGO_SETTINGS_MODULE", "DJANGO_STATIC_ROOT"}
        }
        if sys.prefix != sys.base_prefix:  # the virtualenv's python: puff-cli uses it
            env.setdefault("VIRTUAL_ENV", sys.prefix)
        env["PUFF_DEFAULT_POSTGRES_URL"] = f"{db_url}?application_name=polls-server"
        env["PUFF_PROBE_POSTGRES_URL"] = f"{db_url}?application_name=polls-probe"
        env["PUFF_DEFAULT_REDIS_URL"] = redis.url
        env["PUFF_CLI_BINARY"] = binary
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        cmd = [
            binary, "--config", os.path.join(HERE, "puff.toml"),
            "pytest", HERE, "-p", "no:django", "-p", "no:cacheprovider", *argv,
        ]  # fmt: skip
        print(f"=== {' '.join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c for c in cmd)}",
              flush=True)  # fmt: skip
        return subprocess.call(cmd, env=env, cwd=ROOT)
    finally:
        if redis is not None:
            redis.destroy()
        pg.destroy()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
