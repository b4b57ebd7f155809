"""Run the Postgres suite inside puff-cli against real servers.

    .venv/bin/python tests/postgres/run.py [pytest args...]

Starts a private throwaway Postgres (always: the restart tests stop and start it), points
the `default` and `tiny` pools at ``$PUFF_TEST_POSTGRES_URL`` when set (else at the private
server) and the `restart` pool at the private server, runs
``puff-cli --config tests/postgres/puff.toml pytest tests/postgres`` and removes the server.
Set ``PUFF_CLI_BINARY`` to test another build.
"""

from __future__ import annotations

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from pg_server import ENV_VAR, PgServer, free_port  # noqa: E402

SECRET = "hunter2-not-logged"


def main(argv: list[str]) -> int:
    binary = os.environ.get("PUFF_CLI_BINARY") or os.path.join(
        ROOT, "target/debug/puff-cli"
    )
    server = PgServer.create()
    try:
        shared = os.environ.get("PUFF_TEST_POSTGRES_URL") or server.url
        env = dict(os.environ)
        if (
            sys.prefix != sys.base_prefix
        ):  # run by the virtualenv's python: puff-cli uses it
            env.setdefault("VIRTUAL_ENV", sys.prefix)
        env.update(
            {
                ENV_VAR: server.to_env(),
                "PUFF_DEFAULT_POSTGRES_URL": shared,
                "PUFF_TINY_POSTGRES_URL": shared,
                # Nothing listens there; the password must never show up in the output.
                "PUFF_DOWN_POSTGRES_URL": (
                    f"postgres://postgres:{SECRET}@127.0.0.1:{free_port()}/postgres"
                ),
            }
        )
        cmd = [
            binary,
            "--config",
            os.path.join(HERE, "puff.toml"),
            "--restart-postgres-url",  # the per-pool flag, instead of PUFF_RESTART_POSTGRES_URL
            server.url,
            "pytest",
            HERE,
            *argv,
        ]
        proc = subprocess.Popen(
            cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        assert proc.stdout is not None
        leaked = False
        for line in proc.stdout:
            leaked = leaked or SECRET.encode() in line
            sys.stdout.buffer.write(line)
            sys.stdout.flush()
        rc = proc.wait()
        if leaked:
            print(
                f"FAILED: the password {SECRET!r} of a pool URL appeared in the output"
            )
            return 1
        return rc
    finally:
        server.destroy()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
