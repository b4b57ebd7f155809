"""tokio_batch_scheduling: Tokio's threads run under SCHED_BATCH by default (a woken Tokio
thread does not preempt the Python thread on a shared core), the Python thread keeps the
usual policy, and `tokio_batch_scheduling = false` leaves every thread as it was."""

from __future__ import annotations

import os
from pathlib import Path

from puffserver import PuffServer


def policies(server: PuffServer) -> dict[str, set[int]]:
    """Scheduling policy of each of the server's threads, by thread name."""
    assert server.proc is not None
    # A request first, so the runtime has run Python and its Tokio threads have work done.
    assert server.get("/ping").status == 200
    out: dict[str, set[int]] = {}
    for task in Path(f"/proc/{server.proc.pid}/task").iterdir():
        name = (task / "comm").read_text().strip()
        out.setdefault(name, set()).add(os.sched_getscheduler(int(task.name)))
    return out


def test_tokio_threads_are_batch_scheduled_by_default(wsgi_server: PuffServer) -> None:
    got = policies(wsgi_server)
    assert got.get("puff-tokio") == {os.SCHED_BATCH}, got
    assert got.get("puff-python") == {os.SCHED_OTHER}, got


def test_batch_scheduling_can_be_turned_off(unbatched_server: PuffServer) -> None:
    got = policies(unbatched_server)
    assert got.get("puff-tokio") == {os.SCHED_OTHER}, got
    assert got.get("puff-python") == {os.SCHED_OTHER}, got
