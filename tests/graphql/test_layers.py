"""Layer-based execution: one SQL statement per layer, correlation, every return kind."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import CHILDREN_PER_PARENT, LEAVES_PER_CHILD, PARENTS, sql
from puff.graphql import named_graphql

gql = named_graphql("layers")

NESTED = "{ parents { id name children { id name leaves { id label } } } }"


def statements_on_layer_tables() -> int:
    rows = sql(
        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
        "WHERE query ~ 'gql_(parent|child|leaf)' AND query NOT LIKE '%pg_stat_statements%' "
        "AND query NOT ILIKE '%CREATE%' AND query NOT ILIKE '%INSERT%'"
    )
    return int(rows[0][0])


def test_three_levels_run_exactly_three_statements() -> None:
    sql("SELECT pg_stat_statements_reset()")
    before = statements_on_layer_tables()
    result = gql.query(NESTED)
    after = statements_on_layer_tables()
    assert "errors" not in result, result["errors"][:3]
    parents = result["data"]["parents"]
    assert len(parents) == PARENTS
    assert all(len(p["children"]) == CHILDREN_PER_PARENT for p in parents)
    assert all(len(c["leaves"]) == LEAVES_PER_CHILD for p in parents for c in p["children"])
    # Every child belongs to its parent, every leaf to its child.
    for p in parents:
        for c in p["children"]:
            assert (c["id"] - 1) // CHILDREN_PER_PARENT + 1 == p["id"]
            for leaf in c["leaves"]:
                assert (leaf["id"] - 1) // LEAVES_PER_CHILD + 1 == c["id"]
    assert after - before == 3, f"{after - before} statements for a 3-level query"


def test_a_layer_resolver_sees_all_parents_at_once() -> None:
    result = gql.query("{ parents(limit: 7) { id layer_size } }")
    assert [p["layer_size"] for p in result["data"]["parents"]] == [7] * 7


def test_single_object_children_and_missing_rows() -> None:
    result = gql.query("{ parent(id: 3) { name first_child { id } } missing: parent(id: 100000) { id } }")
    assert result["data"]["parent"] == {"name": "parent-3", "first_child": {"id": 3 * CHILDREN_PER_PARENT}}
    assert result["data"]["missing"] is None


def test_python_objects_keys_nested_dataclasses_and_scalars() -> None:
    result = gql.query(
        "{ things { id when day uid extra note location { x y } path { x } tags { owner text } } }"
    )
    assert "errors" not in result, result
    things = result["data"]["things"]
    assert things[1] == {
        "id": 1,
        "when": "2024-05-01T12:30:01+00:00",
        "day": "2024-05-02",
        "uid": "00000000-0000-0000-0000-000000000001",
        "extra": {"n": 1, "list": [1, "two", None]},
        "note": None,
        "location": {"x": 1.0, "y": -1.0},
        "path": [{"x": 0.0}, {"x": 1.0}],
        "tags": [{"owner": 1, "text": "tag-1-0"}, {"owner": 1, "text": "tag-1-1"}],
    }
    assert things[0]["note"] == "note 0"


def test_arguments_become_python_values() -> None:
    result = gql.query(
        'query Q($f: Filter) { echo(when: "2024-01-02T03:04:05", uid: "00000000-0000-0000-0000-00000000000a", '
        'extra: 5, filters: $f, ids: 3) }',
        {"f": {"min_id": 2, "names": ["a", "b"]}},
    )
    assert result == {
        "data": {"echo": "2024-01-02T03:04:05|00000000-0000-0000-0000-00000000000a|5|2|['a', 'b']|[3]"}
    }
    defaults = gql.query('{ echo(when: "2024-01-02T03:04:05", uid: "00000000-0000-0000-0000-00000000000a") }')
    assert defaults["data"]["echo"].endswith("|None|0|None|[]")
    bad = gql.query('{ echo(when: "yesterday", uid: "00000000-0000-0000-0000-00000000000a") }')
    assert bad["data"] is None
    assert "DateTime expects ISO 8601" in bad["errors"][0]["message"]


def test_resolver_exception_is_a_field_error_and_the_rest_resolves() -> None:
    result = gql.query("{ fine boom }")
    assert result["data"] is None  # boom is Int!: the null propagates to the root
    (err,) = result["errors"]
    assert err["path"] == ["boom"]
    assert "RuntimeError: resolver failed on purpose" in err["message"]
    assert err["locations"] == [{"line": 1, "column": 8}]
    again = gql.query("{ fine }")
    assert again == {"data": {"fine": "still fine"}}


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("too_big", "Int cannot represent 1099511627776"),
        ("wrong_type", "Int cannot represent a str"),
        ("bad_sql", "gql_missing_table"),
    ],
)
def test_bad_resolver_results_are_field_errors(field: str, message: str) -> None:
    result = gql.query(f"{{ {field} {'{ id }' if field == 'bad_sql' else ''} }}")
    assert result["data"] is None
    assert message in result["errors"][0]["message"], result
    assert result["errors"][0]["path"] == [field]


def test_coroutine_resolver_and_bearer_token() -> None:
    assert gql.query("{ coroutine }") == {"data": {"coroutine": "from a coroutine"}}
    assert gql.query("{ token }", auth_token="abc") == {"data": {"token": "abc"}}
    assert gql.query("{ token }") == {"data": {"token": None}}


def test_borrow_db_context_resolver_can_query() -> None:
    assert gql.query("{ parent_count }") == {"data": {"parent_count": PARENTS}}


def test_mutation_with_sql_returns_the_updated_row() -> None:
    result = gql.query('mutation { rename_parent(id: 5, name: "renamed") { id name } }')
    assert result == {"data": {"rename_parent": {"id": 5, "name": "renamed"}}}
    assert sql("SELECT name FROM gql_parent WHERE id = 5") == [("renamed",)]
    sql("UPDATE gql_parent SET name = 'parent-5' WHERE id = 5")


def test_independent_root_fields_resolve_concurrently() -> None:
    import time

    started = time.monotonic()
    result = gql.query("{ a: slow(ms: 400) b: slow(ms: 400) c: slow(ms: 400) }")
    elapsed = time.monotonic() - started
    assert result == {"data": {"a": 400, "b": 400, "c": 400}}
    # Three 400 ms resolvers one after another would take 1.2 s.
    assert elapsed < 1.0, elapsed


def test_invalid_queries_give_spec_shaped_errors() -> None:
    cases: dict[str, Any] = {
        "{ parents { nope } }": "Unknown field",
        "{ parents(limit: \"x\") { id } }": "Invalid value",
        "{ parents { id ": "Unexpected end of input",
        "{ parents { children { leaves { id } } } } { x }": "",
    }
    for query, message in cases.items():
        result = gql.query(query)
        assert "data" not in result, (query, result)
        assert result["errors"], query
        assert message in result["errors"][0]["message"], (query, result)
        assert "locations" in result["errors"][0] or message == "", (query, result)


def test_wrong_variable_types() -> None:
    result = gql.query("query Q($n: Int) { parents(limit: $n) { id } }", {"n": "three"})
    assert "data" not in result
    assert "Invalid value" in result["errors"][0]["message"] or "Int" in result["errors"][0]["message"]


def test_depth_limit() -> None:
    deep = "{ parents { children { leaves { id } } } }"
    assert "errors" not in gql.query(deep)
    too_deep = (
        "{ parents { children { leaves { id } } } "
        "a: things { location { x } } }"
    )
    assert "errors" not in gql.query(too_deep)
    nested = "{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }"
    result = gql.query(nested)
    assert "data" not in result
    assert "nesting exceeds the limit of 6" in result["errors"][0]["message"], result


def test_typename_aliases_and_fragments_in_nested_layers() -> None:
    result = gql.query(
        "{ parents(limit: 2) { __typename pid: id ...P children { ...C } } } "
        "fragment P on Parent { name } fragment C on Child { id cid: id }"
    )
    assert result == {
        "data": {
            "parents": [
                {
                    "__typename": "Parent",
                    "pid": p,
                    "name": f"parent-{p}",
                    "children": [{"id": c, "cid": c} for c in range((p - 1) * 10 + 1, p * 10 + 1)],
                }
                for p in (1, 2)
            ]
        }
    }
    # Same without __typename: written directly, same shape and order.
    direct = gql.query("{ parents(limit: 1) { pid: id ...P } } fragment P on Parent { name }")
    assert list(direct["data"]["parents"][0]) == ["pid", "name"]


def test_borrow_db_context_shares_the_request_connection() -> None:
    result = gql.query("{ sql_pid borrowed_pid }")
    assert "errors" not in result, result
    assert result["data"]["sql_pid"] == result["data"]["borrowed_pid"]
    # A resolver that does not borrow gets a connection of its own from the pool.
    assert "errors" not in gql.query("{ own_pid }")


def test_a_borrowed_transaction_is_seen_by_the_layers_and_rolled_back_after() -> None:
    from puff import postgres

    result = gql.query("{ uncommitted_parent { id name } }")
    assert result == {"data": {"uncommitted_parent": {"id": 9999, "name": "uncommitted"}}}
    assert sql("SELECT count(*) FROM gql_parent WHERE id = 9999") == [(0,)]
    import time

    deadline = time.monotonic() + 5
    while postgres.pool_status()["in_use"] != 0:
        assert time.monotonic() < deadline, postgres.pool_status()
        time.sleep(0.01)


def test_named_schema_runs_its_sql_on_its_own_database_pool() -> None:
    audit = named_graphql("audit")
    result = audit.query("{ parents(limit: 2) { id children { id } } application_name }")
    assert "errors" not in result, result
    assert [p["id"] for p in result["data"]["parents"]] == [1, 2]
    # The request's connection came from `readonly`, not from `default`.
    assert result["data"]["application_name"] == "puff-readonly"
    assert gql.query("{ application_name }")["data"]["application_name"] != "puff-readonly"


def test_unknown_schema_name_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"no GraphQL schema `nope` \(configured: .*audit"):
        named_graphql("nope").query("{ fine }")


def test_introspection_can_be_turned_off() -> None:
    private = named_graphql("private")
    assert private.query("{ fine }") == {"data": {"fine": "still fine"}}
    result = private.query("{ __schema { types { name } } }")
    assert "data" not in result
    assert "introspection" in result["errors"][0]["message"].lower(), result
    assert "errors" not in gql.query("{ __schema { queryType { name } } }")
