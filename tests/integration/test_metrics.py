"""Prometheus metrics (`metrics_bind`): real servers, real requests over loopback, the
endpoint scraped over HTTP and its text parsed. With `--workers 2` the supervisor serves
every worker's series, and a worker killed with SIGKILL loses none of its counts.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
from collections import Counter
from pathlib import Path

from prometheus_client.openmetrics.parser import text_string_to_metric_families

from puffserver import HOST, PuffServer, free_port, puff_env, require_puff_cli, tail, wait_until

APP = """\
import gc
import os


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/boom":
        raise RuntimeError("the view failed")
    if path == "/gc":
        gc.collect()
    status = "404 Not Found" if path == "/missing" else "200 OK"
    body = str(os.getpid()).encode()
    start_response(status, [("Content-Length", str(len(body)))])
    return [body]
"""

# (method, path, expected status, times): 12 GET and 2 POST requests.
MIX = [
    ("GET", "/", 200, 7),
    ("POST", "/", 200, 2),
    ("GET", "/missing", 404, 3),
    ("GET", "/boom", 500, 2),
]

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"')

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def start(tmp_path: Path, name: str, metrics_port: int | None, workers: int = 1) -> PuffServer:
    (tmp_path / "metrics_app.py").write_text(APP)
    config = tmp_path / "puff.toml"
    metrics = f'metrics_bind = "{HOST}:{metrics_port}"\n' if metrics_port else ""
    config.write_text(
        f'wsgi = "metrics_app.app"\npython_path = ["{tmp_path}"]\naccess_log = false\n'
        f"workers = {workers}\n{metrics}"
    )
    server = PuffServer(name, config, tmp_path).start()
    if workers > 1:
        wait_until(
            lambda: server.stderr().count(" serving after ") >= workers,
            lambda: tail(server.stderr()),
            timeout=60,
        )
    return server


def request(port: int, method: str, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request(method, path, body=b"x" if method == "POST" else None)
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


def send_mix(port: int) -> None:
    for method, path, status, times in MIX:
        for _ in range(times):
            got, body = request(port, method, path)
            assert got == status, (method, path, got, body)


def scrape(port: int) -> Samples:
    status, text = request(port, "GET", "/metrics")
    assert status == 200, text
    assert text.rstrip().endswith("# EOF"), text[-200:]
    samples: Samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        samples[(name, frozenset(LABEL.findall(labels or "")))] = float(value)
    # The same text through the Prometheus client's own OpenMetrics parser (it raises on
    # anything out of format): the same samples must come out.
    parsed = {
        (s.name, frozenset(s.labels.items())): float(s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert parsed == samples, set(parsed.items()) ^ set(samples.items())
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels` (any worker)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def by_worker(samples: Samples, name: str) -> dict[str, float]:
    found: Counter[str] = Counter()
    for (n, labels), value in samples.items():
        if n == name:
            workers = [v for k, v in labels if k == "worker"]
            assert len(workers) == 1, f"{n}{sorted(labels)} has no worker label"
            found[workers[0]] += value
    return dict(found)


def expected_requests() -> Counter[tuple[str, str]]:
    expected: Counter[tuple[str, str]] = Counter()
    for method, _, status, times in MIX:
        expected[(method, str(status))] += times
    return expected


def assert_requests(samples: Samples, rounds: int) -> None:
    for (method, status), times in expected_requests().items():
        got = total(samples, "puff_http_requests_total", method=method, status=status)
        assert got == times * rounds, (method, status, got, times * rounds)
    sent = sum(times for *_, times in MIX) * rounds
    assert total(samples, "puff_http_requests_total") == sent
    assert total(samples, "puff_http_request_duration_seconds_count") == sent
    assert total(samples, "puff_http_request_duration_seconds_bucket", le="+Inf") == sent


def listening_sockets(pid: int) -> int:
    """How many TCP sockets in LISTEN state process `pid` holds."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                count += 1
    return count


