"""Puff's HTTP layers configured in cors_gzip.toml: [cors] and compression = true."""

from __future__ import annotations

import gzip

from puffserver import PuffServer

ORIGIN = "https://example.com"


def test_cors_preflight_is_answered(cors_gzip_server: PuffServer) -> None:
    result = cors_gzip_server.request(
        "OPTIONS",
        "/echo",
        headers=[
            ("Origin", ORIGIN),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
        ],
    )
    assert 200 <= result.status < 300, result.describe()
    assert result.header("Access-Control-Allow-Origin") == ORIGIN, result.describe()
    methods = (result.header("Access-Control-Allow-Methods") or "").upper()
    assert "POST" in methods, result.describe()
    assert "content-type" in (result.header("Access-Control-Allow-Headers") or "").lower()
    assert result.header("Access-Control-Max-Age") == "600", result.describe()


def test_cors_headers_on_simple_request(cors_gzip_server: PuffServer) -> None:
    result = cors_gzip_server.get("/ping", headers=[("Origin", ORIGIN)])
    assert result.status == 200, result.describe()
    assert result.header("Access-Control-Allow-Origin") == ORIGIN, result.describe()
    assert result.json()["pong"] is True


def test_cors_rejects_other_origins(cors_gzip_server: PuffServer) -> None:
    result = cors_gzip_server.get("/ping", headers=[("Origin", "https://evil.example")])
    assert result.header("Access-Control-Allow-Origin") is None, result.describe()


def test_no_cors_headers_without_cors_section(flask_server: PuffServer) -> None:
    result = flask_server.get("/ping", headers=[("Origin", ORIGIN)])
    assert result.status == 200
    assert result.header("Access-Control-Allow-Origin") is None, result.describe()


def test_gzip_compression(cors_gzip_server: PuffServer) -> None:
    plain = cors_gzip_server.get("/big")  # http.client sends Accept-Encoding: identity
    assert plain.status == 200, plain.describe()
    assert plain.header("Content-Encoding") in (None, "identity"), plain.describe()
    assert len(plain.body) > 100_000

    compressed = cors_gzip_server.get("/big", headers=[("Accept-Encoding", "gzip")])
    assert compressed.status == 200, compressed.describe()
    assert compressed.header("Content-Encoding") == "gzip", compressed.describe()
    assert len(compressed.body) < len(plain.body) // 4
    assert gzip.decompress(compressed.body) == plain.body


def test_no_compression_when_disabled(flask_server: PuffServer) -> None:
    result = flask_server.get("/big", headers=[("Accept-Encoding", "gzip")])
    assert result.status == 200
    assert result.header("Content-Encoding") is None, result.describe()
