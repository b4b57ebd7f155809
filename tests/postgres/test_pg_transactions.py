from __future__ import annotations

from puff import postgres


def count(table: str) -> int:
    c = postgres.connect()
    c.autocommit = True
    cur = c.cursor()
    cur.execute(f"SELECT count(*) FROM {table}")
    row = cur.fetchone()
    c.close()
    assert row is not None
    return int(row[0])


def make(table: str) -> None:
    c = postgres.connect()
    c.autocommit = True
    c.cursor().execute(f"CREATE TABLE {table} (id int)")
    c.close()


def test_rollback_discards_and_commit_persists(table: str) -> None:
    make(table)
    c = postgres.connect()
    cur = c.cursor()
    cur.execute(f"INSERT INTO {table} VALUES (1)")
    assert c.in_transaction
    assert count(table) == 0  # not visible to others before commit
    c.rollback()
    assert count(table) == 0
    cur.execute(f"INSERT INTO {table} VALUES (2)")
    c.commit()
    assert count(table) == 1
    c.close()


def test_with_connection_commits_or_rolls_back(table: str) -> None:
    make(table)
    c = postgres.connect()
    with c:
        c.cursor().execute(f"INSERT INTO {table} VALUES (1)")
    assert count(table) == 1
    try:
        with c:
            c.cursor().execute(f"INSERT INTO {table} VALUES (2)")
            raise ValueError("boom")
    except ValueError:
        pass
    assert count(table) == 1
    assert not c.in_transaction
    c.close()


def test_autocommit_commits_each_statement(table: str) -> None:
    make(table)
    c = postgres.connect()
    c.autocommit = True
    c.cursor().execute(f"INSERT INTO {table} VALUES (1)")
    assert not c.in_transaction
    assert count(table) == 1
    c.rollback()  # nothing to roll back
    assert count(table) == 1
    c.close()


def test_close_rolls_back_open_transaction(table: str) -> None:
    make(table)
    c = postgres.connect()
    c.cursor().execute(f"INSERT INTO {table} VALUES (1)")
    c.close()
    assert count(table) == 0


def test_error_keeps_transaction_until_rollback(table: str) -> None:
    make(table)
    c = postgres.connect()
    cur = c.cursor()
    cur.execute(f"INSERT INTO {table} VALUES (1)")
    try:
        cur.execute("SELECT 1/0")
    except postgres.DataError:
        pass
    try:
        cur.execute("SELECT 1")
    except postgres.InternalError as e:
        assert e.pgcode == "25P02"  # in failed transaction
    else:
        raise AssertionError("expected InternalError")
    c.rollback()
    cur.execute("SELECT 1")
    assert cur.fetchone() == (1,)
    c.close()
    assert count(table) == 0


def test_autocommit_cannot_change_inside_a_transaction() -> None:
    c = postgres.connect()
    c.cursor().execute("SELECT 1")
    try:
        c.autocommit = True
    except postgres.ProgrammingError:
        pass
    else:
        raise AssertionError("expected ProgrammingError")
    c.rollback()
    c.autocommit = True
    assert c.autocommit
    c.close()
