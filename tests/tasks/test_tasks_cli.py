"""`puff-cli tasks` against a queue with known content: the `cli` queue (puff.toml), on
the suite's Redis, run by one worker process with one slot (started here), so that while
one task holds that slot the due tasks stay queued.

The content the module fixture builds: three dead letters (a task that sleeps past its
300 ms timeout with max_retries=0), one task finished with an exception, one running
(holds the slot until a Redis key appears), two due tasks queued behind it and one
scheduled an hour ahead. The tests read it first, then change it (cancel, retry, purge)
in file order.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cli_tasks
import pytest
import tasks_lib
from puff.redis import global_redis
from puff.task_queue import TaskError, named_queue
from test_tasks_distributed import wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = os.path.join(HERE, "puff.toml")
QUEUE = "cli"
# How long the first start of a task that is to be dead-lettered sleeps: far past its 300 ms
# timeout, so the worker's reaper (every lease_ms / 3) finds it overdue even when loaded.
SLOW_MS = 2500
PREFIX = "puff:tq:{cli}:"
TASK_KEYS = {
    "id",
    "state",
    "function",
    "payload",
    "attempts",
    "max_retries",
    "timeout_ms",
    "keep_results_for_ms",
    "scheduled_ms",
    "deadline_ms",
    "worker",
    "worker_alive",
    "reason",
    "dead_at_ms",
}
WORKER_CONFIG = """\
python_path = [{here}]

[[redis]]
name = "default"
pool_size = 4

# The test process runs its own `default` tasks.
[[task_queue]]
name = "default"
max_concurrent_tasks = 0

# One slot: a running task keeps due ones queued.
[[task_queue]]
name = "cli"
max_concurrent_tasks = 1
lease_ms = 1000
shutdown_timeout_ms = 1000
"""


def tasks_cli(
    *args: str, config: str = CONFIG, code: int = 0, queue: str | None = QUEUE
) -> subprocess.CompletedProcess[str]:
    """`puff-cli --config CONFIG tasks [--queue QUEUE] ARGS`, which must exit with `code`."""
    binary = os.environ["PUFF_CLI_BINARY"]
    queue_args = ["--queue", queue] if queue else []
    cmd = [binary, "--config", config, "tasks", *queue_args, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == code, (
        f"{' '.join(cmd[2:])}: exit {proc.returncode}, expected {code}\n"
        f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    )
    return proc


def tasks_json(*args: str) -> Any:
    return json.loads(tasks_cli(*args, "--json").stdout)


def clear_queue() -> None:
    keys = global_redis.keys(PREFIX + "*")
    if keys:
        global_redis.delete(*keys)


def section(out: str, title: str) -> list[list[str]]:
    """The rows (split into cells) of the table under `title` in `list` output."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rows = []
    for line in lines[start + 2 :]:
        if not line or line.startswith("("):
            break
        rows.append(line.split("  "))
    return rows


def first_cells(out: str, title: str) -> list[str]:
    return [row[0].strip() for row in section(out, title)]


@dataclass
class Content:
    dead: list[str]  # in dead-lettering order
    failed: str
    running: str
    due: list[str]
    later: str
    release_key: str
    runs: str  # the Redis list `record` tasks push to
    run: str


