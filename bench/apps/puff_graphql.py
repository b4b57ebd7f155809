"""`bench graphql`, Puff: the schema served by Puff's GraphQL engine (puff_graphql.toml).

(a) `hello` is a Python resolver; (b) `parents` and `Parent.children` return SQL that Puff
runs on its `default` Postgres pool: the children of all the parents with one query, matched
to their parents by `parent_id` = `id`. strawberry_graphql.py is the same schema in Strawberry.
"""

from dataclasses import dataclass
from typing import Any, List, Tuple


@dataclass
class Child:
    id: int
    parent_id: int
    name: str


@dataclass
class Parent:
    id: int
    name: str

    @classmethod
    def children(
        cls, context, /
    ) -> Tuple[List[Child], str, List[Any], List[str], List[str]]:
        ids = [r[0] for r in context.parent_values(["id"])]
        return (
            ...,
            "SELECT id, parent_id, name FROM bench_child WHERE parent_id = ANY($1) ORDER BY id",
            [ids],
            ["id"],
            ["parent_id"],
        )


@dataclass
class Query:
    @classmethod
    def hello(cls, context, /) -> str:
        return "world"

    @classmethod
    def parents(cls, context, /) -> Tuple[List[Parent], str, List[Any]]:
        return ..., "SELECT id, name FROM bench_parent ORDER BY id", []


@dataclass
class Schema:
    query: Query
