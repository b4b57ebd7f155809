"""Run the task queue suite inside puff-cli.

    .venv/bin/python tests/tasks/run.py [pytest args...]

Starts a private throwaway redis-server with persistence (the restart test stops and
starts it; the `persist` queue lives there), plus one for the other queues unless
``$PUFF_TEST_REDIS_URL`` names a server to use, then runs ``puff-cli pytest tests/tasks``
twice:

1. ``puff.toml``: the queues on Redis; test_tasks.py runs its tasks in this process,
   test_tasks_distributed.py starts `wait-forever` worker processes (worker.toml),
   test_tasks_outbox.py enqueues in transactions of a private Postgres (started here too)
   and starts `wait-forever` relays (outbox-relay.toml).
2. ``puff-memory.toml``: no Redis configured at all; test_tasks.py on the in-process
   backend.

Exits non-zero if any run fails. Set ``PUFF_CLI_BINARY`` to test another build.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "redis"))
sys.path.insert(0, os.path.join(ROOT, "tests", "postgres"))

from pg_server import ENV_VAR as PG_SERVER_VAR  # noqa: E402
from pg_server import PgServer  # noqa: E402
from redis_server import ENV_VAR, RedisServer, suite_exit_code  # noqa: E402

def main(argv: list[str]) -> int:
    binary = os.environ.get("PUFF_CLI_BINARY") or os.path.join(
        ROOT, "target/debug/puff-cli"
    )
    test_url = os.environ.get("PUFF_TEST_REDIS_URL")
    persistent = RedisServer.create(persistent=True)
    shared_server = None if test_url else RedisServer.create()
    # The transactional outbox's database (test_tasks_outbox.py).
    outbox_db = PgServer.create()
    try:
        shared = shared_server.url if shared_server else str(test_url)
        base = {
            k: v
            for k, v in os.environ.items()
            # Only this script decides where each pool and queue points.
            if not re.fullmatch(r"PUFF_\w+_(REDIS|PUBSUB|TASK_QUEUE|POSTGRES)_URL", k)
        }
        if sys.prefix != sys.base_prefix:  # the virtualenv's python: puff-cli uses it
            base.setdefault("VIRTUAL_ENV", sys.prefix)
        base["PUFF_CLI_BINARY"] = binary
        with_redis = {
            **base,
            ENV_VAR: persistent.to_env(),
            "PUFF_DEFAULT_REDIS_URL": shared,
            "PUFF_PERSIST_TASK_QUEUE_URL": persistent.url,
            "PUFF_OUTBOX_POSTGRES_URL": outbox_db.url,
            "PUFF_OUTBOX_FRESH_POSTGRES_URL": outbox_db.url.rsplit("/", 1)[0] + "/outbox_fresh",
            PG_SERVER_VAR: outbox_db.to_env(),
        }
        codes = []
        for config, env in (("puff.toml", with_redis), ("puff-memory.toml", base)):
            cmd = [binary, "--config", os.path.join(HERE, config), "pytest", HERE, *argv]
            print(f"\n=== {' '.join(cmd)}", flush=True)
            codes.append(subprocess.call(cmd, env=env, cwd=ROOT))
        return suite_exit_code(codes, argv)
    finally:
        outbox_db.destroy()
        persistent.destroy()
        if shared_server is not None:
            shared_server.destroy()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