@pytest.fixture(scope="module")
def content(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Content]:
    clear_queue()
    folder: Path = tmp_path_factory.mktemp("tasks-cli")
    config = folder / "worker.toml"
    config.write_text(WORKER_CONFIG.format(here=json.dumps(HERE)))
    log = open(folder / "worker.log", "wb")  # noqa: SIM115
    worker = subprocess.Popen(
        [os.environ["PUFF_CLI_BINARY"], "--config", str(config), "wait-forever"],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    run = uuid.uuid4().hex[:8]
    release_key = f"cli:{run}:release"
    queue = named_queue(QUEUE)
    try:
        wait_until(lambda: bool(global_redis.keys(PREFIX + "worker:*")), 30_000, "a lease")
        dead = [
            queue.schedule_function(
                tasks_lib.flaky_slow,
                {"token": f"{run}:{i}", "sleep_ms": SLOW_MS},
                timeout_ms=300,
                max_retries=0,
            )
            for i in range(3)
        ]
        wait_until(lambda: global_redis.llen(PREFIX + "dead") == 3, 60_000, "3 dead letters")
        failed = queue.schedule_function(tasks_lib.fails, {"n": 7})
        with pytest.raises(TaskError):
            queue.wait_for_task_result(failed, 50, 30_000)
        running = queue.schedule_function(cli_tasks.hold, {"key": release_key}, timeout_ms=600_000)
        wait_until(lambda: queue.counts()["running"] == 1, 30_000, "the hold task to run")
        runs = f"cli:{run}:runs"
        due = [queue.schedule_function(cli_tasks.record, {"list": runs, "n": n}) for n in (1, 2)]
        later = queue.schedule_function(
            cli_tasks.record,
            {"list": runs, "n": 3},
            scheduled_time_unix_ms=int(time.time() * 1000) + 3_600_000,
        )
        yield Content(dead, failed, running, due, later, release_key, runs, run)
    finally:
        global_redis.set(release_key, "1")
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()
        clear_queue()
        global_redis.delete(release_key, f"cli:{run}:runs")


def test_list_shows_every_state_in_a_table(content: Content) -> None:
    out = tasks_cli("list").stdout
    assert out.startswith("queue `cli` at redis://"), out
    assert "3 queued, 1 running, 3 dead" in out.splitlines()[0]
    assert first_cells(out, "QUEUED") == [*content.due, content.later], out
    assert first_cells(out, "RUNNING") == [content.running], out
    assert first_cells(out, "DEAD") == content.dead[::-1], "newest first"
    (running,) = section(out, "RUNNING")
    cells = [c.strip() for c in running if c.strip()]
    assert cells[1:3] == ["cli_tasks:hold", "1/4"], out
    assert cells[3].endswith("(lease live)"), out
    for row in section(out, "DEAD"):
        cells = [c.strip() for c in row if c.strip()]
        assert cells[1:4] == ["tasks_lib:flaky_slow", "1", "timed out"], out
    later = next(row for row in section(out, "QUEUED") if row[0].strip() == content.later)
    assert re.search(r"\(in 5\dm \d+s\)", "  ".join(later)), out


def test_list_json(content: Content) -> None:
    doc = tasks_json("list")
    assert doc["queue"] == QUEUE
    assert doc["counts"] == {"queued": 3, "running": 1, "dead": 3}
    assert all(set(task) == TASK_KEYS for task in doc["tasks"]), doc
    states = [(t["id"], t["state"]) for t in doc["tasks"]]
    assert states == [
        *((i, "queued") for i in [*content.due, content.later]),
        (content.running, "running"),
        *((i, "dead") for i in content.dead[::-1]),
    ]
    by_id = {t["id"]: t for t in doc["tasks"]}
    later = by_id[content.later]
    assert later["function"] == "cli_tasks:record"
    assert later["payload"] == {"list": content.runs, "n": 3}
    assert later["attempts"] == 0 and later["max_retries"] == 3
    assert later["scheduled_ms"] > time.time() * 1000 + 3_500_000
    running = by_id[content.running]
    assert running["attempts"] == 1 and running["worker_alive"] is True
    assert running["worker"] and running["deadline_ms"] > time.time() * 1000
    for i in content.dead:
        dead = by_id[i]
        assert (dead["reason"], dead["attempts"], dead["max_retries"]) == ("timed out", 1, 0)
        assert dead["timeout_ms"] == 300 and dead["dead_at_ms"] <= time.time() * 1000


def test_list_filters_and_limit(content: Content) -> None:
    doc = tasks_json("list", "--state", "dead", "--limit", "2")
    assert [t["id"] for t in doc["tasks"]] == content.dead[::-1][:2]
    assert doc["counts"] == {"queued": 3, "running": 1, "dead": 3}, "totals, not the page"
    doc = tasks_json("list", "--state", "queued,running", "--limit", "1")
    assert [(t["id"], t["state"]) for t in doc["tasks"]] == [
        (content.due[0], "queued"),
        (content.running, "running"),
    ]
    out = tasks_cli("list", "--state", "dead", "--limit", "1").stdout
    assert "QUEUED" not in out and "RUNNING" not in out
    assert first_cells(out, "DEAD") == [content.dead[-1]]
    assert "(showing 1 of 3; --limit 3 shows all)" in out


def test_show_each_state(content: Content) -> None:
    task = tasks_json("show", content.later)
    assert set(task) == TASK_KEYS | {"queue", "traceparent", "result", "result_expires_in_ms"}
    assert (task["queue"], task["state"], task["function"]) == (
        QUEUE,
        "queued",
        "cli_tasks:record",
    )
    assert task["timeout_ms"] == 30_000 and task["result"] is None

    task = tasks_json("show", content.running)
    assert (task["state"], task["attempts"], task["worker_alive"]) == ("running", 1, True)
    assert task["payload"] == {"key": content.release_key}

    task = tasks_json("show", content.dead[0])
    assert (task["state"], task["reason"], task["max_retries"]) == ("dead", "timed out", 0)
    assert task["result"]["error"]["type"] == "puff.task_queue.RetriesExhausted"

    task = tasks_json("show", content.failed)
    assert task["state"] == "finished" and task["function"] is None
    assert task["result"]["error"]["type"] == "builtins.ValueError"
    assert task["result"]["error"]["message"] == "bad payload 7"
    assert 0 < task["result_expires_in_ms"] <= 300_000

    out = tasks_cli("show", content.failed).stdout
    assert "error: builtins.ValueError: bad payload 7" in out
    assert "Traceback" in out and "raise ValueError" in out
    out = tasks_cli("show", content.running).stdout
    assert [line.split()[:2] for line in out.splitlines()[:3]] == [
        ["id", content.running],
        ["queue", QUEUE],
        ["state", "running"],
    ]


def test_stats(content: Content) -> None:
    stats = tasks_json("stats")
    assert {k: v for k, v in stats.items() if k != "redis"} == {
        "queue": QUEUE,
        "queued": 3,
        "queued_due": 2,
        "running": 1,
        "running_overdue": 0,
        "dead": 3,
        "workers": 1,
        "results": 4,  # the exception, and the 3 dead letters' RetriesExhausted
    }
    out = tasks_cli("stats").stdout
    assert "queued   3 (2 due, 1 scheduled later)" in out, out
    assert "workers  1 with a live lease" in out, out


def test_errors_and_exit_codes(content: Content, tmp_path: Path) -> None:
    for args in (["show", "nope"], ["retry", "nope"], ["cancel", "nope"]):
        err = tasks_cli(*args, code=1).stderr
        assert "no task `nope` in queue `cli`" in err, err
    err = tasks_cli("list", queue="nope", code=2).stderr
    assert "no task queue named `nope`" in err and "default, remote, persist, cli" in err, err
    err = tasks_cli("retry", content.failed, code=1).stderr
    assert "finished; only dead-lettered tasks can be retried" in err, err
    err = tasks_cli("retry", content.later, code=1).stderr
    assert "is queued; only dead-lettered tasks" in err, err
    err = tasks_cli("cancel", content.dead[0], code=1).stderr
    assert "dead-lettered, not queued or running" in err, err
    tasks_cli("retry", code=2)
    tasks_cli("purge", code=2)
    tasks_cli("list", "--state", "finished", code=2)
    # The URL flags apply to `tasks` too; an unreachable Redis is exit 3.
    err = tasks_cli("stats", "--cli-task-queue-url", "redis://127.0.0.1:1", code=3).stderr
    assert "redis://127.0.0.1:1" in err, err
    memory = tmp_path / "memory.toml"
    memory.write_text('[[task_queue]]\nname = "mem"\nurl = "memory://"\n')
    err = tasks_cli("stats", config=str(memory), queue="mem", code=2).stderr
    assert "task queue `mem` runs in process" in err, err
    assert "needs the queue on Redis" in err and "PUFF_MEM_TASK_QUEUE_URL" in err, err
    bare = tmp_path / "bare.toml"
    bare.write_text("python_path = ['.']\n")
    err = tasks_cli("list", config=str(bare), queue=None, code=2).stderr
    assert "task queue `default` runs in process" in err, err


def test_cancel_a_queued_task(content: Content) -> None:
    doc = tasks_json("cancel", content.due[1])
    assert doc == {"queue": QUEUE, "cancelled": content.due[1], "was": "queued"}
    tasks_cli("show", content.due[1], code=1)
    assert [t["id"] for t in tasks_json("list", "--state", "queued")["tasks"]] == [
        content.due[0],
        content.later,
    ]


def test_retry_a_dead_letter_runs_it(content: Content) -> None:
    out = tasks_cli("retry", content.dead[0]).stdout
    assert out == f"task {content.dead[0]} is back in queue `cli`, due now\n"
    task = tasks_json("show", content.dead[0])
    assert (task["state"], task["attempts"], task["result"]) == ("queued", 0, None)
    assert (task["timeout_ms"], task["max_retries"]) == (300, 0), "its own limits"
    assert [t["id"] for t in tasks_json("list", "--state", "dead")["tasks"]] == [
        content.dead[2],
        content.dead[1],
    ]
    # Free the worker's slot: the hold task ends, then the due task and the retried one run
    # (the cancelled one never does).
    global_redis.set(content.release_key, "1")
    queue = named_queue(QUEUE)
    assert queue.wait_for_task_result(content.running, 50, 30_000) == "released"
    assert queue.wait_for_task_result(content.due[0], 50, 30_000) == 1
    assert queue.wait_for_task_result(content.dead[0], 50, 30_000) == 2, "its second start"
    assert [r.decode() for r in global_redis.lrange(content.runs, 0, -1)] == ["1"]
    assert tasks_json("show", content.dead[0])["state"] == "finished"


def test_cancel_a_running_task_drops_its_result(content: Content) -> None:
    queue = named_queue(QUEUE)
    key = f"cli:{content.run}:release-2"
    held = queue.schedule_function(cli_tasks.hold, {"key": key}, timeout_ms=600_000)
    wait_until(lambda: queue.counts()["running"] == 1, 30_000, "the second hold task to run")
    assert "cancelled running task" in tasks_cli("cancel", held).stdout
    global_redis.set(key, "1")
    after = queue.schedule_function(cli_tasks.record, {"list": content.runs, "n": 4})
    assert queue.wait_for_task_result(after, 50, 30_000) == 4
    assert queue.task_result(held) is None, "the cancelled task's result was dropped"
    tasks_cli("show", held, code=1)
    global_redis.delete(key)


def test_retry_every_dead_letter(content: Content) -> None:
    doc = tasks_json("retry", "--dead")
    assert doc == {"queue": QUEUE, "retried": content.dead[1:], "kept": 0}
    queue = named_queue(QUEUE)
    assert [queue.wait_for_task_result(i, 50, 30_000) for i in content.dead[1:]] == [2, 2]
    assert tasks_json("list")["counts"] == {"queued": 1, "running": 0, "dead": 0}


def test_purge_dead_letters(content: Content) -> None:
    queue = named_queue(QUEUE)
    queue.schedule_function(
        tasks_lib.flaky_slow,
        {"token": f"{content.run}:purge", "sleep_ms": SLOW_MS},
        timeout_ms=300,
        max_retries=0,
    )
    wait_until(lambda: global_redis.llen(PREFIX + "dead") == 1, 30_000, "a dead letter")
    assert tasks_cli("purge", "--dead").stdout == "dropped 1 dead letter(s) from queue `cli`\n"
    assert tasks_json("purge", "--dead") == {"queue": QUEUE, "purged": 0}
    assert tasks_json("stats")["dead"] == 0
    assert tasks_json("list", "--state", "dead")["tasks"] == []


def test_cancel_frees_and_retry_restores_a_unique_key(content: Content) -> None:
    queue = named_queue(QUEUE)
    later = int(time.time() * 1000) + 3_600_000
    first = queue.schedule_function(
        cli_tasks.record,
        {"list": content.runs, "n": 5},
        scheduled_time_unix_ms=later,
        unique_key="cli-once",
    )
    again = queue.schedule_function(
        cli_tasks.record, {"list": content.runs, "n": 6}, unique_key="cli-once"
    )
    assert again == first, "the key is held while the task is queued"
    tasks_cli("cancel", first)
    second = queue.schedule_function(
        cli_tasks.record,
        {"list": content.runs, "n": 7},
        scheduled_time_unix_ms=later,
        unique_key="cli-once",
    )
    assert second != first, "a task cancelled from the CLI frees its key"
    tasks_cli("cancel", second)

    dead = queue.schedule_function(
        tasks_lib.flaky_slow,
        {"token": f"{content.run}:unique", "sleep_ms": SLOW_MS},
        timeout_ms=300,
        max_retries=0,
        unique_key="cli-dead",
    )
    wait_until(lambda: global_redis.llen(PREFIX + "dead") == 1, 30_000, "a dead letter")
    # The worker's one slot held, so the revived task stays queued while the key is checked.
    release = f"cli:{content.run}:release-unique"
    held = queue.schedule_function(cli_tasks.hold, {"key": release}, timeout_ms=600_000)
    wait_until(lambda: queue.counts()["running"] == 1, 30_000, "the hold task to run")
    tasks_cli("retry", dead)
    assert (
        queue.schedule_function(
            cli_tasks.record, {"list": content.runs, "n": 8}, unique_key="cli-dead"
        )
        == dead
    ), "a retried dead letter holds its key again"
    tasks_cli("cancel", dead)
    global_redis.set(release, "1")
    assert queue.wait_for_task_result(held, 50, 30_000) == "released"
    global_redis.delete(release)
