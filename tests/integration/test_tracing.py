"""Tracing end to end: `traceparent` in, `puff.trace_context()`, propagation on puff.http and
into scheduled tasks, and spans exported over OTLP/HTTP to a real receiver that decodes
them with the official protobuf definitions (opentelemetry-proto).

One server runs the app of apps/tracing_app.py on a private Postgres and Redis, with
`[tracing] otlp_endpoint` pointing at the receiver; another runs it without `[tracing]`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from puffserver import APPS_DIR, HOST, PuffServer, private_postgres, private_redis, serving

INCOMING_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING = f"00-{INCOMING_TRACE}-00f067aa0ba902b7-01"
EXPORT_WAIT_S = 20.0
TASK = "task tracing_app:remember_trace"


class Receiver:
    """A loopback HTTP server: OTLP trace exports to /v1/traces are decoded and kept; any
    other request's headers are kept (the target of puff.http calls)."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, trace_pb2.Span]] = []  # (service.name, span)
        self.exports: list[dict[str, str]] = []  # headers of each export request
        self.calls: list[dict[str, str]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                request = trace_service_pb2.ExportTraceServiceRequest()
                request.ParseFromString(body)
                with receiver.lock:
                    receiver.exports.append({k.lower(): v for k, v in self.headers.items()})
                    for resource_spans in request.resource_spans:
                        service = next(
                            a.value.string_value
                            for a in resource_spans.resource.attributes
                            if a.key == "service.name"
                        )
                        for scope_spans in resource_spans.scope_spans:
                            receiver.spans.extend((service, s) for s in scope_spans.spans)
                self.reply(b"")

            def do_GET(self) -> None:
                with receiver.lock:
                    receiver.calls.append({k.lower(): v for k, v in self.headers.items()})
                self.reply(b"ok")

            def reply(self, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def trace(
        self, trace_id: bytes, until: Any, wait_s: float = EXPORT_WAIT_S
    ) -> list[trace_pb2.Span]:
        """The spans of `trace_id` once `until(spans)` holds (or after `wait_s`)."""
        deadline = time.monotonic() + wait_s
        while True:
            with self.lock:
                spans = [s for _, s in self.spans if s.trace_id == trace_id]
            if until(spans) or time.monotonic() > deadline:
                return spans
            time.sleep(0.1)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Any]:
    with private_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def redis() -> Iterator[Any]:
    with private_redis() as server:
        yield server


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


def write_config(folder: Path, tracing: str) -> Path:
    config = folder / "puff.toml"
    config.write_text(
        f"""
wsgi = "tracing_app.app"
python_path = [{json.dumps(str(APPS_DIR))}]

[[postgres]]
name = "default"

[[redis]]
name = "default"

[[task_queue]]
name = "default"

[[graphql]]
schema = "tracing_app.Schema"
url = "/graphql"

{tracing}
"""
    )
    return config


def start(
    name: str, tmp_path_factory: pytest.TempPathFactory, tracing: str, postgres: Any, redis: Any
) -> Iterator[PuffServer]:
    folder = tmp_path_factory.mktemp(name)
    env = {"PUFF_DEFAULT_POSTGRES_URL": postgres.url, "PUFF_DEFAULT_REDIS_URL": redis.url}
    server = PuffServer(name, write_config(folder, tracing), folder, env=env)
    yield from serving(server)


@pytest.fixture(scope="module")
def traced(
    tmp_path_factory: pytest.TempPathFactory, postgres: Any, redis: Any, receiver: Receiver
) -> Iterator[PuffServer]:
    tracing = f"""[tracing]
otlp_endpoint = "{receiver.url}"
service_name = "tracing-test"
export_interval_ms = 200
"""
    yield from start("traced", tmp_path_factory, tracing, postgres, redis)


@pytest.fixture(scope="module")
def untraced(
    tmp_path_factory: pytest.TempPathFactory, postgres: Any, redis: Any
) -> Iterator[PuffServer]:
    yield from start("untraced", tmp_path_factory, "", postgres, redis)


def graphql(server: PuffServer, headers: list[tuple[str, str]]) -> Any:
    body = json.dumps({"query": "{ groups { id items { label } } }"}).encode()
    result = server.post("/graphql", body, headers=[("Content-Type", "application/json"), *headers])
    assert result.status == 200, result.describe()
    data = result.json()
    assert data == {
        "data": {
            "groups": [
                {"id": 1, "items": [{"label": "item-1"}]},
                {"id": 2, "items": [{"label": "item-2"}]},
            ]
        }
    }, data
    return data


def attributes(span: trace_pb2.Span) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in span.attributes:
        kind = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, kind) if kind else None
    return out


