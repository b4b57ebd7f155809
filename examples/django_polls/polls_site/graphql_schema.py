"""GraphQL over the polls models (``[[graphql]] schema = "polls_site.graphql_schema.Schema"``).

Two ways to resolve a field from Django:

- Hand Puff the SQL of a queryset (``query_and_params``): Puff runs it on the ``default``
  Postgres pool and maps the columns onto the dataclass fields in Rust, with no model
  instances built. ``QuestionObject.choices`` runs once for all the questions of a layer
  and Puff hands each choice to the question whose ``id`` equals its ``question_id``, so
  ``{ questions { choices { ... } } }`` costs two SQL statements however many questions
  there are.
- ``@graphql.borrow_db_context``: run the ORM itself on the GraphQL request's own
  connection and return model instances (their attributes become the fields).

``Subscription`` is empty, so the schema has no subscription root (GraphQL has no empty
types); give it a generator field (see examples/graphql) to serve subscriptions.
"""

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from polls.models import Choice, Question
from puff import graphql
from puff.contrib.django import query_and_params


@dataclass
class ChoiceObject:
    id: int
    question_id: int
    choice_text: str
    votes: int


@dataclass
class QuestionObject:
    id: int
    pub_date: str
    question_text: str

    @classmethod
    def choices(
        cls, context: Any, /
    ) -> tuple[list[ChoiceObject], str, list[Any], list[str], list[str]]:
        """Every choice of every question in this layer, in one statement; the keys
        (parent ``id``, child ``question_id``) route each row to its question."""
        parent_values = [r[0] for r in context.parent_values(["id"])]
        qs = Choice.objects.filter(question_id__in=parent_values).order_by("id")
        sql_q, params = query_and_params(qs)
        return ..., sql_q, params, ["id"], ["question_id"]


@dataclass
class Query:
    @classmethod
    def questions(cls, context: Any, /) -> tuple[list[QuestionObject], str, list[Any]]:
        """All questions, as SQL Puff runs and maps in Rust."""
        qs = Question.objects.order_by("id")
        sql_q, params = query_and_params(qs)
        return ..., sql_q, params

    @classmethod
    @graphql.borrow_db_context
    def question_objs(cls, context: Any, /) -> tuple[list[QuestionObject], list[Any]]:
        """All questions through the ORM itself, as model instances."""
        objs = list(Question.objects.order_by("id"))
        return ..., objs


@dataclass
class Mutation:
    @classmethod
    @graphql.borrow_db_context
    def create_question(cls, context: Any, /, question_text: str) -> QuestionObject:
        """The ORM's INSERT runs on the GraphQL request's own Postgres connection, the one
        Puff runs the request's SQL on (``borrow_db_context``)."""
        question = Question.objects.create(question_text=question_text, pub_date=timezone.now())
        return question  # type: ignore[return-value]  # read by attribute, like the dataclass


@dataclass
class Subscription:
    pass


@dataclass
class Schema:
    query: Query
    mutation: Mutation
    subscription: Subscription
