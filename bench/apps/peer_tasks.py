"""`bench tasks` for the peers, run from bench/.venv-peers (arq from its own venv,
bench/.venv-peers/arq-venv):

    python peer_tasks.py arq       # arq: worker + client, both under uvloop
    python peer_tasks.py celery    # Celery: Redis broker and result backend

Each starts its worker as a child process (`python peer_tasks.py arq-worker` /
`celery-worker`; it inherits the CPU pinning), waits for a first task to come back (the
worker is up), runs the untimed warm-up tasks, then the timed ones (see tasks_common.py),
prints the `BENCH_RESULT` line and stops the worker: Celery's with SIGTERM (a warm
shutdown); arq's when its standard input closes (on redis-py 8.1, arq's own SIGTERM
handling now and then left the worker running; this does not depend on it).

- arq (from its own venv, bench/.venv-peers/arq-venv: arq requires redis-py < 6): one
  `arq.worker.Worker` (max_jobs = ARQ_MAX_JOBS, poll_delay = POLL_MS, results kept
  KEEP_RESULTS_S) with uvloop as the event loop policy; the client (under `uvloop.run`)
  runs the callers as coroutines on one `ArqRedis` pool: `enqueue_job`, then
  `job.result(poll_delay=POLL_MS)` for each of its jobs.
- Celery: one worker process, `--pool=solo` (tasks run in the worker's main process: no
  child processes, no IPC; --pool=prefork --concurrency=1 was slower here), prefetch
  multiplier CELERY_PREFETCH, without gossip, mingle and heartbeat; the task has
  ignore_result=False. Celery's client is synchronous, so the callers are threads; each
  sends its tasks with `apply_async` and waits with `AsyncResult.get`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import uvloop
from tasks_common import (
    KEEP_RESULTS_S,
    POLL_MS,
    QUEUE,
    TIMEOUT_S,
    Counter,
    Settings,
    noop,
    plan,
    report,
    settings,
    warmup_plan,
)

# arq and Celery live in different venvs (arq's in bench/.venv-peers/arq-venv, with the
# redis-py it supports): each part imports its own library.
if TYPE_CHECKING:
    from arq import ArqRedis
    from arq.connections import RedisSettings
    from celery import Celery, Task

ARQ_MAX_JOBS = 100
CELERY_POOL = "solo"  # also tried: prefork (one child), threads; see bench/README.md
CELERY_PREFETCH = 64  # messages the worker reserves ahead (4 made no clear difference)
READY_TIMEOUT_S = 60.0  # the worker must answer the first warm-up task within this


# ---- the worker child process ---------------------------------------------------------


def _start_worker(role: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), role], stdin=subprocess.PIPE
    )


def _stop_worker(proc: subprocess.Popen, sigterm: bool) -> None:
    if proc.stdin is not None:
        proc.stdin.close()
    if proc.poll() is None:
        t0 = time.monotonic()
        if sigterm:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            print("worker did not stop within 20 s: killed", flush=True)
            proc.kill()
            proc.wait()
        print(f"worker stopped in {time.monotonic() - t0:.1f} s", flush=True)


def _with_worker(role: str, body: Callable[[], int], sigterm: bool) -> int:
    worker = _start_worker(role)
    try:
        return body()
    finally:
        _stop_worker(worker, sigterm)


def _stdin_closed(loop: asyncio.AbstractEventLoop) -> asyncio.Future:
    """A future that is done once this process's standard input is closed."""
    done = loop.create_future()

    def wait() -> None:
        sys.stdin.read()
        loop.call_soon_threadsafe(lambda: done.done() or done.set_result(None))

    threading.Thread(target=wait, daemon=True).start()
    return done


# ---- arq ------------------------------------------------------------------------------


def _arq_settings(s: Settings) -> RedisSettings:
    from arq.connections import RedisSettings

    return RedisSettings.from_dsn(s.url)


async def arq_noop(ctx: dict, payload: dict) -> int:
    """The arq job: arq passes its context first."""
    return noop(payload)


async def _arq_worker_main() -> None:
    from arq.worker import Worker, func

    worker = Worker(
        functions=[func(arq_noop, name="noop")],
        queue_name=QUEUE,
        redis_settings=_arq_settings(settings()),
        max_jobs=ARQ_MAX_JOBS,
        poll_delay=POLL_MS / 1000,
        keep_result=KEEP_RESULTS_S,
        log_results=False,
        handle_signals=False,
    )
    loop = type(asyncio.get_running_loop())
    print(
        f"arq worker: max_jobs {ARQ_MAX_JOBS}, loop {loop.__module__}.{loop.__name__}"
    )
    running = asyncio.ensure_future(worker.async_run())
    stop = _stdin_closed(asyncio.get_running_loop())
    await asyncio.wait([running, stop], return_when=asyncio.FIRST_COMPLETED)
    running.cancel()  # and so the worker's main task
    try:
        await running
    except asyncio.CancelledError:
        pass
    await worker.close()