def test_one_trace_from_request_through_graphql_sql_redis_and_task(
    traced: PuffServer, receiver: Receiver
) -> None:
    graphql(traced, [("traceparent", INCOMING)])
    trace_id = bytes.fromhex(INCOMING_TRACE)
    names_wanted = {"POST /graphql", "graphql Query.groups", "graphql Group.items", "SELECT"}

    def complete(spans: list[trace_pb2.Span]) -> bool:
        names = [s.name for s in spans]
        return names_wanted <= set(names) and TASK in names and names.count("SET") >= 2

    spans = receiver.trace(trace_id, complete)
    by_id = {s.span_id: s for s in spans}
    names = sorted(s.name for s in spans)
    assert complete(spans), f"spans of the trace: {names}"

    (request,) = [s for s in spans if s.name == "POST /graphql"]
    # The request span continues the caller's trace under the caller's span.
    assert request.parent_span_id == bytes.fromhex("00f067aa0ba902b7")
    assert request.kind == trace_pb2.Span.SPAN_KIND_SERVER
    assert attributes(request)["http.response.status_code"] == 200
    assert attributes(request)["http.route"] == "/graphql"
    assert request.end_time_unix_nano >= request.start_time_unix_nano > 0

    # Every other span hangs under the request span: parent ids form a tree.
    for span in spans:
        if span is request:
            continue
        chain, current = [span.name], span
        while current is not request:
            assert current.parent_span_id in by_id, f"{chain} leaves the trace ({names})"
            current = by_id[current.parent_span_id]
            chain.append(current.name)

    def parent_name(span: trace_pb2.Span) -> str:
        return by_id[span.parent_span_id].name

    (root_layer,) = [s for s in spans if s.name == "graphql Query.groups"]
    (child_layer,) = [s for s in spans if s.name == "graphql Group.items"]
    assert parent_name(root_layer) == "POST /graphql"
    assert parent_name(child_layer) == "graphql Query.groups"
    (select,) = [s for s in spans if s.name == "SELECT"]
    assert parent_name(select) == "graphql Query.groups"
    sql = attributes(select)
    assert sql["db.system"] == "postgresql"
    assert sql["db.client.connection.pool.name"] == "default"
    assert sql["db.query.text"] == "SELECT g AS id FROM generate_series(1, $1::int) AS g"

    redis_spans = [s for s in spans if s.name == "SET"]
    assert {parent_name(s) for s in redis_spans} == {
        "graphql Query.groups",
        TASK,
    }
    for span in redis_spans:
        assert attributes(span)["db.system"] == "redis"
    # Command names only: no key or value reaches an exported span.
    exported = b"".join(s.SerializeToString() for s in spans)
    assert b"secret-value" not in exported and b"tracing-test:seen" not in exported

    (task,) = [s for s in spans if s.name == TASK]
    assert task.trace_id == trace_id
    assert parent_name(task) == "graphql Query.groups", "the scheduling span"
    assert attributes(task)["puff.task.attempt"] == 1
    assert task.kind == trace_pb2.Span.SPAN_KIND_CONSUMER

    with receiver.lock:
        services = {name for name, s in receiver.spans if s.trace_id == trace_id}
        content_types = {h.get("content-type") for h in receiver.exports}
    assert services == {"tracing-test"}
    assert content_types == {"application/x-protobuf"}


