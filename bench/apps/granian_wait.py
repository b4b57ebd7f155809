"""Bench cases (b) and (c) for granian and gunicorn gthread: wait 20 ms (time.sleep, on the
server's threads), then a 1 KB body."""

import time

BODY = b"x" * 1024
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    time.sleep(0.02)
    start_response("200 OK", list(HEADERS))
    return [BODY]
