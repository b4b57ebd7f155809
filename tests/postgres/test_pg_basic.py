from __future__ import annotations

from puff import postgres


def test_select_and_description(conn: postgres.Connection) -> None:
    cur = conn.cursor()
    cur.execute("SELECT 1 AS one, 'two'::text AS two")
    assert cur.fetchone() == (1, "two")
    assert cur.fetchone() is None
    assert cur.description is not None
    assert [d[0] for d in cur.description] == ["one", "two"]
    assert cur.rowcount == 1


def test_positional_and_named_params(conn: postgres.Connection) -> None:
    cur = conn.cursor()
    cur.execute("SELECT %s::int + %s::int, %s::text", (2, 3, "x"))
    assert cur.fetchall() == [(5, "x")]
    cur.execute("SELECT %(a)s::int * %(b)s::int, %(a)s::int", {"a": 6, "b": 7})
    assert cur.fetchall() == [(42, 6)]


def test_percent_and_placeholders_in_literals(conn: postgres.Connection) -> None:
    cur = conn.cursor()
    cur.execute("SELECT '100%%', '%s', %s::text, $$ %s $$ -- %s\n", ("p",))
    assert cur.fetchone() == ("100%", "%s", "p", " %s ")
    cur.execute("SELECT '50%'")  # no params: the text is sent unchanged
    assert cur.fetchone() == ("50%",)
    cur.execute("SELECT E'it''s \\' %s', %s::int", (1,))
    assert cur.fetchone() == ("it's ' %s", 1)


def test_wrong_parameter_count_is_programming_error(conn: postgres.Connection) -> None:
    cur = conn.cursor()
    try:
        cur.execute("SELECT %s, %s", (1,))
    except postgres.ProgrammingError as e:
        assert "2 placeholders" in str(e)
    else:
        raise AssertionError("expected ProgrammingError")


def test_iteration_fetchmany_rowcount(conn: postgres.Connection, table: str) -> None:
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, name text)")
    cur.executemany(
        f"INSERT INTO {table} VALUES (%s, %s)", [(i, f"n{i}") for i in range(10)]
    )
    assert cur.rowcount == 10
    cur.execute(f"SELECT id FROM {table} ORDER BY id")
    assert cur.fetchmany(3) == [(0,), (1,), (2,)]
    assert [r[0] for r in cur] == list(range(3, 10))
    cur.execute(f"UPDATE {table} SET name = 'x' WHERE id < %s", (4,))
    assert cur.rowcount == 4
    conn.commit()


def test_executemany_named(conn: postgres.Connection, table: str) -> None:
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table} (a int, b text)")
    cur.executemany(
        f"INSERT INTO {table} VALUES (%(a)s, %(b)s)",
        [{"a": 1, "b": "x"}, {"b": "y", "a": 2}],
    )
    cur.execute(f"SELECT a, b FROM {table} ORDER BY a")
    assert cur.fetchall() == [(1, "x"), (2, "y")]
    conn.rollback()


def test_exception_hierarchy_and_pgcode(conn: postgres.Connection, table: str) -> None:
    assert issubclass(postgres.IntegrityError, postgres.DatabaseError)
    assert issubclass(postgres.OperationalError, postgres.DatabaseError)
    assert issubclass(postgres.DatabaseError, postgres.Error)
    # DB-API errors are Puff errors too (one puff.PuffError hierarchy).
    import puff

    assert issubclass(postgres.Error, puff.PuffError)
    assert issubclass(postgres.Error, Exception)
    assert issubclass(postgres.InterfaceError, postgres.Error)
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table} (id int PRIMARY KEY)")
    cur.execute(f"INSERT INTO {table} VALUES (1)")
    conn.commit()
    try:
        cur.execute(f"INSERT INTO {table} VALUES (1)")
    except postgres.IntegrityError as e:
        assert e.pgcode == "23505"
        assert e.pgerror and "duplicate key" in e.pgerror
    else:
        raise AssertionError("expected IntegrityError")
    conn.rollback()
    try:
        cur.execute("SELECT * FROM no_such_table_here")
    except postgres.ProgrammingError as e:
        assert e.pgcode == "42P01"
    else:
        raise AssertionError("expected ProgrammingError")
    conn.rollback()
    try:
        cur.execute("SELECT 1 / 0")
    except postgres.DataError as e:
        assert e.pgcode == "22012"
    else:
        raise AssertionError("expected DataError")
    conn.rollback()


