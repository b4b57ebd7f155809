"""The blocked-thread detector (``block_warn_ms``): code that holds the Python thread
without yielding is reported once, with its stack, while it still holds it."""

from __future__ import annotations

import http.client
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from puffserver import APPS_DIR, HOST, PuffServer, free_port, serving, wait_until
from test_metrics import scrape, total

WSGI_APP = APPS_DIR / "watchdog_app.py"
ASGI_APP = APPS_DIR / "watchdog_asgi_app.py"
WARNING = re.compile(
    r" WARN puff::watchdog: the Python thread has been held for (\d+) ms without yielding"
)
ENDED = re.compile(r"puff::watchdog: the Python thread was held for (\d+) ms in all")


def _server(name: str, tmp_path: Path) -> Iterator[PuffServer]:
    yield from serving(PuffServer(name, APPS_DIR / f"{name}.toml", tmp_path))


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[PuffServer]:
    """watchdog_app.app with the default threshold; a fresh server per test, so that one
    test's block does not fall in another's one-warning-per-second window."""
    yield from _server("watchdog", tmp_path)


def held_line(app: Path, function: str) -> str:
    """``file:line:function`` of the line marked ``# held here`` in ``function`` (the
    file by name: Python may spell its folder differently, e.g. ``apps/./``)."""
    lines = app.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"(async )?def {function}\(", line))
    offset = next(i for i, line in enumerate(lines[start:]) if "# held here" in line)
    return f"{app.name}:{start + offset + 1}:{function}"


def watchdog_threads(server: PuffServer) -> list[str]:
    assert server.proc is not None
    tasks = Path(f"/proc/{server.proc.pid}/task")
    names = [(task / "comm").read_text().strip() for task in tasks.iterdir()]
    return [name for name in names if name == "puff-watchdog"]


def single_warning(server: PuffServer) -> tuple[int, str]:
    """Wait for the block to be reported and to end; return the one warning's held time and
    its text (up to the next log line)."""
    wait_until(lambda: ENDED.search(server.stderr()) is not None, server.stderr, timeout=30)
    log = server.stderr()
    warnings = list(WARNING.finditer(log))
    assert len(warnings) == 1, log
    text = log[warnings[0].start() :]
    following = re.search(r"\n\S+ +(INFO|WARN|ERROR|DEBUG)", text)
    return int(warnings[0].group(1)), text[: following.start() if following else None]


def get_while_watching(server: PuffServer, path: str) -> tuple[int, bytes, bool]:
    """GET ``path``; returns status, body and whether the warning was already in the log
    while the response had not arrived yet."""
    done = threading.Event()
    seen_during = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if WARNING.search(server.stderr()):
                if not done.is_set():
                    seen_during.set()
                return
            done.wait(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    conn = http.client.HTTPConnection(HOST, server.port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
    finally:
        done.set()
        conn.close()
    watcher.join()
    return response.status, body, seen_during.is_set()


def assert_sleep_warned_while_it_blocks(server: PuffServer, app: Path, body: bytes) -> str:
    """GET /sleep (a 500 ms blocking sleep in ``app``): one warning, taken while the sleep
    still ran (so within a second of the request's start), ends with the sleeping line
    (innermost last). Returns the warning."""
    status, got, seen_during = get_while_watching(server, "/sleep")
    assert (status, got) == (200, body)
    held_ms, warning = single_warning(server)
    assert seen_during, warning
    assert 100 <= held_ms < 500, warning
    assert warning.rstrip().endswith(held_line(app, "app")), warning
    return warning


def test_a_blocking_sleep_in_a_view_is_reported_once_while_it_blocks(
    watched: PuffServer,
) -> None:
    assert watchdog_threads(watched) == ["puff-watchdog"]
    warning = assert_sleep_warned_while_it_blocks(watched, WSGI_APP, b"slept")
    assert "block_warn_ms = 100" in warning and "@puff.blocking" in warning, warning
    ended = ENDED.search(watched.stderr())
    assert ended is not None and int(ended.group(1)) >= 400, watched.stderr()
    watched.assert_alive()


def test_a_cpu_loop_in_a_task_is_reported_with_its_line(watched: PuffServer) -> None:
    result = watched.get("/spin-task")
    assert result.status == 200, result.describe()
    held_ms, warning = single_warning(watched)
    assert 100 <= held_ms < 500, warning
    assert held_line(WSGI_APP, "spin_task") in warning, warning
    watched.assert_alive()


def test_a_blocking_call_in_a_coroutine_is_reported(tmp_path: Path) -> None:
    for server in _server("watchdog_asgi", tmp_path):
        assert_sleep_warned_while_it_blocks(server, ASGI_APP, b"done")


def test_a_thousand_ordinary_requests_log_no_warning(watched: PuffServer) -> None:
    assert watchdog_threads(watched) == ["puff-watchdog"]
    conn = http.client.HTTPConnection(HOST, watched.port, timeout=30)
    try:
        for _ in range(1000):
            conn.request("GET", "/hello")
            response = conn.getresponse()
            assert (response.status, response.read()) == (200, b"hello")
    finally:
        conn.close()
    watched.assert_alive()
    assert "puff::watchdog" not in watched.stderr(), watched.stderr()


def test_block_warn_ms_0_starts_no_watchdog_and_warns_of_nothing(tmp_path: Path) -> None:
    for server in _server("watchdog_off", tmp_path):
        assert watchdog_threads(server) == []
        assert server.get("/sleep").status == 200
        server.assert_alive()
        assert "puff::watchdog" not in server.stderr(), server.stderr()


def test_blocks_are_counted_in_the_metrics(tmp_path: Path) -> None:
    metrics_port = free_port()
    server = PuffServer(
        "watchdog",
        APPS_DIR / "watchdog.toml",
        tmp_path,
        extra_args=["--metrics-bind", f"{HOST}:{metrics_port}"],
    )
    server.start()
    try:
        assert total(scrape(metrics_port), "puff_python_blocked_seconds_count") == 0
        assert server.get("/sleep").status == 200
        wait_until(lambda: ENDED.search(server.stderr()) is not None, server.stderr)
        samples = scrape(metrics_port)
        assert total(samples, "puff_python_blocked_seconds_count") == 1, samples
        assert 0.4 <= total(samples, "puff_python_blocked_seconds_sum") < 5, samples
    finally:
        server.stop()
