"""Django's connections under load on `puff-cli runserver`: concurrent requests never share a
transaction (each request's greenlet has its own Django connection), and however many
requests are in flight, and although settings.py asks for persistent connections
(CONN_MAX_AGE = 60), the server never holds more Postgres connections than its pool
(pool_size = 4 in tests/django/puff-server.toml); 100 simultaneous votes are all counted."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import puff
from conftest import (
    SERVER_APP,
    SERVER_POOL_SIZE,
    Response,
    Sampler,
    Server,
    csrf_token_in,
    probe_sql,
)

PROBES = 200
BENCH_REQUESTS = 1_000
BENCH_CONCURRENCY = 50


def wait_sampling(futures: list[Future[Any]], sampler: Sampler, every_ms: int = 20) -> None:
    """Sample (on this greenlet, through the probe pool) until every future is done."""
    while not all(f.done() for f in futures):
        sampler.sample()
        puff.sleep_ms(every_ms)
    sampler.sample()


def test_concurrent_transactions_are_isolated(server: Server) -> None:
    tokens = [uuid.uuid4().hex for _ in range(PROBES)]
    start = threading.Barrier(PROBES, timeout=60)

    def probe(token: str) -> Response:
        start.wait()  # all at once
        return server.post_form("/polls/atomic-probe/", {"token": token})

    sampler = Sampler(
        f"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{SERVER_APP}'"
    )
    with ThreadPoolExecutor(max_workers=PROBES) as pool:
        futures = [pool.submit(probe, token) for token in tokens]
        wait_sampling(futures, sampler)
        responses = [f.result() for f in futures]

    failed = [r.describe() for r in responses if r.status != 200]
    assert not failed, f"{len(failed)} probes failed, e.g. {failed[:3]}"
    pids = set()
    for token, resp in zip(tokens, responses, strict=True):
        body = resp.json()
        assert body["token"] == token
        # Only its own uncommitted row: no other request's transaction leaked in.
        assert body["seen"] == [f"atomic-{token}"], body
        assert isinstance(body["pid"], int), body
        pids.add(body["pid"])
    assert 1 <= len(pids) <= SERVER_POOL_SIZE, f"{len(pids)} backends: {sorted(pids)}"
    assert max(sampler.values) <= SERVER_POOL_SIZE, sampler.describe()
    # Every transaction rolled back.
    left = probe_sql(
        "SELECT count(*) FROM polls_question WHERE question_text LIKE %s", ("atomic-%",)
    )
    assert left == [(0,)]


def test_bench_under_load_stays_within_the_pool(server: Server) -> None:
    expected_total = int(probe_sql("SELECT count(*) FROM polls_question")[0][0])
    latest = probe_sql("SELECT id, question_text FROM polls_question ORDER BY pub_date DESC LIMIT 5")
    sampler = Sampler(
        f"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{SERVER_APP}'"
    )
    with ThreadPoolExecutor(max_workers=BENCH_CONCURRENCY) as pool:
        futures = [pool.submit(server.get, "/polls/bench/") for _ in range(BENCH_REQUESTS)]
        wait_sampling(futures, sampler)
        responses = [f.result() for f in futures]

    failed = [r.describe() for r in responses if r.status != 200]
    assert not failed, f"{len(failed)} of {BENCH_REQUESTS} failed, e.g. {failed[:3]}"
    first = responses[0].json()
    assert set(first) == {"questions", "total"}, first
    assert first["total"] == expected_total
    assert [(q["id"], q["question_text"]) for q in first["questions"]] == latest
    for q in first["questions"]:
        assert set(q) == {"id", "question_text", "choices"}, q
        assert all(set(c) == {"id", "choice_text", "votes"} for c in q["choices"]), q
    assert sum(len(q["choices"]) for q in first["questions"]) > 0, first
    different = [r.body for r in responses if r.body != responses[0].body]
    assert not different, f"{len(different)} responses differ, e.g. {different[:2]}"
    assert len(sampler.values) >= 5, f"too few samples to tell: {sampler.describe()}"
    assert 0 < max(sampler.values) <= SERVER_POOL_SIZE, (
        f"the server held up to {max(sampler.values)} connections (pool_size = "
        f"{SERVER_POOL_SIZE}); {sampler.describe()}"
    )


def test_concurrent_votes_are_all_counted(server: Server) -> None:
    votes = 100
    q = server.seeded.past[0]
    choice = q.choice_ids[0]
    page = server.get(f"/polls/{q.id}/")
    cookies = {"csrftoken": page.cookies()["csrftoken"]}
    token = csrf_token_in(page.text())
    (before,) = probe_sql("SELECT votes FROM polls_choice WHERE id = %s", (choice,))[0]

    def vote(_: int) -> Response:
        return server.post_form(
            f"/polls/{q.id}/vote/", {"choice": choice, "csrfmiddlewaretoken": token},
            cookies=cookies,
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(vote, range(votes)))
    wrong = [r.describe() for r in responses if r.status != 302]
    assert not wrong, f"{len(wrong)} votes were not redirected, e.g. {wrong[:3]}"
    # UPDATE ... SET votes = votes + 1 in each request's own transaction: none lost.
    assert probe_sql("SELECT votes FROM polls_choice WHERE id = %s", (choice,)) == [
        (before + votes,)
    ]
