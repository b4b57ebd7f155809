"""A schema exercising layer-based resolution: three SQL layers (the N+1 proof), Python
objects with keys, nested dataclasses, every scalar, errors and async resolvers."""

from __future__ import annotations

import asyncio
import datetime
import uuid
from dataclasses import dataclass, field
from collections.abc import Iterator
from typing import Any, Optional

import puff
from puff import graphql


@dataclass
class Leaf:
    id: int
    child_id: int
    label: str


@dataclass
class Child:
    id: int
    parent_id: int
    name: str

    @classmethod
    def leaves(cls, context, /) -> tuple[list[Leaf], str, list[Any], list[str], list[str]]:
        ids = [r[0] for r in context.parent_values(["id"])]
        sql = "SELECT id, child_id, label FROM gql_leaf WHERE child_id = ANY($1) ORDER BY id"
        return ..., sql, [ids], ["id"], ["child_id"]


@dataclass
class Parent:
    id: int
    name: str

    @classmethod
    def children(cls, context, /) -> tuple[list[Child], str, list[Any], list[str], list[str]]:
        ids = [r[0] for r in context.parent_values(["id"])]
        sql = "SELECT id, parent_id, name FROM gql_child WHERE parent_id = ANY($1) ORDER BY id"
        return ..., sql, [ids], ["id"], ["parent_id"]

    @classmethod
    def first_child(cls, context, /) -> tuple[Child, str, list[Any], list[str], list[str]]:
        ids = [r[0] for r in context.parent_values(["id"])]
        sql = "SELECT id, parent_id, name FROM gql_child WHERE parent_id = ANY($1) ORDER BY id DESC"
        return ..., sql, [ids], ["id"], ["parent_id"]

    @classmethod
    def layer_size(cls, parents, context, /) -> int:
        # Runs once for the whole layer: the number of parents it saw.
        assert len(parents) == len(context)
        return len(parents)


@dataclass
class Tag:
    owner: int
    text: str


@dataclass
class Point:
    x: float
    y: float


@dataclass
class Thing:
    id: int
    when: datetime.datetime
    day: datetime.date
    uid: uuid.UUID
    extra: Any
    note: Optional[str]
    location: Point
    path: list[Point] = field(default_factory=list)

    @classmethod
    def tags(cls, context, /) -> tuple[list[Tag], list[Tag], list[str], list[str]]:
        ids = [r[0] for r in context.parent_values(["id"])]
        objs = [Tag(owner=i, text=f"tag-{i}-{n}") for i in ids for n in range(2)]
        return ..., objs, ["id"], ["owner"]


@dataclass
class Filter:
    min_id: int = 0
    names: Optional[list[str]] = None


