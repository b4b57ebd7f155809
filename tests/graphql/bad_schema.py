"""Schemas that must fail at start-up, naming the class and the field."""

from __future__ import annotations

from dataclasses import dataclass


class NotADataclass:
    x: int


@dataclass
class Holder:
    ok: int
    bad: NotADataclass


@dataclass
class Query:
    @classmethod
    def holder(cls, context, /) -> Holder:
        return Holder(ok=1, bad=NotADataclass())


@dataclass
class Schema:
    query: Query


@dataclass
class MissingHintQuery:
    @classmethod
    def field(cls, context, /, arg) -> int:  # noqa: ANN001
        return 1


@dataclass
class MissingHintSchema:
    query: MissingHintQuery
