"""Bench cases (b) and (c) for gunicorn+gevent: wait 20 ms (gevent.sleep), then a 1 KB body."""

import gevent

BODY = b"x" * 1024
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    gevent.sleep(0.02)
    start_response("200 OK", list(HEADERS))
    return [BODY]
