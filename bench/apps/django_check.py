"""Checks one answer of a `bench django` server before (and after) it is measured:

    python django_check.py URL [DB_URL]

GETs URL (the view polls.views.bench, or polls.views.bench_wait when URL ends with
django_common.WAIT_PATH) and checks the answer: status 200, a JSON content type, and exactly
django_common.expected() (the five latest seeded questions with their choices, and the
question count) or django_common.expected_wait(). With DB_URL (the bench database) the
`ok` line also says how many server connections are open to that database (the servers'
Django connections or Puff's pool). Prints one `ok` line and exits 0, or prints what is wrong and exits 1.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request

from django_common import (
    CHOICES_PER_QUESTION,
    LATEST,
    QUESTIONS,
    WAIT_PATH,
    expected,
    expected_wait,
)


def get(url: str) -> tuple[int, str, bytes]:
    """Status, content type and body of `GET url` (an HTTP error status is an answer too)."""
    try:
        resp = urllib.request.urlopen(url, timeout=60)
    except urllib.error.HTTPError as e:
        resp = e
    with resp:
        return resp.status, resp.headers.get("Content-Type", ""), resp.read()


def problem(
    status: int, ctype: str, raw: bytes, want: dict | None = None
) -> str | None:
    """What is wrong with the answer (``want``, by default case (a)'s), or None."""
    if status != 200:
        return f"status {status}, expected 200: {raw[:300]!r}"
    if "json" not in ctype:
        return f"Content-Type `{ctype}`, expected application/json: {raw[:200]!r}"
    try:
        answer = json.loads(raw)
    except ValueError as e:
        return f"not JSON ({e}): {raw[:200]!r}"
    return (
        None
        if answer == (expected() if want is None else want)
        else f"unexpected answer: {raw[:300]!r}"
    )


def connections(db_url: str) -> str:
    """`, N server connections to DB` for the `ok` line ("" without DB_URL)."""
    if not db_url:
        return ""
    import psycopg2

    conn = psycopg2.connect(db_url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT current_database(), count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            name, n = cur.fetchone()
    finally:
        conn.close()
    return f", {n} server connections to {name}"


def main() -> int:
    try:
        status, ctype, raw = get(sys.argv[1])
    except OSError as e:
        print(f"request failed: {e}")
        return 1
    want = expected_wait() if sys.argv[1].endswith(WAIT_PATH) else expected()
    wrong = problem(status, ctype, raw, want)
    if wrong:
        print(wrong)
        return 1
    db = connections(sys.argv[2] if len(sys.argv) > 2 else "")
    print(
        f"ok: {LATEST} latest of {QUESTIONS} questions x {CHOICES_PER_QUESTION} choices, "
        f"{len(raw)} bytes{db}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
