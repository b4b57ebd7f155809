"""Shared by the `bench graphql` programs: the tables, the SQL and the expected answers.

`cargo xtask bench graphql` starts a Postgres server with graphql_pg_server.py (tables made
and filled from ``SCHEMA_SQL``), serves the same schema with Puff (puff_graphql.py) and with
Strawberry (strawberry_graphql.py), checks one answer of each server per case with
graphql_check.py, then loads them with wrk. The servers find the database in BENCH_PG_URL
(Puff: its `default` pool, from `--default-postgres-url`).

- (a) ``{ hello }``: a Python resolver returning ``"world"``.
- (b) ``{ parents { id name children { id name } } }``: ``PARENTS`` parents, each with
  ``CHILDREN_PER_PARENT`` children: one query for the parents, one batched query for the
  children of all of them (``CHILDREN_SQL``, ``= ANY($1)`` over the parent ids).
"""

from __future__ import annotations

PARENTS = 100
CHILDREN_PER_PARENT = 100
# Connections of each server's pool (Puff's `pool_size`, asyncpg's min_size = max_size).
POOL_SIZE = 10

PARENTS_SQL = "SELECT id, name FROM bench_parent ORDER BY id"
CHILDREN_SQL = (
    "SELECT id, parent_id, name FROM bench_child WHERE parent_id = ANY($1) ORDER BY id"
)

# Child i belongs to parent (i - 1) % PARENTS + 1: the children of one parent are spread over
# the table, so grouping them by parent is real work.
SCHEMA_SQL = f"""
DROP TABLE IF EXISTS bench_child;
DROP TABLE IF EXISTS bench_parent;
CREATE TABLE bench_parent (id int PRIMARY KEY, name text);
CREATE TABLE bench_child (
    id int PRIMARY KEY, parent_id int NOT NULL REFERENCES bench_parent, name text
);
INSERT INTO bench_parent SELECT i, 'parent-' || i FROM generate_series(1, {PARENTS}) AS i;
INSERT INTO bench_child SELECT i, (i - 1) % {PARENTS} + 1, 'child-' || i
FROM generate_series(1, {PARENTS * CHILDREN_PER_PARENT}) AS i;
CREATE INDEX bench_child_parent_id ON bench_child (parent_id);
ANALYZE bench_parent;
ANALYZE bench_child;
"""
DROP_SQL = "DROP TABLE IF EXISTS bench_child, bench_parent"


def expected_parents() -> list[dict]:
    """The `parents` of case (b), ordered by id, each with its children ordered by id."""
    out = []
    for p in range(1, PARENTS + 1):
        children = [
            {"id": c, "name": f"child-{c}"}
            for c in range(p, PARENTS * CHILDREN_PER_PARENT + 1, PARENTS)
        ]
        out.append({"id": p, "name": f"parent-{p}", "children": children})
    return out
