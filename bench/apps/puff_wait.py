"""Bench cases (b) and (c) for Puff: wait 20 ms (puff.sleep_ms), then a 1 KB body."""

import puff

BODY = b"x" * 1024
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    puff.sleep_ms(20)
    start_response("200 OK", list(HEADERS))
    return [BODY]
