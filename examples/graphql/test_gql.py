"""The docs' "Puff ♥ Pytest" example: run it inside the runtime with

    puff-cli --config examples/graphql/puff.toml pytest examples/graphql
"""

from puff.graphql import global_graphql

gql = global_graphql


def test_gql():
    QUERY = """
    query {
        hello_world(my_input: 3) {
            title
            was_input
        }
    }
    """
    result = gql.query(QUERY, {})
    assert 'data' in result
    assert 'errors' not in result
    assert result['data']["hello_world"][0]["title"] == "hi from pg"
    assert result['data']["hello_world"][0]["was_input"] == 3


def test_child_layer_is_correlated_to_its_parents():
    # Two `hello_world` parents; `child_sub_query` runs once for both, one SQL statement.
    result = gql.query(
        "{ a: hello_world(my_input: 4) { child_sub_query { was_input title } } "
        "b: hello_world(my_input: 9) { child_sub_query { was_input title } } }"
    )
    assert "errors" not in result, result
    assert result["data"]["a"] == [{"child_sub_query": {"was_input": 4, "title": "from child"}}]
    assert result["data"]["b"] == [{"child_sub_query": {"was_input": 9, "title": "from child"}}]


def test_python_objects_and_input_objects():
    result = gql.query(
        "query Q($inp: [SomeInputObject!]!) { hello_world_object(my_input: $inp) { field1 field2 } }",
        {"inp": [{"some_count": 5, "some_string": "five"}]},
    )
    assert result == {
        "data": {
            "hello_world_object": [
                {"field1": 0, "field2": "Python object"},
                {"field1": 5, "field2": "five"},
            ]
        }
    }


def test_mutation_publishes_with_the_bearer_token():
    conn_id = gql.query("{ new_connection_id }")["data"]["new_connection_id"]
    result = gql.query(
        "mutation M($c: String!) { send_message_to_channel(connection_id: $c, message: \"hi\") }",
        {"c": conn_id},
        auth_token="my-token",  # what `Authorization: Bearer my-token` gives over HTTP
    )
    assert result == {"data": {"send_message_to_channel": True}}
