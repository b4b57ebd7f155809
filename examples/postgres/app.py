"""Notes on Postgres through Puff's pool: DB-API 2.0, greenlet-friendly."""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from puff import postgres

app = Flask(__name__)


def init_db() -> None:
    with postgres.connect() as conn:
        conn.cursor().execute(
            "CREATE TABLE IF NOT EXISTS notes ("
            " id bigserial PRIMARY KEY, body text NOT NULL, tags text[] NOT NULL DEFAULT '{}',"
            " meta jsonb, created timestamptz NOT NULL DEFAULT now())"
        )
    print("table `notes` ready")


@app.get("/notes")
def list_notes() -> dict[str, Any]:
    conn = postgres.connect()
    cur = conn.cursor()
    cur.execute(
        "SELECT id, body, tags, meta, created FROM notes ORDER BY id DESC LIMIT %s",
        (50,),
    )
    cols = [d[0] for d in cur.description or []]
    notes = [dict(zip(cols, row)) for row in cur.fetchall()]
    conn.close()
    for n in notes:
        n["created"] = n["created"].isoformat()
    return {"notes": notes}


@app.post("/notes")
def add_note() -> tuple[dict[str, Any], int]:
    data = request.get_json(force=True)
    with postgres.connect() as conn:  # commits on success, rolls back on an exception
        cur = conn.cursor()
        cur.execute(
            "INSERT INTO notes (body, tags, meta) VALUES (%(body)s, %(tags)s, %(meta)s)"
            " RETURNING id",
            {
                "body": data["body"],
                "tags": data.get("tags", []),
                "meta": data.get("meta"),
            },
        )
        row = cur.fetchone()
    assert row is not None
    return {"id": row[0]}, 201


def demo() -> None:
    init_db()
    with postgres.connect() as conn:
        cur = conn.cursor()
        cur.executemany(
            "INSERT INTO notes (body, tags, meta) VALUES (%s, %s, %s)",
            [("first", ["a"], {"n": 1}), ("second ✓", [], None)],
        )
        cur.execute("SELECT id, body, tags, meta FROM notes ORDER BY id DESC LIMIT 2")
        for row in cur:
            print(row)
