"""`bench http --workers N` case (e): 2 ms of pure-Python CPU per request, then a 1 KB body.

The work is counted in this thread's CPU time (`time.thread_time`), not in wall time, so a
busy machine makes a request slower without changing how much work it is. Served by Puff
(puff_cpu.toml) with N workers and with one; `cpu_asgi.py` is the ASGI twin.
"""

import time

CPU_SECONDS = 0.002
BODY = b"x" * 1024
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def burn(seconds=CPU_SECONDS):
    """Integer arithmetic in small chunks until this thread has used `seconds` of CPU."""
    deadline = time.thread_time() + seconds
    total = 0
    while time.thread_time() < deadline:
        for i in range(200):
            total += i * i
    return total


def app(environ, start_response):
    burn()
    start_response("200 OK", list(HEADERS))
    return [BODY]
