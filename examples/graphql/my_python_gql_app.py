"""The docs' "Puff ♥ Graphql" schema (`[[graphql]] schema = "my_python_gql_app.Schema"`).

Queries, a mutation and a subscription on Puff's GraphQL engine, which resolves layer by
layer: `hello_world` hands Puff a SQL statement that runs on the `default` Postgres pool
(rows are mapped to `DbObject` fields in Rust), `DbObject.child_sub_query` runs once for
the whole `hello_world` layer and correlates its rows to their parents by key,
`hello_world_object` returns plain Python objects, and the pub/sub fields chat on
`my_puff_chat_channel`.

As in the docs, with three fixes so it runs: postponed annotations (the forward reference
to `DbObject`), the missing `Iterable` import, and `child_sub_query` reading and keying on
the parent's `was_input` column (the parent layer has no `field1`). See README.md here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, List, Optional, Tuple

from puff.pubsub import global_pubsub

pubsub = global_pubsub
CHANNEL = "my_puff_chat_channel"


@dataclass
class SomeInputObject:
    some_count: int
    some_string: str


@dataclass
class SomeObject:
    field1: int
    field2: str


@dataclass
class DbObject:
    was_input: int
    title: str

    @classmethod
    def child_sub_query(cls, context, /) -> Tuple[DbObject, str, List[Any], List[str], List[str]]:
        # Extract column values from the previous layer to use in this one.
        parent_values = [r[0] for r in context.parent_values(["was_input"])]
        sql_q = "SELECT a::int as was_input, $2 as title FROM unnest($1::int[]) a"
        # returning a sql query along with 2 lists allow you to correlate and join the parent with the child.
        return ..., sql_q, [parent_values, "from child"], ["was_input"], ["was_input"]


@dataclass
class Query:
    @classmethod
    def hello_world(cls, parents, context, /, my_input: int) -> Tuple[List[DbObject], str, List[Any]]:
        # Return a Raw query for Puff to execute in Postgres.
        # The ellipsis is a placeholder allowing the Python type system to know which Field type it should transform into.
        return ..., "SELECT $1::int as was_input, 'hi from pg'::TEXT as title", [my_input]

    @classmethod
    def hello_world_object(
        cls, parents, context, /, my_input: List[SomeInputObject]
    ) -> Tuple[List[SomeObject], List[SomeObject]]:
        objs = [SomeObject(field1=0, field2="Python object")]
        if my_input:
            for inp in my_input:
                objs.append(SomeObject(field1=inp.some_count, field2=inp.some_string))
        # Return some normal Python objects.
        return ..., objs

    @classmethod
    def new_connection_id(cls, context, /) -> str:
        # Get a new connection identifier for pubsub.
        return pubsub.new_connection_id()


@dataclass
class Mutation:
    @classmethod
    def send_message_to_channel(cls, context, /, connection_id: str, message: str) -> bool:
        print(context.auth_token)  # Authoritzation bearer token passed in the context
        return pubsub.publish_as(connection_id, CHANNEL, message)


@dataclass
class MessageObject:
    message_text: str
    from_connection_id: str
    num_processed: int


@dataclass
class Subscription:
    @classmethod
    def read_messages_from_channel(
        cls, context, /, connection_id: Optional[str] = None
    ) -> Iterable[MessageObject]:
        if connection_id is not None:
            conn = pubsub.connection_with_id(connection_id)
        else:
            conn = pubsub.connection()
        conn.subscribe(CHANNEL)
        num_processed = 0
        while msg := conn.receive():
            from_connection_id = msg.from_connection_id
            # Filter out messages from yourself.
            if connection_id != from_connection_id:
                yield MessageObject(
                    message_text=msg.text, from_connection_id=from_connection_id, num_processed=num_processed
                )
                num_processed += 1


@dataclass
class Schema:
    query: Query
    mutation: Mutation
    subscription: Subscription
