"""HTTPS with `tls_cert`/`tls_key`: HTTP/1.1 and HTTP/2 chosen by ALPN on one port, the
`https` scheme reported to WSGI apps, and clear errors for bad certificate settings."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import pytest
import trustme
from puffserver import APPS_DIR, HOST, PuffServer, puff_env, require_puff_cli


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_server(
    ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PuffServer]:
    tmp = tmp_path_factory.mktemp("tls")
    server = PuffServer("tls", tls_config(ca, tmp), tmp).start()
    yield server
    assert server.stop() == 0


def tls_config(ca: trustme.CA, folder: Path) -> Path:
    """A puff.toml serving wsgi_app over HTTPS with a certificate `ca` signed."""
    cert = ca.issue_cert("localhost", HOST)
    cert.private_key_pem.write_to_path(str(folder / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(folder / "cert.pem"))
    config = folder / "puff.toml"
    # Certificate paths are relative to puff.toml.
    config.write_text(
        f'wsgi = "wsgi_app.app"\npython_path = ["{APPS_DIR}"]\n'
        'tls_cert = "cert.pem"\ntls_key = "key.pem"\n'
    )
    return config


def client_context(ca: trustme.CA, alpn: list[str]) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    ctx.set_alpn_protocols(alpn)
    return ctx


def test_http1_over_tls_reports_https(ca: trustme.CA, tls_server: PuffServer) -> None:
    conn = http.client.HTTPSConnection(
        HOST, tls_server.port, context=client_context(ca, ["http/1.1"]), timeout=10
    )
    conn.request("GET", "/environ")
    response = conn.getresponse()
    assert response.status == 200
    info = json.loads(response.read())
    assert info["wsgi"]["wsgi.url_scheme"] == "https"
    assert conn.sock is not None
    assert conn.sock.selected_alpn_protocol() == "http/1.1"  # type: ignore[attr-defined]
    conn.close()


def test_http2_over_tls_by_alpn(ca: trustme.CA, tls_server: PuffServer) -> None:
    ctx = client_context(ca, ["h2", "http/1.1"])
    with socket.create_connection((HOST, tls_server.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=HOST) as sock:
            assert sock.selected_alpn_protocol() == "h2"
            conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
            conn.initiate_connection()
            stream = conn.get_next_available_stream_id()
            conn.send_headers(
                stream,
                [(":method", "GET"), (":path", "/environ"), (":scheme", "https"),
                 (":authority", f"{HOST}:{tls_server.port}")],
                end_stream=True,
            )  # fmt: skip
            sock.sendall(conn.data_to_send())
            status, body, ended = None, b"", False
            while not ended:
                data = sock.recv(65536)
                assert data, "the server closed the connection before answering"
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.ResponseReceived):
                        status = dict(event.headers)[b":status"]
                    elif isinstance(event, h2.events.DataReceived):
                        body += event.data
                        conn.acknowledge_received_data(event.flow_controlled_length, stream)
                    elif isinstance(event, h2.events.StreamEnded):
                        ended = True
                sock.sendall(conn.data_to_send())
    assert status == b"200"
    info = json.loads(body)
    assert info["wsgi"]["wsgi.url_scheme"] == "https"
    assert info["cgi"]["SERVER_PROTOCOL"] == "HTTP/2"


def test_plain_http_and_bad_handshakes_leave_the_server_healthy(
    ca: trustme.CA, tls_server: PuffServer
) -> None:
    # Plain HTTP on the TLS port, and a client that never finishes its handshake.
    with socket.create_connection((HOST, tls_server.port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            assert not s.recv(100).startswith(b"HTTP/1.1 200")
        except (ConnectionResetError, TimeoutError):
            pass
    silent = socket.create_connection((HOST, tls_server.port), timeout=10)
    # An untrusting client fails verification on its side.
    with pytest.raises(ssl.SSLCertVerificationError):
        with socket.create_connection((HOST, tls_server.port), timeout=10) as raw:
            ssl.create_default_context().wrap_socket(raw, server_hostname=HOST)
    conn = http.client.HTTPSConnection(
        HOST, tls_server.port, context=client_context(ca, ["http/1.1"]), timeout=10
    )
    conn.request("GET", "/environ")
    assert conn.getresponse().status == 200
    conn.close()
    silent.close()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ('tls_cert = "cert.pem"\n', "`tls_key`"),
        ('tls_cert = "missing.pem"\ntls_key = "key.pem"\n', "missing.pem"),
        ('tls_cert = "key.pem"\ntls_key = "key.pem"\n', "`tls_cert`"),
    ],
)
def test_bad_tls_settings_fail_clearly(
    ca: trustme.CA, tmp_path: Path, settings: str, message: str
) -> None:
    cert = ca.issue_cert("localhost")
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    config = tmp_path / "puff.toml"
    config.write_text(f'wsgi = "wsgi_app.app"\npython_path = ["{APPS_DIR}"]\n{settings}')
    done = subprocess.run(
        [str(require_puff_cli()), "--config", str(config), "runserver", "--bind", f"{HOST}:0"],
        env=puff_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert message in done.stderr, done.stderr


def test_https_with_two_workers(ca: trustme.CA, tmp_path: Path) -> None:
    """The supervisor binds a plain socket; each worker does its own TLS on it."""
    config = tls_config(ca, tmp_path)
    server = PuffServer("tls-workers", config, tmp_path, extra_args=("--workers", "2")).start()
    try:
        server.wait_for_log("worker 2: accepting on https://")
        for alpn in (["http/1.1"], ["h2", "http/1.1"]):
            with (
                socket.create_connection((HOST, server.port), timeout=10) as raw,
                client_context(ca, alpn).wrap_socket(raw, server_hostname="localhost") as sock,
            ):
                assert sock.selected_alpn_protocol() == alpn[0]
        conn = http.client.HTTPSConnection(
            HOST, server.port, context=client_context(ca, ["http/1.1"]), timeout=10
        )
        conn.request("GET", "/environ")
        response = conn.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["wsgi"]["wsgi.url_scheme"] == "https"
        conn.close()
    finally:
        assert server.stop() == 0
