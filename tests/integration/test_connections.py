"""Slow and hostile clients: connection timeouts, descriptor exhaustion, early errors.

- `header_read_timeout_ms`: a connection that sends nothing, half a request line or half its
  headers is closed; a slow but timely head is served.
- `keep_alive_timeout_ms`: an idle connection is closed (HTTP/1.1, TLS) or sent a GOAWAY
  (HTTP/2), after the keep-alive time, not the header time.
- `body_read_timeout_ms`: a body that stalls gets 408 with `Connection: close`.
- SIGTERM does not wait for a half-sent request.
- Slowloris: 1,100 half-sent requests against `ulimit -n 1024`; a normal client is still
  answered, and the descriptor shortage is logged once.

The bounds on how long a close takes are safety nets (the timeout plus 5 s), never speed
targets; the lower bounds show which timeout closed the connection.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import pytest
import trustme
from puffserver import APPS_DIR, HOST, PuffServer, require_puff_cli

HEADER_S = 1.5
KEEP_ALIVE_S = 4.0
BODY_S = 1.5
SLACK_S = 5.0


def _config(tmp: Path, extra: str = "") -> Path:
    config = tmp / "puff.toml"
    config.write_text(
        f'wsgi = "wsgi_app.app"\npython_path = ["{APPS_DIR}"]\n'
        f"header_read_timeout_ms = {int(HEADER_S * 1000)}\n"
        f"keep_alive_timeout_ms = {int(KEEP_ALIVE_S * 1000)}\n"
        f"body_read_timeout_ms = {int(BODY_S * 1000)}\n" + extra
    )
    return config


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PuffServer]:
    require_puff_cli()
    tmp = tmp_path_factory.mktemp("timeouts")
    srv = PuffServer("timeouts", _config(tmp), tmp).start()
    yield srv
    assert srv.stop() == 0


def _seconds_until_closed(sock: socket.socket, limit: float) -> float:
    """Reads (and drops) until the server closes; the seconds that took."""
    started = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(65536):
            pass
    except (ConnectionResetError, ssl.SSLError):
        pass
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for more than {limit} s")
    return time.monotonic() - started


def _read_response(sock: socket.socket) -> http.client.HTTPResponse:
    response = http.client.HTTPResponse(sock)  # type: ignore[arg-type]
    response.begin()
    response.read()
    return response


@pytest.mark.parametrize(
    "sent",
    [b"", b"GET /ping HT", b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "],
    ids=["nothing", "half-request-line", "half-headers"],
)
def test_an_incomplete_head_is_closed_at_the_header_timeout(
    server: PuffServer, sent: bytes
) -> None:
    with socket.create_connection((HOST, server.port)) as sock:
        sock.sendall(sent)
        took = _seconds_until_closed(sock, HEADER_S + SLACK_S)
    assert took >= HEADER_S * 0.8, took
    server.assert_alive()


def test_a_slow_head_within_the_timeout_is_served(server: PuffServer) -> None:
    head = b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: 1\r\n\r\n"
    with socket.create_connection((HOST, server.port), timeout=10) as sock:
        for i in range(0, len(head), 10):
            sock.sendall(head[i : i + 10])
            time.sleep(HEADER_S / 10)
        response = _read_response(sock)
    assert response.status == 200


def test_an_idle_keep_alive_connection_is_closed_at_the_keep_alive_timeout(
    server: PuffServer,
) -> None:
    with socket.create_connection((HOST, server.port), timeout=10) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert _read_response(sock).status == 200
        took = _seconds_until_closed(sock, KEEP_ALIVE_S + SLACK_S)
    # Longer than the header timeout: an idle connection is not waiting for a head.
    assert took >= KEEP_ALIVE_S * 0.8, took


def test_an_idle_http2_connection_gets_goaway(server: PuffServer) -> None:
    with socket.create_connection((HOST, server.port), timeout=10) as sock:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        conn.send_headers(
            1,
            [(":method", "GET"), (":path", "/ping"), (":scheme", "http"),
             (":authority", HOST)],
            end_stream=True,
        )
        sock.sendall(conn.data_to_send())
        answered = False
        started = time.monotonic()
        sock.settimeout(KEEP_ALIVE_S + SLACK_S)
        pending = b""
        while True:
            data = sock.recv(65536)
            assert data, "closed without GOAWAY"
            pending += data
            # One frame at a time: hyper follows its GOAWAY with a PING, which the h2
            # state machine refuses once it has seen the GOAWAY.
            while len(pending) >= 9 and len(pending) >= 9 + int.from_bytes(pending[:3]):
                size = 9 + int.from_bytes(pending[:3])
                frame, pending = pending[:size], pending[size:]
                for event in conn.receive_data(frame):
                    if isinstance(event, h2.events.ResponseReceived):
                        answered = True
                        started = time.monotonic()
                    if isinstance(event, h2.events.ConnectionTerminated):
                        assert answered
                        took = time.monotonic() - started
                        assert took >= KEEP_ALIVE_S * 0.8, took
                        return
            sock.sendall(conn.data_to_send())


def test_a_stalled_body_gets_408_and_connection_close(server: PuffServer) -> None:
    # 100,000 bytes declared: more than Puff reads before starting the app, so the app is
    # the one waiting on wsgi.input; 100 bytes: Puff reads it before the app starts.
    for declared in (100_000, 100):
        with socket.create_connection((HOST, server.port), timeout=BODY_S + SLACK_S) as sock:
            sock.sendall(
                f"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {declared}\r\n\r\n"
                .encode() + b"x" * 10
            )
            response = _read_response(sock)
            assert response.status == 408, (declared, response.status)
            assert response.getheader("Connection") == "close"
    assert "request body stalled (408)" in server.wait_for_log("request body stalled")


def test_sigterm_does_not_wait_for_a_half_sent_request(tmp_path: Path) -> None:
    config = tmp_path / "puff.toml"
    config.write_text(
        f'wsgi = "wsgi_app.app"\npython_path = ["{APPS_DIR}"]\n'
        "header_read_timeout_ms = 60000\nshutdown_timeout_ms = 30000\n"
    )
    srv = PuffServer("sigterm-half", config, tmp_path).start()
    with socket.create_connection((HOST, srv.port)) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: 1")
        time.sleep(0.2)  # the connection is accepted and its head has started
        started = time.monotonic()
        code = srv.stop(timeout=25)
        took = time.monotonic() - started
    assert code == 0, srv.stderr()
    assert took < 10, f"SIGTERM took {took:.1f} s with shutdown_timeout_ms = 30000"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def test_an_idle_tls_connection_is_closed(ca: trustme.CA, tmp_path: Path) -> None:
    cert = ca.issue_cert("localhost", HOST)
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    config = _config(tmp_path, 'tls_cert = "cert.pem"\ntls_key = "key.pem"\n')
    srv = PuffServer("tls-idle", config, tmp_path).start()
    try:
        ctx = ssl.create_default_context()
        ca.configure_trust(ctx)
        with (
            socket.create_connection((HOST, srv.port), timeout=10) as raw,
            ctx.wrap_socket(raw, server_hostname="localhost") as sock,
        ):
            sock.sendall(b"GET /ping HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert _read_response(sock).status == 200
            took = _seconds_until_closed(sock, KEEP_ALIVE_S + SLACK_S)
        assert took >= KEEP_ALIVE_S * 0.8, took
        # A TLS client that never finishes its handshake is closed at the header timeout.
        with socket.create_connection((HOST, srv.port)) as silent:
            took = _seconds_until_closed(silent, HEADER_S + SLACK_S)
        assert took >= HEADER_S * 0.8, took
    finally:
        assert srv.stop() == 0


SLOWLORIS = 1100


def test_slowloris_with_1024_descriptors(tmp_path: Path) -> None:
    config = tmp_path / "puff.toml"
    header_s = 3.0
    config.write_text(
        f'wsgi = "wsgi_app.app"\npython_path = ["{APPS_DIR}"]\n'
        f"header_read_timeout_ms = {int(header_s * 1000)}\naccess_log = false\n"
    )
    srv = PuffServer("slowloris", config, tmp_path, open_files=1024).start()
    attackers: list[socket.socket] = []
    try:
        for _ in range(SLOWLORIS):
            sock = socket.create_connection((HOST, srv.port), timeout=10)
            sock.sendall(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            attackers.append(sock)
        started = time.monotonic()
        client = http.client.HTTPConnection(HOST, srv.port, timeout=header_s + SLACK_S)
        client.request("GET", "/ping")
        response = client.getresponse()
        assert response.status == 200
        assert response.read() == b"pong"
        took = time.monotonic() - started
        client.close()
        assert took < header_s + SLACK_S, took
        log = srv.wait_for_log("cannot accept connections")
        assert "open files limit: 1024" in log, log[-3000:]
    finally:
        for sock in attackers:
            with contextlib.suppress(OSError):
                sock.close()
        srv.stop()
    # One WARN per shortage, however many accepts failed in it: each warning is followed by
    # a recovery line, never by another warning. (On a busy machine the 1,100 connections
    # can arrive in more than one shortage.)
    srv_log = srv.stderr()
    events = [
        line
        for line in srv_log.splitlines()
        if "cannot accept connections" in line or "accepting connections again" in line
    ]
    assert events, srv_log[-3000:]
    for first, second in zip(events, events[1:]):
        assert ("cannot accept" in first) != ("cannot accept" in second), events
    assert any("accepting connections again" in e for e in events), events


def test_max_connections_stops_accepting_above_the_limit(tmp_path: Path) -> None:
    config = tmp_path / "puff.toml"
    config.write_text(
        f'wsgi = "wsgi_app.app"\npython_path = ["{APPS_DIR}"]\nmax_connections = 2\n'
    )
    srv = PuffServer("max-connections", config, tmp_path).start()
    try:
        # start() made (and closed) one probe connection; wait until its slot is free.
        time.sleep(0.3)
        held = [socket.create_connection((HOST, srv.port), timeout=10) for _ in range(2)]
        for sock in held:
            sock.sendall(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert _read_response(sock).status == 200
        # The third connection waits in the listen queue: no answer while two are open...
        third = socket.create_connection((HOST, srv.port), timeout=10)
        third.sendall(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        third.settimeout(1.0)
        with pytest.raises(TimeoutError):
            third.recv(1)
        # ...and is served once one of them closes.
        held.pop().close()
        third.settimeout(10)
        assert _read_response(third).status == 200
        third.close()
        for sock in held:
            sock.close()
    finally:
        assert srv.stop() == 0
