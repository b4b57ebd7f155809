"""An exact number of requests, for `cargo xtask bench django --instructions`:

    python django_load.py URL REQUESTS CONNECTIONS

CONNECTIONS keep-alive connections (one thread each) share REQUESTS GETs of URL; every answer
must have status 200 and the first one on each connection must be exactly the expected JSON
(django_check.problem). wrk runs for a time, so requests still in flight when it stops would
be counted by the instruction counter and not by wrk; here every request sent is answered
before this exits. Prints `ok: N requests` and exits 0, or says what went wrong and exits 1.
"""

from __future__ import annotations

import http.client
import sys
import threading
from urllib.parse import urlsplit

from django_check import problem
from django_common import WAIT_PATH, expected_wait


def main() -> int:
    url = urlsplit(sys.argv[1])
    total, conns = int(sys.argv[2]), int(sys.argv[3])
    path = url.path + (f"?{url.query}" if url.query else "")
    want = expected_wait() if url.path == WAIT_PATH else None
    errors: list[str] = []
    done = [0]
    lock = threading.Lock()

    def worker(count: int) -> None:
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
        try:
            for i in range(count):
                conn.request("GET", path)
                resp = conn.getresponse()
                body = resp.read()
                wrong = (
                    problem(resp.status, resp.headers.get("Content-Type", ""), body, want)
                    if i == 0
                    else (None if resp.status == 200 else f"status {resp.status}")
                )
                if wrong:
                    with lock:
                        errors.append(wrong)
                    return
                with lock:
                    done[0] += 1
        except OSError as e:
            with lock:
                errors.append(f"request failed: {e}")
        finally:
            conn.close()

    shares = [total // conns + (1 if i < total % conns else 0) for i in range(conns)]
    threads = [threading.Thread(target=worker, args=(s,)) for s in shares if s]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        print(f"{len(errors)} connections failed, the first: {errors[0]}")
        return 1
    print(f"ok: {done[0]} requests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
