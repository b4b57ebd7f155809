"""Run the GraphQL suite inside puff-cli against a real Postgres.

    .venv/bin/python tests/graphql/run.py [pytest args...]

Starts a private throwaway Postgres with ``pg_stat_statements`` loaded (the N+1 tests
count the statements the server ran), points the `default` and `readonly` pools at it, runs
``puff-cli --config tests/graphql/puff.toml pytest tests/graphql`` (the tests start their
own ``puff-cli runserver`` for HTTP and websocket tests) and removes the server. Set
``PUFF_CLI_BINARY`` to test another build.
"""

from __future__ import annotations

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "postgres"))

from pg_server import PgServer  # noqa: E402


def main(argv: list[str]) -> int:
    binary = os.environ.get("PUFF_CLI_BINARY") or os.path.join(ROOT, "target/debug/puff-cli")
    server = PgServer.create(
        options="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
    )
    try:
        env = {k: v for k, v in os.environ.items() if not k.endswith("_POSTGRES_URL")}
        if sys.prefix != sys.base_prefix:  # the virtualenv's python: puff-cli uses it
            env.setdefault("VIRTUAL_ENV", sys.prefix)
        env["PUFF_DEFAULT_POSTGRES_URL"] = server.url
        # Same server; the application_name tells the tests which pool a statement used.
        env["PUFF_READONLY_POSTGRES_URL"] = f"{server.url}?application_name=puff-readonly"
        env["PUFF_CLI_BINARY"] = binary
        cmd = [binary, "--config", os.path.join(HERE, "puff.toml"), "pytest", HERE, *argv]
        print(f"=== {' '.join(cmd)}", flush=True)
        return subprocess.call(cmd, env=env, cwd=ROOT)
    finally:
        server.destroy()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
