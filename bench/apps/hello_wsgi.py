"""Bench case (a): a raw WSGI hello app with a 1024-byte body and no framework.

Served unchanged by Puff (puff_hello.toml), granian and gunicorn+gevent.
"""

BODY = b"x" * 1024
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    start_response("200 OK", list(HEADERS))
    return [BODY]
