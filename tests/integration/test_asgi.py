"""A real FastAPI app on Puff's ASGI adapter: awaiting Puff functions, lifespan, concurrency,
bodies both ways, coroutines and greenlets calling each other, errors."""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import threading

from puffserver import APPS_DIR, HOST, HttpResult, PuffServer, wait_until

N_REQUESTS = 200


def test_async_route_and_lifespan_state(fastapi_server: PuffServer) -> None:
    assert fastapi_server.get("/").json() == {"hello": "fastapi"}
    assert fastapi_server.get("/lifespan").json() == {
        "started": True,
        "resource": "from-lifespan",
    }
    assert (fastapi_server.cwd / "lifespan-startup.txt").read_text() == "started"


def test_200_sleeping_coroutines_overlap(fastapi_server: PuffServer) -> None:
    assert fastapi_server.post("/reset").status == 200
    results: list[HttpResult | BaseException | None] = [None] * N_REQUESTS
    barrier = threading.Barrier(N_REQUESTS)

    def client(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            results[i] = fastapi_server.get("/sleep?ms=100")
        except BaseException as exc:  # noqa: BLE001 - reported below
            results[i] = exc

    threads = [threading.Thread(target=client, args=(i,)) for i in range(N_REQUESTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    failures = [
        r if not isinstance(r, HttpResult) else r.describe()
        for r in results
        if not isinstance(r, HttpResult) or r.status != 200 or r.json() != {"slept_ms": 100}
    ]
    assert not failures, f"{len(failures)} failed, e.g. {failures[:3]}"
    stats = fastapi_server.get("/stats").json()
    assert stats["done"] == N_REQUESTS, stats
    assert stats["max_in_flight"] >= 100, f"coroutines did not overlap: {stats}"


def test_request_body_reaches_the_app(fastapi_server: PuffServer) -> None:
    for size in (0, 10, 5 * 1024 * 1024):
        payload = os.urandom(size)
        result = fastapi_server.post("/echo", payload)
        assert result.status == 200, result.describe()
        assert result.json() == {"len": size, "sha256": hashlib.sha256(payload).hexdigest()}


def test_chunked_request_body(fastapi_server: PuffServer) -> None:
    payload = os.urandom(300_000)
    conn = http.client.HTTPConnection(HOST, fastapi_server.port, timeout=30)
    try:
        chunks = (payload[i : i + 65536] for i in range(0, len(payload), 65536))
        conn.request("POST", "/echo", body=chunks, encode_chunked=True)
        resp = conn.getresponse()
        assert resp.status == 200
        import json

        assert json.loads(resp.read()) == {
            "len": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest(),
        }
    finally:
        conn.close()


def test_streaming_response(fastapi_server: PuffServer) -> None:
    result = fastapi_server.get("/stream?parts=4")
    assert result.status == 200, result.describe()
    assert result.body == b"part-0;part-1;part-2;part-3;"


def test_coroutine_greenlet_coroutine(fastapi_server: PuffServer) -> None:
    assert fastapi_server.get("/greenlet/4").json() == {"value": 41}
    # The same through asgiref's sync_to_async / async_to_sync (patched by Puff).
    assert fastapi_server.get("/asgiref/4").json() == {"value": 42}
    assert fastapi_server.get("/wrap").json() == {"value": {"from": "return func"}}


def test_exception_is_500_and_server_survives(fastapi_server: PuffServer) -> None:
    result = fastapi_server.get("/error")
    assert result.status == 500, result.describe()
    fastapi_server.wait_for_log("fastapi route fails on purpose")
    assert fastapi_server.get("/").status == 200


def test_lifespan_shutdown_runs(tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    server = PuffServer("fastapi", APPS_DIR / "fastapi.toml", tmp_path_factory.mktemp("shutdown"))
    server.start()
    try:
        assert server.get("/").status == 200
    finally:
        code = server.stop()
    assert code == 0, server.stderr()
    wait_until(
        lambda: (server.cwd / "lifespan-shutdown.txt").exists(),
        "lifespan shutdown never ran",
        timeout=5,
    )


def test_two_asgi_workers_each_run_the_lifespan(tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    server = PuffServer(
        "fastapi-workers",
        APPS_DIR / "fastapi.toml",
        tmp_path_factory.mktemp("workers"),
        extra_args=("--workers", "2"),
    )
    server.start()
    try:
        wait_until(lambda: server.stderr().count(" serving after ") == 2, server.stderr)
        assert server.get("/lifespan").json()["started"] is True
    finally:
        code = server.stop()
    assert code == 0, server.stderr()
    # Each worker's startup and shutdown ran (both write the same file; the log shows two).
    assert server.stderr().count("stopped (exited with code 0)") == 2, server.stderr()
    assert (server.cwd / "lifespan-shutdown.txt").exists()


def test_http_disconnect_arrives_when_the_client_goes_away(
    fastapi_server: PuffServer,
) -> None:
    seen = fastapi_server.get("/disconnects").json()["seen"]
    sock = socket.create_connection((HOST, fastapi_server.port), timeout=10)
    sock.sendall(b"GET /wait-disconnect HTTP/1.1\r\nHost: x\r\n\r\n")
    wait_until(
        lambda: fastapi_server.get("/disconnects").json()["waiting"] == 1,
        "the route never started waiting for http.disconnect",
    )
    sock.close()
    wait_until(
        lambda: fastapi_server.get("/disconnects").json() == {"waiting": 0, "seen": seen + 1},
        lambda: f"no http.disconnect: {fastapi_server.get('/disconnects').json()}",
    )
    assert fastapi_server.get("/").status == 200