def test_sql_injection_is_stored_as_data(conn: postgres.Connection, table: str) -> None:
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table} (name text)")
    evil = f"x'); DROP TABLE {table}; --"
    cur.execute(f"INSERT INTO {table} (name) VALUES (%s)", (evil,))
    cur.execute(f"SELECT name FROM {table} WHERE name = %(n)s", {"n": evil})
    assert cur.fetchall() == [(evil,)]
    cur.execute(f"SELECT count(*) FROM {table}")
    assert cur.fetchone() == (1,)
    conn.commit()


def test_unknown_pool_is_interface_error() -> None:
    try:
        postgres.connect("nope")
    except postgres.InterfaceError as e:
        assert "nope" in str(e)
    else:
        raise AssertionError("expected InterfaceError")


def test_closed_connection_and_cursor(conn: postgres.Connection) -> None:
    c = postgres.connect()
    cur = c.cursor()
    c.close()
    assert c.closed
    try:
        cur.execute("SELECT 1")
    except postgres.InterfaceError:
        pass
    else:
        raise AssertionError("expected InterfaceError")


def test_recreated_table_with_other_columns(
    conn: postgres.Connection, table: str
) -> None:
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table} (a int)")
    cur.execute(f"INSERT INTO {table} VALUES (1)")
    cur.execute(f"SELECT * FROM {table}")
    assert cur.fetchall() == [(1,)]
    cur.execute(f"DROP TABLE {table}")
    cur.execute(f"CREATE TABLE {table} (a text, b int)")
    cur.execute(f"INSERT INTO {table} VALUES ('x', 2)")
    for _ in range(3):  # a stale cached statement fails at most once
        try:
            cur.execute(f"SELECT * FROM {table}")
        except postgres.NotSupportedError:
            continue
        assert cur.fetchall() == [("x", 2)]
        break
    else:
        raise AssertionError("the stale statement was never re-prepared")


def test_import_error_names_the_feature_when_disabled() -> None:
    import importlib.util

    import puff

    native_pg = puff._native.postgres
    try:
        del puff._native.postgres
        spec = importlib.util.find_spec("puff.postgres")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except ImportError as e:
            assert "`postgres` feature" in str(e)
        else:
            raise AssertionError("expected ImportError")
    finally:
        puff._native.postgres = native_pg


def test_many_statements_without_params(conn: postgres.Connection, table: str) -> None:
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table} (a int); INSERT INTO {table} VALUES (1), (2)")
    cur.execute(f"SELECT sum(a) FROM {table}")
    assert cur.fetchone() == (3,)
    conn.rollback()


def test_executemany_pipelined_in_transaction(
    conn: postgres.Connection, table: str
) -> None:
    cur = conn.cursor()
    cur.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, v text)")
    cur.executemany(
        f"INSERT INTO {table} VALUES (%s, %s)", [(i, str(i)) for i in range(500)]
    )
    assert cur.rowcount == 500
    cur.execute(f"SELECT count(*), sum(id) FROM {table}")
    assert cur.fetchone() == (500, sum(range(500)))
    conn.commit()
    try:
        cur.executemany(
            f"INSERT INTO {table} VALUES (%s, %s)",
            [(1000, "a"), (7, "dup"), (1001, "b")],
        )
    except postgres.IntegrityError as e:
        assert e.pgcode == "23505"
    else:
        raise AssertionError("expected IntegrityError")
    conn.rollback()
    cur.execute(f"SELECT count(*) FROM {table}")
    assert cur.fetchone() == (500,)
    conn.rollback()