def test_trace_context_in_python_and_spawned_greenlets(traced: PuffServer) -> None:
    result = traced.get("/context", headers=[("traceparent", INCOMING)])
    assert result.status == 200, result.describe()
    body = result.json()
    here = body["here"]
    assert here["trace_id"] == INCOMING_TRACE
    # The request's own span, a child of the caller's.
    assert here["span_id"] != "00f067aa0ba902b7"
    assert here["traceparent"] == f"00-{INCOMING_TRACE}-{here['span_id']}-01"
    assert body["spawned"] == here

    # Without a traceparent: a new trace.
    fresh = traced.get("/context").json()["here"]
    assert fresh is not None and fresh["trace_id"] != INCOMING_TRACE

    # An invalid traceparent starts a new trace too, and the request still succeeds.
    bad = traced.get("/context", headers=[("traceparent", "00-zz-00f067aa0ba902b7-01")])
    assert bad.status == 200, bad.describe()
    assert bad.json()["here"]["trace_id"] not in (INCOMING_TRACE, fresh["trace_id"])


@pytest.mark.parametrize("which", ["traced", "untraced"])
def test_puff_http_sends_traceparent(
    which: str, request: pytest.FixtureRequest, receiver: Receiver
) -> None:
    server: PuffServer = request.getfixturevalue(which)
    with receiver.lock:
        receiver.calls.clear()
    result = server.get(f"/call?url={receiver.url}/called", headers=[("traceparent", INCOMING)])
    assert result.status == 200, result.describe()
    body = result.json()
    assert body["status"] == 200
    with receiver.lock:
        (call,) = receiver.calls
    sent = call.get("traceparent")
    assert sent is not None, call
    assert sent.split("-")[1] == INCOMING_TRACE
    assert sent == body["here"]["traceparent"]


def test_no_export_without_the_setting(untraced: PuffServer, receiver: Receiver) -> None:
    trace_id = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
    incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    graphql(untraced, [("traceparent", incoming)])
    # With tracing off, Python still sees the caller's context, unchanged...
    here = untraced.get("/context", headers=[("traceparent", incoming)]).json()["here"]
    assert here == {
        "trace_id": "0af7651916cd43dd8448eb211c80319c",
        "span_id": "b7ad6b7169203331",
        "traceparent": incoming,
    }
    # ...and None without one.
    assert untraced.get("/context").json() == {"here": None, "spawned": None}
    # The traced server exports every 200 ms; this one has no exporter at all.
    assert receiver.trace(trace_id, lambda spans: bool(spans), wait_s=2.0) == []


def test_spans_still_queued_at_shutdown_are_exported(
    tmp_path_factory: pytest.TempPathFactory, postgres: Any, redis: Any, receiver: Receiver
) -> None:
    """An interval far longer than the test: only the flush at SIGTERM can send the span."""
    tracing = f"""[tracing]
otlp_endpoint = "{receiver.url}"
service_name = "tracing-flush"
export_interval_ms = 600000
"""
    trace_hex = "5bf92f3577b34da6a3ce929d0e0e4737"
    running = start("flushed", tmp_path_factory, tracing, postgres, redis)
    server = next(running)  # `running` stops it when closed, so it is kept until the end
    try:
        incoming = f"00-{trace_hex}-00f067aa0ba902b7-01"
        assert server.get("/context", headers=[("traceparent", incoming)]).status == 200
        assert receiver.trace(bytes.fromhex(trace_hex), bool, wait_s=1.0) == []
        assert server.stop() == 0
        spans = receiver.trace(bytes.fromhex(trace_hex), bool, wait_s=5.0)
        assert len(spans) == 1 and spans[0].name.startswith("GET"), spans
    finally:
        running.close()
