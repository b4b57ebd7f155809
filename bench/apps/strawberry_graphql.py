"""`bench graphql`, the peer: the schema of puff_graphql.py in Strawberry, served by uvicorn.

    uvicorn --http httptools --loop uvloop --workers 1 ... strawberry_graphql:app

`hello` is a plain resolver; `parents` fetches the parents with asyncpg and `Parent.children`
goes through a DataLoader (one per request) that loads the children of every parent of the
request with one query (graphql_common.CHILDREN_SQL). The asyncpg pool (POOL_SIZE
connections to BENCH_PG_URL) is made at ASGI lifespan startup. POST /graphql only.
"""

from __future__ import annotations

import os
from typing import List

import asyncpg
import strawberry
from graphql_common import CHILDREN_SQL, PARENTS_SQL, POOL_SIZE
from strawberry.asgi import GraphQL
from strawberry.dataloader import DataLoader

POOL: asyncpg.Pool | None = None


@strawberry.type
class Child:
    id: int
    parent_id: int
    name: str


async def load_children(parent_ids: List[int]) -> List[List[Child]]:
    rows = await POOL.fetch(CHILDREN_SQL, list(parent_ids))
    by_parent: dict[int, List[Child]] = {p: [] for p in parent_ids}
    for r in rows:
        by_parent[r["parent_id"]].append(
            Child(id=r["id"], parent_id=r["parent_id"], name=r["name"])
        )
    return [by_parent[p] for p in parent_ids]


@strawberry.type
class Parent:
    id: int
    name: str

    @strawberry.field
    async def children(self, info: strawberry.Info) -> List[Child]:
        return await info.context["children"].load(self.id)


@strawberry.type
class Query:
    @strawberry.field
    def hello(self) -> str:
        return "world"

    @strawberry.field
    async def parents(self) -> List[Parent]:
        rows = await POOL.fetch(PARENTS_SQL)
        return [Parent(id=r["id"], name=r["name"]) for r in rows]


class BenchGraphQL(GraphQL):
    async def get_context(self, request, response):
        return {"children": DataLoader(load_fn=load_children)}


graphql_app = BenchGraphQL(strawberry.Schema(query=Query), graphql_ide=None)


async def lifespan(receive, send):
    global POOL
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            POOL = await asyncpg.create_pool(
                os.environ["BENCH_PG_URL"], min_size=POOL_SIZE, max_size=POOL_SIZE
            )
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await POOL.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def not_found(send):
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
    elif scope["type"] == "http" and scope["path"] != "/graphql":
        await not_found(send)
    else:
        await graphql_app(scope, receive, send)
