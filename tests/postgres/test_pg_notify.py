"""LISTEN / NOTIFY through ``puff.psycopg2``: ``connection.notifies`` gets ``Notify`` objects
(pid, channel, payload) after statements, ``commit()`` and ``poll()``, as the real psycopg2
does on the same sequence; a listening connection keeps its pooled connection, and gives it
back with ``UNLISTEN *`` so nobody else receives its notifications."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from conftest import in_use_settles_at, on_every_pooled_connection, real_connect, real_psycopg2

import puff
import puff.psycopg2 as shim
from puff import postgres
from puff.psycopg2 import extensions



def drivers() -> list[tuple[Any, Callable[[], Any]]]:
    """(extensions module, connect) of the shim and of the real psycopg2."""
    real: Any = real_psycopg2()
    return [(extensions, shim.connect), (real.extensions, real_connect)]


def wait_for_notifies(conn: Any, count: int, ext: Any) -> None:
    """poll() until ``count`` notifications arrived (5 s at most)."""
    deadline = time.monotonic() + 5
    while len(conn.notifies) < count and time.monotonic() < deadline:
        assert conn.poll() == ext.POLL_OK
        puff.sleep_ms(10)


def test_same_sequence_as_psycopg2() -> None:
    seen = []
    for ext, connect in drivers():
        conn, other = connect(), connect()
        conn.autocommit = other.autocommit = True
        try:
            cur = conn.cursor()
            cur.execute("LISTEN ch_a; LISTEN ch_b")
            cur.execute("NOTIFY ch_a, 'self'")
            after_own = [(n.channel, n.payload) for n in conn.notifies]
            pid = conn.get_backend_pid()
            assert all(n.pid == pid for n in conn.notifies)
            sent = other.cursor()
            sent.execute("SELECT pg_backend_pid(), pg_notify('ch_b', 'from other'), pg_notify('ch_c', 'x')")
            other_pid = sent.fetchone()[0]
            wait_for_notifies(conn, 2, ext)
            delivered = conn.notifies[1]
            assert (delivered.pid, delivered.channel, delivered.payload) == (other_pid, "ch_b", "from other")
            # In a transaction: nothing before the commit, everything at it.
            conn.autocommit = False
            cur.execute("NOTIFY ch_a, 'in tx'")
            before_commit = len(conn.notifies)
            conn.commit()
            seen.append(
                (
                    after_own,
                    before_commit,
                    [(n.channel, n.payload) for n in conn.notifies],
                    isinstance(delivered, tuple),
                    delivered == (other_pid, "ch_b"),
                    len(delivered),
                )
            )
        finally:
            conn.close()
            other.close()
    assert seen[0] == seen[1]
    assert seen[0][2] == [("ch_a", "self"), ("ch_b", "from other"), ("ch_a", "in tx")]


def test_notify_objects_as_psycopg2() -> None:
    for ext, _ in drivers():
        n = ext.Notify(5, "ch", "p")
        assert (n.pid, n.channel, n.payload, n[0], n[1], len(n)) == (5, "ch", "p", 5, "ch", 2)
        pid, channel = n
        assert (pid, channel) == (5, "ch")
        assert n == (5, "ch") and n != ext.Notify(5, "ch", "q")
        assert hash(ext.Notify(5, "ch")) == hash((5, "ch"))
        assert repr(n) == "Notify(5, 'ch', 'p')"
    assert extensions.POLL_OK == real_psycopg2().extensions.POLL_OK  # type: ignore[attr-defined]


def test_listening_keeps_the_pooled_connection_and_gives_it_back_clean() -> None:
    assert in_use_settles_at(0)
    before = 0
    conn = shim.connect()
    conn.autocommit = True
    conn.cursor().execute("LISTEN kept")
    assert postgres.pool_status()["in_use"] == before + 1
    sender = shim.connect()
    sender.autocommit = True
    sender.cursor().execute("NOTIFY kept, 'one'")
    wait_for_notifies(conn, 1, extensions)
    assert [n.payload for n in conn.notifies] == ["one"]
    conn.cursor().execute("UNLISTEN *")
    assert in_use_settles_at(before)
    conn.cursor().execute("LISTEN kept")
    conn.close()
    assert in_use_settles_at(before)
    # Every pooled connection listens to nothing now.
    sql = "SELECT pg_backend_pid(), array(SELECT pg_listening_channels())"
    for pid, channels in on_every_pooled_connection(sql):
        assert channels == [], pid
    sender.close()
