"""The redis-py side of ``test_redis_compat.py``: plain Python, the real redis-py.

    .venv/bin/python tests/redis/compat_peer.py REDIS_URL OUTPUT.json

Runs every case of ``compat_cases.py`` with ``redis.Redis.from_url(REDIS_URL)`` (redis-py's
defaults) on the client and on a pipeline, and writes each case's described outcomes as
JSON, with redis-py's version.
"""

from __future__ import annotations

import inspect
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import redis  # noqa: E402
from compat_cases import (  # noqa: E402
    CASES,
    describe_signature,
    run_case,
    run_case_pipelined,
)


def signatures() -> dict[str, list[list[str]]]:
    """redis-py's client and pipeline methods (public ones), by name."""
    out = {}
    for cls, prefix in ((redis.Redis, ""), (redis.client.Pipeline, "Pipeline.")):
        for name, fn in inspect.getmembers(cls, callable):
            if not name.startswith("_"):
                out[prefix + name] = describe_signature(fn)
    return out


def main(url: str, output: str) -> int:
    client = redis.Redis.from_url(url)
    results = {
        c.name: {
            "client": run_case(client, c),
            "pipeline": run_case_pipelined(client, c) if c.pipeline else None,
            "transaction": run_case_pipelined(client, c, True) if c.pipeline else None,
        }
        for c in CASES
    }
    with open(output, "w") as f:
        json.dump(
            {
                "redis_py": redis.__version__,
                "cases": results,
                "signatures": signatures(),
            },
            f,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
