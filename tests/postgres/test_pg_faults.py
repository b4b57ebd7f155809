"""Server restart: queries during the outage raise OperationalError, the next one after
the restart succeeds, the process stays up. Uses the private server (pool `restart`)."""

from __future__ import annotations

import puff
from pg_server import PgServer
from puff import postgres


@puff.blocking
def stop_server(server: PgServer) -> None:
    server.stop()


@puff.blocking
def start_server(server: PgServer) -> None:
    server.start()


def select_one() -> int:
    c = postgres.connect("restart")
    c.autocommit = True
    cur = c.cursor()
    cur.execute("SELECT 1")
    row = cur.fetchone()
    c.close()
    assert row is not None
    return int(row[0])


def test_restart_of_the_server() -> None:
    server = PgServer.from_env()
    # Fill the pool with idle connections that the restart will break.
    conns = [postgres.connect("restart") for _ in range(3)]
    for c in conns:
        c.cursor().execute("SELECT 1")
    for c in conns:
        c.close()
    assert postgres.pool_status("restart")["connections"] >= 1

    stop_server(server)
    try:
        for _ in range(3):
            try:
                select_one()
            except postgres.OperationalError:
                pass
            else:
                raise AssertionError(
                    "expected OperationalError while the server is down"
                )
    finally:
        start_server(server)
    assert select_one() == 1
    assert [select_one() for _ in range(5)] == [1] * 5


def test_connection_broken_mid_transaction() -> None:
    server = PgServer.from_env()
    c = postgres.connect("restart")
    c.cursor().execute("SELECT 1")  # transaction open on a pooled connection
    stop_server(server)
    try:
        try:
            c.cursor().execute("SELECT 1")
        except postgres.OperationalError:
            pass
        else:
            raise AssertionError("expected OperationalError")
    finally:
        start_server(server)
    c.rollback()
    c.cursor().execute("SELECT 1")
    c.close()
    assert select_one() == 1


def test_unreachable_server_raises_operational_error_without_password() -> None:
    for _ in range(2):
        c = postgres.connect("down")
        try:
            c.cursor().execute("SELECT 1")
        except postgres.OperationalError as e:
            assert "127.0.0.1" in str(e)
            assert "hunter2" not in str(e)
            assert "***" in str(e)
        else:
            raise AssertionError("expected OperationalError")
    # Other pools are unaffected.
    assert select_one() == 1