def arq_worker() -> int:
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(_arq_worker_main())
    return 0


async def _arq_round(pool: ArqRedis, shares: list[list[int]], counter: Counter) -> None:
    async def caller(mine: list[int]) -> None:
        jobs = []
        for i in mine:
            try:
                jobs.append(
                    (i, await pool.enqueue_job("noop", {"i": i}, _queue_name=QUEUE))
                )
            except Exception as e:  # noqa: BLE001 - counted and reported
                counter.error(f"enqueue {i}: {e!r}")
        for i, job in jobs:
            try:
                value = await job.result(timeout=TIMEOUT_S, poll_delay=POLL_MS / 1000)
            except asyncio.TimeoutError:
                value = None
            except Exception as e:  # noqa: BLE001 - counted and reported
                counter.failed(i, repr(e))
                continue
            counter.check(i, value)

    await asyncio.gather(*(caller(mine) for mine in shares))


async def _arq_main(s: Settings) -> int:
    from arq import create_pool

    pool = await create_pool(_arq_settings(s), default_queue_name=QUEUE)
    first = Counter()
    await _arq_round(pool, [[-1]], first)  # the worker is up once this one is done
    if first.errors:
        print(f"arq worker not ready: {first.first_error}", flush=True)
        return 1
    await _arq_round(pool, warmup_plan(s), Counter())
    shares, counter = plan(s, s.tasks), Counter()
    start = time.perf_counter()
    await _arq_round(pool, shares, counter)
    seconds = time.perf_counter() - start
    await pool.aclose()
    return report("arq (uvloop)", s, counter, seconds)


def arq_client() -> int:
    s = settings()
    return _with_worker("arq-worker", lambda: uvloop.run(_arq_main(s)), sigterm=False)


# ---- Celery ---------------------------------------------------------------------------


def _celery_app() -> Celery:
    from celery import Celery

    url = settings().url
    app = Celery("puff_bench", broker=url, backend=url)
    prefix = {"global_keyprefix": "puff-bench:"}
    app.conf.update(
        task_default_queue=QUEUE,
        broker_transport_options=prefix,
        result_backend_transport_options=prefix,
        result_expires=KEEP_RESULTS_S,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=CELERY_PREFETCH,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
    )
    app.task(name="puff_bench.noop", ignore_result=False)(noop)
    return app


def celery_worker() -> int:
    app = _celery_app()
    args = [
        "worker",
        f"--pool={CELERY_POOL}",
        "--concurrency=1",
        f"--queues={QUEUE}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel=WARNING",
    ]
    print(f"celery {' '.join(args)}", flush=True)
    app.worker_main(args)
    return 0


def _celery_round(task: Task, shares: list[list[int]], counter: Counter) -> None:
    def caller(mine: list[int]) -> None:
        sent = []
        for i in mine:
            try:
                sent.append((i, task.apply_async(({"i": i},))))
            except Exception as e:  # noqa: BLE001 - counted and reported
                counter.error(f"send {i}: {e!r}")
        for i, result in sent:
            try:
                value = result.get(timeout=TIMEOUT_S, interval=POLL_MS / 1000)
            except Exception as e:  # noqa: BLE001 - counted and reported
                counter.failed(i, repr(e))
                continue
            counter.check(i, value)

    if len(shares) == 1:
        caller(shares[0])
        return
    threads = [threading.Thread(target=caller, args=(mine,)) for mine in shares]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _celery_main(s: Settings) -> int:
    app = _celery_app()
    task = app.tasks["puff_bench.noop"]
    # The first task waits for the worker (which needs a second or two to start).
    first = task.apply_async(({"i": -1},))
    try:
        if first.get(timeout=READY_TIMEOUT_S) != -1:
            raise RuntimeError("wrong result")
    except Exception as e:  # noqa: BLE001 - reported
        print(f"celery worker not ready: {e!r}", flush=True)
        return 1
    _celery_round(task, warmup_plan(s), Counter())
    shares, counter = plan(s, s.tasks), Counter()
    start = time.perf_counter()
    _celery_round(task, shares, counter)
    seconds = time.perf_counter() - start
    return report(f"celery (--pool={CELERY_POOL})", s, counter, seconds)


def celery_client() -> int:
    s = settings()
    return _with_worker("celery-worker", lambda: _celery_main(s), sigterm=True)


def main(which: str) -> int:
    programs = {
        "arq": arq_client,
        "celery": celery_client,
        "arq-worker": arq_worker,
        "celery-worker": celery_worker,
    }
    if which not in programs:
        raise SystemExit(f"unknown program {which!r} ({', '.join(programs)})")
    return programs[which]()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "arq"))