@dataclass
class Query:
    @classmethod
    def parents(cls, context, /, limit: int = 100) -> tuple[list[Parent], str, list[Any]]:
        return ..., "SELECT id, name FROM gql_parent ORDER BY id LIMIT $1", [limit]

    @classmethod
    def parent(cls, context, /, id: int) -> tuple[Parent, str, list[Any]]:
        return ..., "SELECT id, name FROM gql_parent WHERE id = $1", [id]

    @classmethod
    def things(cls, context, /) -> list[Thing]:
        return [
            Thing(
                id=i,
                when=datetime.datetime(2024, 5, 1, 12, 30, i, tzinfo=datetime.timezone.utc),
                day=datetime.date(2024, 5, i + 1),
                uid=uuid.UUID(int=i),
                extra={"n": i, "list": [1, "two", None]},
                note=None if i % 2 else f"note {i}",
                location=Point(x=i, y=-i),
                path=[Point(x=0, y=0), Point(x=i, y=i)],
            )
            for i in range(3)
        ]

    @classmethod
    def echo(
        cls,
        context,
        /,
        when: datetime.datetime,
        uid: uuid.UUID,
        extra: Any = None,
        filters: Optional[Filter] = None,
        ids: list[int] = [],  # noqa: B006
    ) -> str:
        assert isinstance(when, datetime.datetime) and isinstance(uid, uuid.UUID)
        f = filters if filters is not None else Filter()
        return f"{when.isoformat()}|{uid}|{extra!r}|{f.min_id}|{f.names}|{ids}"

    @classmethod
    def token(cls, context, /) -> Optional[str]:
        return context.auth_token

    @classmethod
    def boom(cls, context, /) -> int:
        raise RuntimeError("resolver failed on purpose")

    @classmethod
    def fine(cls, context, /) -> str:
        return "still fine"

    @classmethod
    def waits_closed(cls, context, /) -> int:
        return len(WAITS_CLOSED)

    @classmethod
    def ticks_closed(cls, context, /) -> int:
        # Subscriptions to `ticks` whose generator was closed.
        return len(TICKS_CLOSED)

    @classmethod
    def too_big(cls, context, /) -> int:
        return 1 << 40

    @classmethod
    def wrong_type(cls, context, /) -> int:
        return "not an int"  # type: ignore[return-value]

    @classmethod
    def slow(cls, context, /, ms: int) -> int:
        puff.sleep_ms(ms)
        return ms

    @classmethod
    async def coroutine(cls, context, /) -> str:
        await asyncio.sleep(0)
        return "from a coroutine"

    @classmethod
    def bad_sql(cls, context, /) -> tuple[list[Parent], str, list[Any]]:
        return ..., "SELECT nope FROM gql_missing_table", []

    @classmethod
    @graphql.borrow_db_context
    def parent_count(cls, context, /) -> int:
        from puff import postgres

        conn = postgres.connect()
        try:
            cur = conn.cursor()
            cur.execute("SELECT count(*) FROM gql_parent")
            return cur.fetchone()[0]
        finally:
            conn.close()


    @classmethod
    def application_name(cls, context, /) -> tuple[str, str, list[Any]]:
        return ..., "SELECT current_setting('application_name')", []

    @classmethod
    def sql_pid(cls, context, /) -> tuple[int, str, list[Any]]:
        return ..., "SELECT pg_backend_pid()", []

    @classmethod
    @graphql.borrow_db_context
    def borrowed_pid(cls, context, /) -> int:
        return _backend_pid(expect_borrowed=True)

    @classmethod
    def own_pid(cls, context, /) -> int:
        return _backend_pid(expect_borrowed=False)

    @classmethod
    @graphql.borrow_db_context
    def uncommitted_parent(cls, context, /) -> tuple[Parent, str, list[Any]]:
        from puff import postgres

        # Opens a transaction on the request's connection and leaves it open: the SQL
        # below runs inside it (and sees the row); the request's end rolls it back.
        postgres.connect().cursor().execute("INSERT INTO gql_parent VALUES (9999, 'uncommitted')")
        return ..., "SELECT id, name FROM gql_parent WHERE id = 9999", []


def _backend_pid(*, expect_borrowed: bool) -> int:
    from puff import postgres

    conn = postgres.connect()
    assert conn.borrowed is expect_borrowed
    try:
        cur = conn.cursor()
        cur.execute("SELECT pg_backend_pid()")
        return cur.fetchone()[0]
    finally:
        conn.close()


@dataclass
class Mutation:
    @classmethod
    def rename_parent(cls, context, /, id: int, name: str) -> tuple[Parent, str, list[Any]]:
        return ..., "UPDATE gql_parent SET name = $2 WHERE id = $1 RETURNING id, name", [id, name]


TICKS_CLOSED: list[int] = []
WAITS_CLOSED: list[str] = []


@dataclass
class Subscription:
    @classmethod
    def ticks(cls, context, /, every_ms: int = 20) -> Iterator[int]:
        n = 0
        try:
            while True:
                yield n
                n += 1
                puff.sleep_ms(every_ms)
        finally:
            TICKS_CLOSED.append(n)

    @classmethod
    def waits(cls, context, /) -> Iterator[str]:
        # Blocks in pubsub receive on a channel nobody publishes to.
        from puff.pubsub import global_pubsub

        conn = global_pubsub.connection()
        conn.subscribe("gql-test-silence")
        try:
            yield "ready"
            while msg := conn.receive():
                yield msg.text
        finally:
            WAITS_CLOSED.append("closed")

    @classmethod
    def failing(cls, context, /) -> Iterator[Thing]:
        yield Query.things(context)[0]
        raise ValueError("generator failed on purpose")


@dataclass
class Schema:
    query: Query
    mutation: Mutation
    subscription: Subscription
