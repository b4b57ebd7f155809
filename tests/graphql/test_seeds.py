"""The seeds' schema and their pytest example, in process (both README variants)."""

from __future__ import annotations

from typing import Any

from puff import global_graphql as global_graphql_from_puff
from puff.graphql import global_graphql

gql = global_graphql
gql_001 = global_graphql_from_puff()


def test_gql_as_in_the_seeds() -> None:
    QUERY = """
    query {
        hello_world(my_input: 3) {
            title
            was_input
        }
    }
    """
    for client in (gql, gql_001):
        result = client.query(QUERY, {})
        assert "data" in result
        assert "errors" not in result
        assert result["data"]["hello_world"][0]["title"] == "hi from pg"
        assert result["data"]["hello_world"][0]["was_input"] == 3


def test_response_fields_follow_the_query_order() -> None:
    result = gql.query("{ hello_world(my_input: 1) { was_input title } }")
    assert list(result["data"]["hello_world"][0]) == ["was_input", "title"]


def test_input_objects_literal_and_variables() -> None:
    literal = gql.query(
        '{ hello_world_object(my_input: [{some_count: 5, some_string: "five"}]) { field1 field2 } }'
    )
    assert literal == {
        "data": {
            "hello_world_object": [
                {"field1": 0, "field2": "Python object"},
                {"field1": 5, "field2": "five"},
            ]
        }
    }
    with_vars = gql.query(
        "query Q($inp: [SomeInputObject!]!) { hello_world_object(my_input: $inp) { field1 field2 } }",
        {"inp": [{"some_count": 7, "some_string": "a"}, {"some_count": 8, "some_string": "b"}]},
    )
    assert [o["field1"] for o in with_vars["data"]["hello_world_object"]] == [0, 7, 8]


def test_child_sub_query_correlates_children_to_parents() -> None:
    result = gql.query(
        "{ a: hello_world(my_input: 4) { was_input child_sub_query { was_input title } } "
        "b: hello_world(my_input: 9) { child_sub_query { was_input title } } }"
    )
    assert "errors" not in result, result
    assert result["data"]["a"] == [
        {"was_input": 4, "child_sub_query": {"was_input": 4, "title": "from child"}}
    ]
    assert result["data"]["b"][0]["child_sub_query"]["was_input"] == 9


def test_new_connection_id_and_send_message() -> None:
    conn_id = gql.query("{ new_connection_id }")["data"]["new_connection_id"]
    assert isinstance(conn_id, str) and len(conn_id) >= 16
    result = gql.query(
        "mutation M($c: String!, $m: String!) { send_message_to_channel(connection_id: $c, message: $m) }",
        {"c": conn_id, "m": "hello"},
        auth_token="secret-token",
    )
    assert result == {"data": {"send_message_to_channel": True}}


def test_schema_types_and_nullability_by_introspection() -> None:
    result: dict[str, Any] = gql.query(
        '{ __type(name: "Query") { fields { name args { name type { kind ofType { name } } } '
        "type { kind ofType { kind ofType { kind ofType { name } } } } } } }"
    )
    fields = {f["name"]: f for f in result["data"]["__type"]["fields"]}
    assert set(fields) == {"hello_world", "hello_world_object", "new_connection_id"}
    hw = fields["hello_world"]
    # [DbObject!]!
    assert hw["type"]["kind"] == "NON_NULL"
    assert hw["type"]["ofType"]["kind"] == "LIST"
    assert hw["type"]["ofType"]["ofType"]["ofType"]["name"] == "DbObject"
    assert hw["args"] == [{"name": "my_input", "type": {"kind": "NON_NULL", "ofType": {"name": "Int"}}}]
    sub = gql.query('{ __type(name: "Subscription") { fields { name args { name defaultValue } } } }')
    (field,) = sub["data"]["__type"]["fields"]
    assert field["name"] == "read_messages_from_channel"
    assert field["args"] == [{"name": "connection_id", "defaultValue": "null"}]
