"""The bench view with no server at all, for `cargo xtask bench django --instructions`:

    python django_alone.py N [PATH]

Sets Django up as the peers do (django_bench_settings.py, the polls example on the path, the
real psycopg2 on the database in BENCH_PG_URL), calls the WSGI application N times in a loop
with the environ of a plain `GET PATH` (case (a)'s `/polls/bench/` by default, or case (b)'s
`/polls/bench-wait/`) and checks the answers (every status; the
first and the last in full, django_check.problem). Run under callgrind with two values of N, the difference of the
two instruction totals over the difference of the N is what one request costs Django itself
(and psycopg2's client side): the part no server can take away.
"""

from __future__ import annotations

import gc
import io
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "django_polls"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_bench_settings")

from django_check import problem  # noqa: E402
from django_common import PATH, WAIT_PATH, expected_wait  # noqa: E402


def environ(path: str) -> dict[str, object]:
    """What a WSGI server hands Django for `GET path` over HTTP/1.1 from wrk."""
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def main() -> int:
    n = int(sys.argv[1])
    path = sys.argv[2] if len(sys.argv) > 2 else PATH
    want = expected_wait() if path == WAIT_PATH else None
    from polls_site.wsgi import application

    answer: dict[str, object] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None):
        answer["status"] = int(status.split()[0])
        answer["ctype"] = dict(headers).get("Content-Type", "")
        return lambda data: None

    gc.freeze()  # as the servers do once the app is loaded
    for i in range(n):
        result = application(environ(path), start_response)
        try:
            body = b"".join(result)
        finally:
            result.close()
        status, ctype = int(answer["status"]), str(answer["ctype"])  # type: ignore[call-overload]
        # The whole answer is checked on the first and the last request only: parsing it
        # every time would be counted as Django's work.
        if i in (0, n - 1):
            wrong = problem(status, ctype, body, want)
        else:
            wrong = None if status == 200 and body else f"status {status}"
        if wrong:
            print(f"request {i + 1}: {wrong}")
            return 1
    print(f"ok: {n} requests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
