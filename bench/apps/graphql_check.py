"""Checks one answer of a `bench graphql` server before (and after) it is measured:

    python graphql_check.py URL CASE BODY

POSTs BODY (the JSON wrk sends) to URL with `Content-Type: application/json` and checks the
answer of CASE: status 200, a JSON content type, no `errors`, and `data` exactly
`{"hello": "world"}` in (a), or in (b) all the parents with all their children
(graphql_common.expected_parents(), compared without regard to order). Prints one `ok` line
and exits 0, or prints what is wrong and exits 1.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request

from graphql_common import CHILDREN_PER_PARENT, PARENTS, expected_parents


def by_id(items: list) -> list:
    return sorted(items, key=lambda x: x.get("id") if isinstance(x, dict) else 0)


def check(case: str, data: object) -> str:
    if case == "a":
        if data != {"hello": "world"}:
            raise ValueError(
                f"data is {str(data)[:200]}, expected {{'hello': 'world'}}"
            )
        return "hello = world"
    if not isinstance(data, dict) or not isinstance(data.get("parents"), list):
        raise ValueError(f"no `parents` list in data: {str(data)[:200]}")
    parents = data["parents"]
    if len(parents) != PARENTS:
        raise ValueError(f"{len(parents)} parents, expected {PARENTS}")
    got = []
    for p in by_id(parents):
        if not isinstance(p, dict) or not isinstance(p.get("children"), list):
            raise ValueError(f"a parent without a `children` list: {str(p)[:200]}")
        got.append({**p, "children": by_id(p["children"])})
    for g, want in zip(got, expected_parents()):
        if g != want:
            n = len(g["children"])
            raise ValueError(
                f"parent {g.get('id')!r} ({n} children) differs from the expected parent "
                f"{want['id']} ({CHILDREN_PER_PARENT} children): {str(g)[:200]}"
            )
    return f"{PARENTS} parents x {CHILDREN_PER_PARENT} children"


def main() -> int:
    url, case, body = sys.argv[1], sys.argv[2], sys.argv[3]
    req = urllib.request.Request(
        url,
        data=body.encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            status, ctype, raw = (
                resp.status,
                resp.headers.get("Content-Type", ""),
                resp.read(),
            )
    except urllib.error.HTTPError as e:
        print(f"status {e.code}, expected 200: {e.read()[:200]!r}")
        return 1
    except OSError as e:
        print(f"request failed: {e}")
        return 1
    try:
        if status != 200:
            raise ValueError(f"status {status}, expected 200")
        if "json" not in ctype:
            raise ValueError(f"Content-Type `{ctype}`, expected application/json")
        answer = json.loads(raw)
        if not isinstance(answer, dict):
            raise ValueError(f"the answer is not a JSON object: {raw[:200]!r}")
        if answer.get("errors"):
            raise ValueError(f"errors: {json.dumps(answer['errors'])[:300]}")
        what = check(case, answer.get("data"))
    except ValueError as e:
        print(f"wrong answer ({len(raw)} bytes): {e}")
        return 1
    print(f"ok: {what}, {len(raw)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
