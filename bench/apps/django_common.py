"""Shared by the `bench django` programs: the data, and the answer of the measured view.

`cargo xtask bench django` starts a Postgres server with django_pg_server.py (a database of
its own, ``DATABASE``, migrated by Django and filled by ``seed()``), serves the polls example
(examples/django_polls, settings django_bench_settings.py) with Puff, gunicorn+gevent and
granian, checks one answer of each server with django_check.py, then loads ``PATH`` with wrk.

The view of case (a) (polls.views.bench, ``PATH``) runs three ORM queries: the five latest
questions, their choices, the question count; its JSON answer must be exactly ``expected()``.
The view of case (b) (polls.views.bench_wait, ``WAIT_PATH``) waits 20 ms in Postgres
(``pg_sleep``), then runs two ORM queries: its answer must be exactly ``expected_wait()``.
"""

from __future__ import annotations

import datetime

PATH = "/polls/bench/"
WAIT_PATH = "/polls/bench-wait/"
# The database the helper creates (and drops at the end) on the server.
DATABASE = "puff_bench_django"
QUESTIONS = 50
CHOICES_PER_QUESTION = 4
LATEST = 5  # the view's slice
_BASE = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def pub_date(q: int) -> datetime.datetime:
    """Question q is published q minutes after the base time: the latest is the last one."""
    return _BASE + datetime.timedelta(minutes=q)


def choice_id(q: int, c: int) -> int:
    return (q - 1) * CHOICES_PER_QUESTION + c


def votes(q: int, c: int) -> int:
    return (q * 7 + c * 3) % 50


def seed() -> None:
    """Fills polls_question and polls_choice (ids fixed, so the answer is known)."""
    from polls.models import Choice, Question

    Question.objects.bulk_create(
        Question(id=q, question_text=f"Question {q}?", pub_date=pub_date(q))
        for q in range(1, QUESTIONS + 1)
    )
    Choice.objects.bulk_create(
        Choice(
            id=choice_id(q, c),
            question_id=q,
            choice_text=f"Choice {c} of question {q}",
            votes=votes(q, c),
        )
        for q in range(1, QUESTIONS + 1)
        for c in range(1, CHOICES_PER_QUESTION + 1)
    )


def expected() -> dict:
    """The JSON answer of the view on the seeded data."""
    latest = range(QUESTIONS, QUESTIONS - LATEST, -1)
    return {
        "questions": [
            {
                "id": q,
                "question_text": f"Question {q}?",
                "choices": [
                    {
                        "id": choice_id(q, c),
                        "choice_text": f"Choice {c} of question {q}",
                        "votes": votes(q, c),
                    }
                    for c in range(1, CHOICES_PER_QUESTION + 1)
                ],
            }
            for q in latest
        ],
        "total": QUESTIONS,
    }


def expected_wait() -> dict:
    """The JSON answer of the waiting view (case b) on the seeded data."""
    latest = range(QUESTIONS, QUESTIONS - LATEST, -1)
    return {
        "questions": [{"id": q, "question_text": f"Question {q}?"} for q in latest],
        "total": QUESTIONS,
    }