def test_scraped_counters_equal_the_requests_sent(tmp_path: Path) -> None:
    metrics_port = free_port()
    server = start(tmp_path, "metrics", metrics_port)
    try:
        assert server.proc is not None
        assert listening_sockets(server.proc.pid) == 2, "the app's socket and /metrics"
        send_mix(server.port)
        assert_requests(scrape(metrics_port), 1)
        assert request(server.port, "GET", "/gc")[0] == 200
        samples = scrape(metrics_port)
        assert total(samples, "puff_http_requests_total", method="GET", status="200") == 8
        assert not any("worker" in dict(labels) for _, labels in samples), (
            "one process: no worker label"
        )
        # Every request's work waited in the hub's queue at least once; /gc collected.
        assert total(samples, "puff_python_hub_lag_seconds_count") >= 15
        assert total(samples, "puff_python_gc_pause_seconds_count", generation="2") >= 1
        wait_until(
            lambda: total(scrape(metrics_port), "puff_http_requests_in_flight") == 0,
            lambda: f"requests still in flight:\n{scrape(metrics_port)}",
        )
        wait_until(
            lambda: total(scrape(metrics_port), "puff_python_greenlets_alive") == 0,
            "greenlets still alive after every request ended",
        )
        assert request(metrics_port, "GET", "/other")[0] == 404
    finally:
        server.stop()


def test_metrics_are_off_by_default(tmp_path: Path) -> None:
    server = start(tmp_path, "no-metrics", None)
    try:
        assert server.proc is not None
        send_mix(server.port)
        assert listening_sockets(server.proc.pid) == 1, "only the app's socket"
        assert "metrics on" not in server.stderr()
    finally:
        server.stop()


def test_a_busy_metrics_bind_is_an_error_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "metrics_app.py").write_text(APP)
    config = tmp_path / "puff.toml"
    with __import__("socket").socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        config.write_text(
            f'wsgi = "metrics_app.app"\npython_path = ["{tmp_path}"]\n'
            f'metrics_bind = "{HOST}:{port}"\n'
        )
        done = subprocess.run(
            [str(require_puff_cli()), "--config", str(config), "runserver"],
            env=puff_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode != 0
    assert f"metrics_bind: cannot listen on {HOST}:{port}" in done.stderr, done.stderr


def test_two_workers_add_up_and_a_killed_worker_keeps_its_counts(tmp_path: Path) -> None:
    metrics_port = free_port()
    server = start(tmp_path, "metrics-workers", metrics_port, workers=2)
    try:
        assert server.proc is not None
        assert listening_sockets(server.proc.pid) == 2, "the shared socket and /metrics"
        send_mix(server.port)
        before = scrape(metrics_port)
        assert_requests(before, 1)
        counts_before = by_worker(before, "puff_http_requests_total")
        assert set(counts_before) <= {"1", "2"}, counts_before

        # The worker that served the last request dies without a chance to flush anything.
        _, pid = request(server.port, "GET", "/")
        os.kill(int(pid), signal.SIGKILL)
        wait_until(
            lambda: server.stderr().count(" serving after ") >= 3,
            lambda: tail(server.stderr()),
            timeout=60,
        )
        # The endpoint is the supervisor's: it answered all along, and still does.
        after_kill = scrape(metrics_port)
        assert total(after_kill, "puff_http_requests_total") == 15

        send_mix(server.port)
        after = scrape(metrics_port)
        for (method, status), times in expected_requests().items():
            got = total(after, "puff_http_requests_total", method=method, status=status)
            extra = 1 if (method, status) == ("GET", "200") else 0
            assert got == times * 2 + extra, (method, status, got)
        counts_after = by_worker(after, "puff_http_requests_total")
        for worker, count in counts_before.items():
            assert counts_after[worker] >= count, (worker, counts_before, counts_after)
        assert sum(counts_after.values()) == 29
        for name in (
            "puff_http_request_duration_seconds_count",
            "puff_python_hub_lag_seconds_count",
        ):
            by_worker(after, name)
        # The killed worker's open connections and requests in flight went with it.
        wait_until(
            lambda: total(scrape(metrics_port), "puff_http_requests_in_flight") == 0,
            lambda: f"requests still in flight:\n{scrape(metrics_port)}",
        )
        wait_until(
            lambda: total(scrape(metrics_port), "puff_http_connections_open") <= 1,
            lambda: f"connections still open:\n{scrape(metrics_port)}",
        )
    finally:
        server.stop()
