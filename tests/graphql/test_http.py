"""The GraphQL endpoints over real HTTP: `puff-cli runserver` with only [[graphql]]."""

from __future__ import annotations

import json
import urllib.parse

from conftest import PARENTS, Server


def test_post_json_get_and_application_graphql(server: Server) -> None:
    status, body = server.post("/graphql/", {"query": "{ hello_world(my_input: 2) { was_input title } }"})
    assert status == 200
    assert body == {"data": {"hello_world": [{"was_input": 2, "title": "hi from pg"}]}}
    query = urllib.parse.urlencode(
        {"query": "query Q($n: Int!) { hello_world(my_input: $n) { was_input } }", "variables": json.dumps({"n": 6})}
    )
    status, headers, raw = server.request(f"/graphql/?{query}")
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(raw) == {"data": {"hello_world": [{"was_input": 6}]}}
    status, _, raw = server.request(
        "/graphql/", b"{ new_connection_id }", {"Content-Type": "application/graphql"}
    )
    assert status == 200 and "new_connection_id" in json.loads(raw)["data"]


def test_nested_query_over_http(server: Server) -> None:
    status, body = server.post("/layers/graphql", {"query": "{ parents { id children { id leaves { id } } } }"})
    assert status == 200
    assert len(body["data"]["parents"]) == PARENTS


def test_bearer_token_reaches_the_resolver(server: Server) -> None:
    status, body = server.post("/layers/graphql", {"query": "{ token }"}, {"Authorization": "Bearer s3cret"})
    assert (status, body) == (200, {"data": {"token": "s3cret"}})


def test_request_errors_are_400_with_spec_shaped_errors(server: Server) -> None:
    status, body = server.post("/layers/graphql", {"query": "{ parents { nope } }"})
    assert status == 400
    assert "data" not in body and "Unknown field" in body["errors"][0]["message"]
    assert body["errors"][0]["locations"]
    status, body = server.post("/layers/graphql", {"query": "{ parents { id"})
    assert status == 400 and body["errors"]
    status, _, raw = server.request("/layers/graphql", b"not json", {"Content-Type": "application/json"})
    assert status == 400 and "not a GraphQL request" in json.loads(raw)["errors"][0]["message"]
    status, _, raw = server.request("/layers/graphql", b"x", {"Content-Type": "text/plain"})
    assert status == 415
    status, _, raw = server.request("/layers/graphql")
    assert status == 400 and "query" in json.loads(raw)["errors"][0]["message"]
    status, _, _ = server.request("/layers/graphql", b"{}", method="PUT")
    assert status == 405


def test_mutations_need_post(server: Server) -> None:
    q = urllib.parse.quote('mutation { rename_parent(id: 1, name: "x") { id } }')
    status, _, raw = server.request(f"/layers/graphql?query={q}")
    assert status == 400
    assert "POST" in json.loads(raw)["errors"][0]["message"]


def test_resolver_exception_keeps_the_server_serving(server: Server) -> None:
    status, body = server.post("/layers/graphql", {"query": "{ boom }"})
    assert status == 200
    assert body["data"] is None and body["errors"][0]["path"] == ["boom"]
    assert "Traceback" not in json.dumps(body)  # tracebacks go to the log only
    assert "resolver failed on purpose" in server.log()
    status, body = server.post("/layers/graphql", {"query": "{ fine }"})
    assert (status, body) == (200, {"data": {"fine": "still fine"}})


def test_depth_limit_over_http(server: Server) -> None:
    q = "{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }"
    status, body = server.post("/layers/graphql", {"query": q})
    assert status == 400 and "nesting exceeds" in body["errors"][0]["message"]


def test_playground_only_where_configured(server: Server) -> None:
    status, headers, raw = server.request("/playground/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"/graphql/" in raw and b"/subscriptions/" in raw
    status, _, _ = server.request("/layers/playground")
    assert status == 404


def test_oversized_body_is_rejected(server: Server) -> None:
    big = json.dumps({"query": "{ fine }", "variables": {"x": "y" * (11 * 1024 * 1024)}}).encode()
    status, _, _ = server.request("/layers/graphql", big, {"Content-Type": "application/json"})
    assert status == 413
    status, body = server.post("/layers/graphql", {"query": "{ fine }"})
    assert status == 200
