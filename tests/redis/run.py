"""Run the Redis + pub/sub suite inside puff-cli against a real server.

    .venv/bin/python tests/redis/run.py [pytest args...]

Starts a private throwaway redis-server that the restart tests stop and start (always),
plus one for the other pools unless ``$PUFF_TEST_REDIS_URL`` names a server to use, and
runs ``puff-cli pytest tests/redis`` three times:

1. ``puff.toml``: the `default` pool (and so the `default` pub/sub) on
   ``$PUFF_TEST_REDIS_URL`` when set, else on the second private server; the `restart` pool
   (``--restart-redis-url`` flag) and pub/sub (``PUFF_RESTART_PUBSUB_URL``) on the private
   server; the `down` pool on a closed port, with a password that must never appear in the
   output. Every command family, pipelines, faults, pub/sub across two processes.
2. ``puff-memory.toml``: no Redis configured at all; the pub/sub tests on the in-process
   backend.
3. ``puff-asyncio.toml``: ``asyncio = true``; redis and pub/sub awaited from coroutines.

Exits non-zero if any run fails. Set ``PUFF_CLI_BINARY`` to test another build.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from redis_server import ENV_VAR, RedisServer, free_port, suite_exit_code  # noqa: E402

SECRET = "hunter2-not-logged"
def run(cmd: list[str], env: dict[str, str]) -> tuple[int, bool]:
    """Run ``cmd``, echoing its output; (exit code, whether SECRET showed up)."""
    print(
        f"\n=== {' '.join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c for c in cmd)}"
    )
    sys.stdout.flush()
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    leaked = False
    for line in proc.stdout:
        leaked = leaked or SECRET.encode() in line
        sys.stdout.buffer.write(line)
        sys.stdout.flush()
    return proc.wait(), leaked


def main(argv: list[str]) -> int:
    binary = os.environ.get("PUFF_CLI_BINARY") or os.path.join(
        ROOT, "target/debug/puff-cli"
    )
    # `server` is the one the restart tests stop and start; the shared pools get their own
    # (unless PUFF_TEST_REDIS_URL names one), so a restart never breaks their connections.
    test_url = os.environ.get("PUFF_TEST_REDIS_URL")
    server = RedisServer.create()
    shared_server = None if test_url else RedisServer.create()
    # test_redis_compat.py flushes every database of its server: always a private one.
    compat_server = RedisServer.create()
    try:
        shared = shared_server.url if shared_server else str(test_url)
        base = {
            k: v
            for k, v in os.environ.items()
            # Only this script decides where each pool and pub/sub instance points.
            if not re.fullmatch(r"PUFF_\w+_(REDIS|PUBSUB)_URL", k)
        }
        if (
            sys.prefix != sys.base_prefix
        ):  # run by the virtualenv's python: puff-cli uses it
            base.setdefault("VIRTUAL_ENV", sys.prefix)
        base.update({ENV_VAR: server.to_env(), "PUFF_CLI_BINARY": binary})
        with_redis = {
            **base,
            "PUFF_DEFAULT_REDIS_URL": shared,
            "PUFF_RESTART_PUBSUB_URL": server.url,
            "PUFF_COMPAT_REDIS_URL": compat_server.url,
            # Nothing listens there; the password must never show up in the output.
            "PUFF_DOWN_REDIS_URL": f"redis://:{SECRET}@127.0.0.1:{free_port()}/0",
        }
        runs = [
            (
                "puff.toml",
                # The per-pool flag, instead of PUFF_RESTART_REDIS_URL.
                ["--restart-redis-url", server.url],
                with_redis,
            ),
            ("puff-memory.toml", [], base),
            ("puff-asyncio.toml", [], with_redis),
        ]
        codes = []
        for config, flags, env in runs:
            cmd = [
                binary,
                "--config",
                os.path.join(HERE, config),
                *flags,
                "pytest",
                HERE,
                *argv,
            ]
            rc, leaked = run(cmd, env)
            if leaked:
                print(
                    f"FAILED: the password {SECRET!r} of a pool URL appeared in the output"
                )
                rc = rc or 1
            codes.append(rc)
        return suite_exit_code(codes, argv)
    finally:
        server.destroy()
        compat_server.destroy()
        if shared_server is not None:
            shared_server.destroy()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
