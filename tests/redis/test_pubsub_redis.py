"""pub/sub on Redis: messages cross processes (a second puff-cli process, pubsub_peer.py),
and a live subscription survives a restart of the server (pub/sub `restart`, always the
private server)."""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import puff
import pytest
from puff import pubsub, redis
from puff.pubsub import global_pubsub
from redis_server import RedisServer

Channel = Callable[[str], str]
HERE = os.path.dirname(os.path.abspath(__file__))


class Peer:
    """A second puff-cli process running pubsub_peer.py, driven line by line."""

    def __init__(self, instance: str = "default") -> None:
        binary = os.environ["PUFF_CLI_BINARY"]
        server = RedisServer.from_env()
        self.proc = subprocess.Popen(
            [
                binary,
                "--config",
                os.path.join(HERE, "puff.toml"),
                "--restart-redis-url",
                server.url,
                "pubsub-peer",
            ],
            env={**os.environ, "PUFF_PEER_PUBSUB": instance},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        first = self.next_line(timeout_s=30)
        assert first == "ready redis", first
        self.connection_id = self.ask("id").removeprefix("id ")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put("<eof>")

    @puff.blocking
    def next_line(self, timeout_s: float = 10) -> str:
        try:
            return self.lines.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(f"the peer said nothing for {timeout_s}s") from None

    def ask(self, command: str, timeout_s: float = 10) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer = self.next_line(timeout_s)
        assert not answer.startswith(("error", "<eof>")), (
            command,
            answer,
            self.stderr(),
        )
        return answer

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.ask("quit")
                self.proc.wait(timeout=10)
            finally:
                if self.proc.poll() is None:
                    self.proc.kill()
                    self.proc.wait()


@pytest.fixture
def peer() -> Iterator[Peer]:
    p = Peer()
    try:
        yield p
    finally:
        p.close()
    assert p.proc.returncode == 0, p.stderr()


def test_message_from_another_process(peer: Peer, channel: Channel) -> None:
    ch = channel("to-here")
    with global_pubsub.connection() as conn:
        conn.subscribe(ch)
        assert peer.ask(f"pub {ch} hello from the peer") == "ok"
        msg = conn.receive(timeout_ms=5000)
        assert msg is not None
        assert (msg.channel, msg.text) == (ch, "hello from the peer")
        assert msg.from_connection_id == peer.connection_id
        assert peer.connection_id != conn.connection_id


def test_message_to_another_process_and_unsubscribe(
    peer: Peer, channel: Channel
) -> None:
    ch, kept = channel("to-peer"), channel("kept")
    sender = global_pubsub.new_connection_id()
    assert peer.ask(f"sub {ch}") == "ok"
    assert peer.ask(f"sub {kept}") == "ok"
    global_pubsub.publish_as(sender, ch, "hi peer")
    assert peer.ask("recv 5000") == f"msg {ch} {sender} hi peer"

    assert peer.ask(f"unsub {ch}") == "ok"
    global_pubsub.publish_as(sender, ch, "after unsubscribe")
    global_pubsub.publish_as(sender, kept, "on the kept channel")
    # The message on the left channel never arrives: the next one is from `kept`.
    assert peer.ask("recv 5000") == f"msg {kept} {sender} on the kept channel"
    assert peer.ask("recv 300") == "none"


def test_two_processes_both_receive(peer: Peer, channel: Channel) -> None:
    ch = channel("both")
    assert peer.ask(f"sub {ch}") == "ok"
    with global_pubsub.connection() as conn:
        conn.subscribe(ch)
        global_pubsub.publish(ch, "everyone")
        assert peer.ask("recv 5000").endswith(" everyone")
        msg = conn.receive(timeout_ms=5000)
        assert msg is not None and msg.text == "everyone"


@puff.blocking
def stop_server(server: RedisServer) -> None:
    server.stop()


@puff.blocking
def start_server(server: RedisServer) -> None:
    server.start()


def test_subscription_survives_a_server_restart(channel: Channel) -> None:
    server = RedisServer.from_env()
    client = pubsub.named_client("restart")
    assert client.backend == "redis"
    ch = channel("restart")
    with client.connection() as conn:
        conn.subscribe(ch)
        client.publish(ch, "before")
        msg = conn.receive(timeout_ms=5000)
        assert msg is not None and msg.text == "before"

        stop_server(server)
        try:
            with pytest.raises(redis.ConnectionError):
                client.publish(ch, "while down")
            assert conn.receive(timeout_ms=100) is None
        finally:
            start_server(server)

        # The subscription is re-established in the background: publish until it is.
        deadline = time.monotonic() + 15
        got = None
        attempt = 0
        while got is None and time.monotonic() < deadline:
            attempt += 1
            try:
                client.publish(ch, f"after {attempt}")
            except redis.RedisError:
                puff.sleep_ms(100)
                continue
            got = conn.receive(timeout_ms=200)
        assert got is not None, "no message after the restart within 15 s"
        assert got.channel == ch and got.text.startswith("after ")
