"""puff.http against Puff's own server (a separate puff-cli), over HTTP/1.1 and h2c."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import puff
import pytest
from puff.http import (
    ConnectError,
    HttpError,
    JSONDecodeError,
    TimeoutError,
    global_http_client,
    named_client,
)

HERE = Path(__file__).resolve().parent
PUFF_CLI = HERE.parents[1] / "target" / "debug" / "puff-cli"
ASYNCIO = os.environ.get("PUFF_ASYNCIO_TESTS") == "1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not PUFF_CLI.is_file():
        pytest.fail(
            f"{PUFF_CLI} is missing: run `cargo build -p puff-cli`", pytrace=False
        )
    port = _free_port()
    log = tmp_path_factory.mktemp("http_target") / "server.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [
                str(PUFF_CLI),
                "--config",
                str(HERE / "http_target.toml"),
                "runserver",
                "--bind",
                f"127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        for _ in range(600):
            if proc.poll() is not None:
                pytest.fail(f"target server exited:\n{log.read_text()}", pytrace=False)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                puff.sleep_ms(50)
        else:
            pytest.fail(
                f"target server did not start:\n{log.read_text()}", pytrace=False
            )
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


PAYLOAD = {
    "list": [1, 2.5, {"nested": None}],
    "text": "ünïcode ✓",
    "flag": True,
    "big": 2**53,
}


def test_json_round_trip_headers_and_params(base_url: str) -> None:
    r = global_http_client.post(
        f"{base_url}/echo",
        json=PAYLOAD,
        headers={"X-Test": "yes"},
        params={"q": "a b", "n": 1},
    )
    assert r.status == 201
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-reply"] == "a, b"
    assert r.http_version == "HTTP/1.1"
    body = r.json()
    assert body["json"] == PAYLOAD
    assert body["x_test"] == "yes"
    assert body["query"] == "q=a+b&n=1"
    assert body["method"] == "POST"
    # The body is read once and cached: every accessor sees it.
    assert r.json() == body
    assert r.body() == r.text().encode()


def test_call_styles_and_data(base_url: str) -> None:
    # Both spellings from the Puff docs.
    assert global_http_client().get(f"{base_url}/x").status == 201
    form = named_client().put(f"{base_url}/echo", data={"a": "1", "b": "x y"}).json()
    assert (form["method"], form["body"]) == ("PUT", "a=1&b=x+y")
    assert form["content_type"] == "application/x-www-form-urlencoded"
    raw = named_client().patch(f"{base_url}/echo", data=b"\x00raw").json()
    assert raw["method"] == "PATCH"
    assert named_client().delete(f"{base_url}/echo").json()["method"] == "DELETE"


def test_error_statuses_are_returned(base_url: str) -> None:
    for code in (404, 418, 500, 503):
        r = global_http_client.get(f"{base_url}/status/{code}")
        assert r.status == code
        assert r.text() == f"status {code}"


def test_timeout(base_url: str) -> None:
    with pytest.raises(TimeoutError) as info:
        global_http_client.get(f"{base_url}/slow?ms=2000", timeout_ms=100)
    assert isinstance(info.value, HttpError)
    assert isinstance(info.value, puff.PuffError)
    assert "/slow" in str(info.value)


def test_connection_refused() -> None:
    port = _free_port()
    with pytest.raises(ConnectError, match=str(port)):
        global_http_client.get(f"http://127.0.0.1:{port}/")


def test_bad_json_and_bad_arguments(base_url: str) -> None:
    r = global_http_client.get(f"{base_url}/notjson")
    with pytest.raises(JSONDecodeError, match="not JSON"):
        r.json()
    assert r.text() == "héllo, not json"
    with pytest.raises(TypeError, match="not JSON-serializable"):
        global_http_client.post(f"{base_url}/echo", json={"x": object()})
    with pytest.raises(ValueError, match="invalid URL"):
        global_http_client.get("not a url")
    with pytest.raises(TypeError, match="unexpected keyword"):
        global_http_client.get(f"{base_url}/x", jsn={})
    with pytest.raises(ValueError, match="no HTTP client named"):
        named_client("missing")


def test_h2c_client(base_url: str) -> None:
    r = named_client("h2").post(f"{base_url}/echo", json=PAYLOAD)
    assert r.http_version == "HTTP/2.0"
    body = r.json()
    assert body["protocol"] == "HTTP/2"
    assert body["json"] == PAYLOAD


def test_many_greenlets_share_the_pool(base_url: str) -> None:
    handles = [
        puff.spawn(
            lambda i=i: global_http_client.get(
                f"{base_url}/echo", params={"i": i}
            ).json()
        )
        for i in range(50)
    ]
    queries = sorted(h.join()["query"] for h in handles)
    assert queries == sorted(f"i={i}" for i in range(50))


@pytest.mark.skipif(not ASYNCIO, reason="runs in the asyncio suite")
def test_awaitable_in_coroutines(base_url: str) -> None:
    async def main() -> tuple[int, object, object]:
        r = await global_http_client.post(f"{base_url}/echo", json=PAYLOAD)
        h2 = await named_client("h2").get(f"{base_url}/echo")
        return r.status, (await r.json())["json"], (await h2.json())["protocol"]

    assert puff.run_coroutine(main()) == (201, PAYLOAD, "HTTP/2")
