"""polls_site/graphql_schema.py on the live server's /graphql/: the two-layer
``questions { choices }`` query attaches every choice to its own question in exactly two SQL
statements (counted by pg_stat_statements), ``question_objs`` runs the ORM on the request's
connection (``borrow_db_context``), and the ``create_question`` mutation commits its row."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Cli, Seeded, Server, probe_sql

QUESTIONS = "{ questions { id question_text choices { id choice_text votes } } }"


pytestmark = pytest.mark.usefixtures("pg_stat_statements")


def statements_on_polls_tables() -> int:
    """Executions of statements reading polls_question / polls_choice in this database,
    other than this count and the tests' own inserts and deletes."""
    rows = probe_sql(
        "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
        "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND query ~ 'polls_(question|choice)' AND query NOT LIKE '%pg_stat_statements%' "
        "AND query !~* '^\\s*(INSERT|DELETE|CREATE)'"
    )
    return int(rows[0][0])


def database_questions() -> list[dict[str, Any]]:
    """What the tables hold, shaped like the GraphQL result."""
    questions = [
        {"id": qid, "question_text": text, "choices": []}
        for qid, text in probe_sql("SELECT id, question_text FROM polls_question ORDER BY id")
    ]
    by_id = {q["id"]: q for q in questions}
    for cid, qid, text, votes in probe_sql(
        "SELECT id, question_id, choice_text, votes FROM polls_choice ORDER BY id"
    ):
        by_id[qid]["choices"].append({"id": cid, "choice_text": text, "votes": votes})
    return questions


def test_questions_with_choices_in_two_statements(server: Server) -> None:
    expected = database_questions()
    probe_sql("SELECT pg_stat_statements_reset()")
    before = statements_on_polls_tables()
    data = server.graphql(QUESTIONS)
    after = statements_on_polls_tables()
    assert data["questions"] == expected
    # The seeded choices are on their own questions.
    by_id = {q["id"]: q for q in data["questions"]}
    for q in server.seeded.questions:
        assert by_id[q.id]["question_text"] == q.text
        assert [c["id"] for c in by_id[q.id]["choices"]] == list(q.choice_ids)
        assert [c["choice_text"] for c in by_id[q.id]["choices"]] == list(q.choices)
    assert after - before == 2, f"{after - before} statements for the two-layer query"


def test_question_objs_through_the_orm(server: Server) -> None:
    data = server.graphql("{ question_objs { id question_text pub_date } }")
    rows = probe_sql("SELECT id, question_text FROM polls_question ORDER BY id")
    assert [(q["id"], q["question_text"]) for q in data["question_objs"]] == rows
    assert all(q["pub_date"] for q in data["question_objs"]), data


def test_create_question_commits(server: Server) -> None:
    text = "Created over GraphQL?"
    data = server.graphql(
        "mutation M($t: String!) { create_question(question_text: $t) { id question_text } }",
        {"t": text},
    )
    created = data["create_question"]
    try:
        assert created["question_text"] == text
        # Committed: another connection (the probe pool's) sees it.
        assert probe_sql(
            "SELECT question_text FROM polls_question WHERE id = %s", (created["id"],)
        ) == [(text,)]
        listed = server.graphql("{ questions { id question_text } }")["questions"]
        assert {"id": created["id"], "question_text": text} in listed
    finally:
        probe_sql("DELETE FROM polls_question WHERE question_text = %s", (text,))


def test_query_and_params_gives_dollar_placeholders_and_empty_querysets(
    migrated: Seeded, cli: Cli
) -> None:
    # `..., sql, params` from a queryset: $n placeholders Puff's GraphQL layer runs as they
    # are, and a queryset that can match nothing (Django refuses to compile `IN ()`) still
    # gives a query with the same columns and no rows.
    code = (
        "from puff import postgres\n"
        "from puff.contrib.django import query_and_params\n"
        "from polls.models import Choice\n"
        "two = list(Choice.objects.order_by('id').values_list('id', flat=True)[:2])\n"
        "for qs in (Choice.objects.filter(id__in=two, votes__gte=0), Choice.objects.none()):\n"
        "    sql, params = query_and_params(qs)\n"
        "    print('PLACEHOLDERS', '%s' in sql, '$3' in sql, len(params))\n"
        "    c = postgres.connect(); c.autocommit = True; cur = c._native.execute(sql, [params], False, None)\n"
        "    print('COLUMNS', [d[0] for d in cur[0]], 'ROWS', len(cur[1]))\n"
    )
    lines = cli.check("django", "shell", "-c", code).stdout.splitlines()
    assert "PLACEHOLDERS False True 3" in lines, lines
    assert "PLACEHOLDERS False False 0" in lines, lines
    columns = "['id', 'question_id', 'choice_text', 'votes']"
    assert f"COLUMNS {columns} ROWS 2" in lines, lines
    assert f"COLUMNS {columns} ROWS 0" in lines, lines
