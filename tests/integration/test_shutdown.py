"""SIGTERM / SIGINT: stop accepting, let in-flight requests finish, exit 0."""

from __future__ import annotations

import signal
import subprocess
import threading
from pathlib import Path

import pytest
from puffserver import APPS_DIR, HttpResult, PuffServer, tail, wait_until


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_in_flight_request_completes_on_shutdown(tmp_path: Path, sig: signal.Signals) -> None:
    server = PuffServer(f"shutdown-{sig.name}", APPS_DIR / "flask.toml", tmp_path)
    server.start()
    try:
        slow_result: list[HttpResult | BaseException] = []

        def slow_client() -> None:
            try:
                slow_result.append(server.get("/sleep?ms=1500&i=7"))
            except BaseException as exc:  # noqa: BLE001 - reported below
                slow_result.append(exc)

        client = threading.Thread(target=slow_client)
        client.start()
        wait_until(
            lambda: server.get("/stats").json()["in_flight"] == 1,
            lambda: f"the slow request never started: {slow_result}",
        )
        assert not slow_result, f"slow request finished before the signal: {slow_result}"
        assert server.proc is not None
        server.proc.send_signal(sig)
        client.join(timeout=60)

        assert slow_result, "the in-flight request never completed"
        response = slow_result[0]
        assert isinstance(response, HttpResult), (
            f"in-flight request failed after {sig.name}: {response!r}\n{tail(server.stderr())}"
        )
        assert response.status == 200, response.describe()
        assert response.json() == {"slept_ms": 1500, "i": 7}

        try:
            code = server.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"puff-cli did not exit after {sig.name}\n{tail(server.stderr())}")
        assert code == 0, f"exit code {code} after {sig.name}\n{tail(server.stderr())}"
    finally:
        server.kill()
