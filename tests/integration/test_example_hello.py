"""examples/hello works as its README says."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from puffserver import REPO_ROOT, PuffServer, run_cli

EXAMPLE = REPO_ROOT / "examples" / "hello"


@pytest.fixture(scope="module")
def hello_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PuffServer]:
    # Same invocation as the README, from the repository root with a relative --config.
    server = PuffServer(
        "hello",
        EXAMPLE.relative_to(REPO_ROOT) / "puff.toml",
        tmp_path_factory.mktemp("hello"),
        cwd=REPO_ROOT,
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()


def test_routes(hello_server: PuffServer) -> None:
    index = hello_server.get("/")
    assert index.status == 200, index.describe()
    assert index.text() == "Hello from Puff!\n", index.describe()

    slept = hello_server.get("/sleep?ms=5")
    assert slept.status == 200, slept.describe()
    assert slept.json() == {"slept_ms": 5}, slept.describe()
    assert hello_server.get("/sleep").json() == {"slept_ms": 100}

    blocking = hello_server.get("/blocking")
    assert blocking.status == 200, blocking.describe()
    assert blocking.json() == {
        "bytes_read": (EXAMPLE / "app.py").stat().st_size,
        "ran_on_other_thread": True,
    }

    error = hello_server.get("/error")
    assert error.status == 500, error.describe()
    assert hello_server.get("/").status == 200
    assert "this route fails on purpose" in hello_server.wait_for_log("this route fails")


def test_hello_world_command() -> None:
    result = run_cli(["--config", "examples/hello/puff.toml", "hello_world"], timeout=120)
    assert result.returncode == 0, result.stderr
    size = (EXAMPLE / "app.py").stat().st_size
    match = re.search(
        r"Hello from python!! app\.py is (\d+) bytes long from rust and (\d+)", result.stdout
    )
    assert match, f"stdout: {result.stdout!r}\nstderr: {result.stderr}"
    assert (int(match[1]), int(match[2])) == (size, size)
