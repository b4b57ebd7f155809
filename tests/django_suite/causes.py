"""Causes of Puff-only failures in Django's test suite, and the known_failures.txt format.

``classify`` names a failure's cause from its traceback with the first matching pattern of
``CAUSES`` (each with the one-line reason known_failures.txt shows); ``render_known`` and
``parse_known`` write and read that file: one test id a line, grouped under ``## cause:
reason`` headers, ``#`` lines are comments. run.py only reads the ids; the grouping is for
the people fixing them.
"""

from __future__ import annotations

import re

# (cause, one-line reason, pattern searched in Puff's traceback), first match wins.
CAUSES: list[tuple[str, str, str]] = [
    (
        "not-run",
        "did not run on Puff: its group crashed or its module could not be imported",
        r"^not run\b",
    ),
    (
        "skipped",
        "skipped on Puff, ran on psycopg2 (a feature flag or server property reads differently)",
        r"^skipped\b",
    ),
    (
        "untyped-params",
        "%s values are sent as untyped text: operator/function on `unknown` or `text`",
        r"operator is not unique|could not determine data type of parameter"
        r"|function \w+\([^)]*(text|unknown)[^)]*\) (does not exist|is not unique)"
        r"|operator does not exist|cannot send an? [\w ]+ as Postgres type"
        r"|cannot cast type text to|is of type [\w ]+ but expression is of type text"
        r"|argument of \w+ must be type boolean, not type text"
        # SELECT %s with True or 5 gives the text 'true' or '5'
        r"|AssertionError: '[^']*' (is not|!=) (True|False|None|-?\d)",
    ),
    (
        "description-tuples",
        "cursor.description rows are plain tuples, Django reads Column attributes",
        r"'tuple' object has no attribute '(name|type_code|display_size|internal_size"
        r"|precision|scale|null_ok)'",
    ),
    (
        "hstore-extras",
        "psycopg2.extras / extensions names django.contrib.postgres needs are missing",
        r"register_hstore|register_type|new_array_type|type \"hstore\" does not exist"
        r"|psycopg2\.(STRING|extras\.\w+)|has no attribute 'STRING'",
    ),
    (
        "server-side-cursors",
        "a query of pg_cursors lists its own portal (extended protocol; psycopg2's simple "
        "query has none)",
        r"pg_cursors|named cursor|DECLARE|_django_curs_|^id: \S+test_server_side_cursors",
    ),
    (
        "copy",
        "COPY is not supported",
        r"COPY|copy_expert|copy_from|copy_to",
    ),
    (
        "timezones",
        "datetimes: aware UTC where psycopg2 gives naive/session-zone values, naive "
        "parameters read as UTC",
        r"offset-naive and offset-aware|tzinfo|datetime\.datetime\(.*tzinfo"
        r"|'UTC' != |timezone|TimeZone|Europe/|America/|Asia/",
    ),
    (
        "nul-character",
        "a NUL character in text reaches the server instead of raising ValueError",
        r"0x00|NUL \(0x00\)|invalid byte sequence",
    ),
    (
        "regtype-bytes",
        "regtype and other untranslated types come back as raw bytes",
        r"b'[a-z ]+'",
    ),
    (
        "async-guard",
        "the async ORM guard raises another exception than on psycopg2",
        r"DatabaseOperationForbidden|SynchronousOnlyOperation",
    ),
    (
        "not-supported",
        "a psycopg2 call the shim does not support (NotSupportedError)",
        r"NotSupportedError",
    ),
    (
        "other",
        "not classified yet: see the detail in target/django-suite/report.json",
        r"",
    ),
]

_REASON = {cause: reason for cause, reason, _ in CAUSES}

HEADER = """\
# Django's own tests that pass on the real psycopg2 but not on Puff (django = true):
# the ratchet of tests/django_suite/run.py (`cargo xtask test`). The step fails on a
# Puff-only failure not listed here, and on a listed test that passes (or is gone), so
# this list only shrinks. After a fix: `.venv/bin/python tests/django_suite/run.py
# --update` rewrites it (grouped by the cause tests/django_suite/causes.py reads from the
# traceback). Issue 17 is done when this file lists no test.
"""


def _messages(detail: str) -> str:
    """A traceback without its frames: the exception lines (and assertion diffs) only, so
    a path such as django/utils/timezone.py in a frame does not decide the cause."""
    kept, skip_code = [], False
    for line in detail.splitlines():
        if line.startswith("  File "):
            skip_code = True
            continue
        if skip_code and line.startswith("    "):
            continue
        skip_code = False
        kept.append(line)
    return "\n".join(kept)


def classify(outcome: str, detail: str, test_id: str = "") -> str:
    text = f"{outcome} {_messages(detail)}\nid: {test_id}"
    for cause, _reason, pattern in CAUSES:
        if pattern == "" or re.search(pattern, text, re.MULTILINE):
            return cause
    return "other"


def group_header(cause: str) -> str:
    return f"{cause}: {_REASON.get(cause, '')}"


def render_known(failures: dict[str, str], notes: dict[str, list[str]] | None = None) -> str:
    """known_failures.txt for ``{test id: cause}``, causes in CAUSES order, ids sorted;
    ``notes`` adds comment lines under a cause's header (e.g. why a label did not run)."""
    out = [HEADER]
    if not failures:
        out.append("\n# (none: issue 17's Django suite criterion holds)\n")
    for cause, _reason, _pattern in CAUSES:
        ids = sorted(k for k, c in failures.items() if c == cause)
        if ids:
            out.append(f"\n## {group_header(cause)} ({len(ids)})\n")
            out.extend(f"# {note}\n" for note in (notes or {}).get(cause, []))
            out.extend(f"{test_id}\n" for test_id in ids)
    return "".join(out)


def parse_known(text: str) -> set[str]:
    return {
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }
