"""The other process of test_pubsub_redis.py, run as ``puff-cli --config
tests/redis/puff.toml pubsub-peer`` (a ``[[commands]]`` entry).

Reads one command per line on stdin and answers with one line on stdout, using one pub/sub
connection on the instance named by ``$PUFF_PEER_PUBSUB`` (default ``default``):

    id                  -> "id <connection id>"
    sub <channel>       -> "ok"   (subscribed)
    unsub <channel>     -> "ok"
    pub <channel> <text> -> "ok"  (published as this connection)
    recv <timeout_ms>   -> "msg <channel> <from_connection_id> <text>" or "none"
    quit                -> "bye", exit 0

Errors answer "error <type>: <message>" and the peer keeps going.
"""

from __future__ import annotations

import os
import sys

import puff
from puff.pubsub import named_client


@puff.blocking
def read_line() -> str:
    return sys.stdin.readline()


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> int:
    client = named_client(os.environ.get("PUFF_PEER_PUBSUB", "default"))
    conn = client.connection()
    say(f"ready {client.backend}")
    while True:
        line = read_line()
        if not line:  # the test went away
            return 1
        command, _, rest = line.rstrip("\n").partition(" ")
        try:
            if command == "id":
                say(f"id {conn.connection_id}")
            elif command == "sub":
                conn.subscribe(rest)
                say("ok")
            elif command == "unsub":
                conn.unsubscribe(rest)
                say("ok")
            elif command == "pub":
                channel, _, text = rest.partition(" ")
                conn.publish(channel, text)
                say("ok")
            elif command == "recv":
                msg = conn.receive(timeout_ms=int(rest))
                say(
                    "none"
                    if msg is None
                    else f"msg {msg.channel} {msg.from_connection_id} {msg.text}"
                )
            elif command == "quit":
                conn.close()
                say("bye")
                return 0
            else:
                say(f"error unknown command {command!r}")
        except Exception as e:  # noqa: BLE001 - reported to the test, which decides
            say(f"error {type(e).__name__}: {e}")
