"""examples/django_polls over real HTTP on `puff-cli runserver`: the polls pages read the
seeded rows through Puff's pool, a vote (CSRF cookie + form token) is written, the admin's
login and session work, Django's collected static files and a `[static]` folder are served
from Rust (and cannot be escaped), and Django's cache goes through Puff's Redis pool."""

from __future__ import annotations

import html
import os
import re
import socket
import time
import urllib.parse
import uuid

import pytest
from conftest import (
    HERE,
    SUPERUSER,
    SUPERUSER_PASSWORD,
    Server,
    csrf_token_in,
    probe_sql,
)


def votes(choice_id: int) -> int:
    return int(probe_sql("SELECT votes FROM polls_choice WHERE id = %s", (choice_id,))[0][0])


def test_index_lists_published_questions_only(server: Server) -> None:
    resp = server.get("/polls/")
    assert resp.status == 200, resp.describe()
    page = resp.text()
    for q in server.seeded.past:
        assert f'<a href="/polls/{q.id}/">{html.escape(q.text)}</a>' in page, page
    for q in server.seeded.future:
        assert html.escape(q.text) not in page, page
        assert f"/polls/{q.id}/" not in page, page
    # Newest first.
    newest_first = sorted(server.seeded.past, key=lambda q: q.days, reverse=True)
    positions = [page.index(html.escape(q.text)) for q in newest_first]
    assert positions == sorted(positions), page


def test_root_redirects_to_the_polls(server: Server) -> None:
    resp = server.get("/")
    assert resp.status == 302, resp.describe()
    assert resp.header("Location") == "/polls/"


def test_detail_and_results_pages(server: Server) -> None:
    q = server.seeded.past[0]
    resp = server.get(f"/polls/{q.id}/")
    assert resp.status == 200, resp.describe()
    assert html.escape(q.text) in resp.text()
    for cid, text in zip(q.choice_ids, q.choices, strict=True):
        assert f'value="{cid}"' in resp.text() and text in resp.text(), resp.text()
    assert server.get(f"/polls/{q.id}/results/").status == 200
    future = server.seeded.future[0]
    assert server.get(f"/polls/{future.id}/").status == 404
    assert server.get(f"/polls/{future.id}/results/").status == 404
    assert server.get("/polls/987654/").status == 404


def test_vote_with_the_csrf_token_counts_and_redirects(server: Server) -> None:
    q = server.seeded.past[1]
    choice = q.choice_ids[1]
    page = server.get(f"/polls/{q.id}/")
    assert page.status == 200, page.describe()
    cookie = page.cookies().get("csrftoken")
    assert cookie, f"no csrftoken cookie: {page.headers}"
    token = csrf_token_in(page.text())
    before = votes(choice)

    # Without the token, Django's CSRF middleware refuses the vote.
    refused = server.post_form(f"/polls/{q.id}/vote/", {"choice": choice})
    assert refused.status == 403, refused.describe()
    assert votes(choice) == before

    resp = server.post_form(
        f"/polls/{q.id}/vote/",
        {"choice": choice, "csrfmiddlewaretoken": token},
        cookies={"csrftoken": cookie},
    )
    assert resp.status == 302, resp.describe()
    assert resp.header("Location") == f"/polls/{q.id}/results/"
    assert votes(choice) == before + 1
    results = server.get(f"/polls/{q.id}/results/")
    count = before + 1
    assert f"{q.choices[1]}: {count} vote{'s' if count != 1 else ''}<" in results.text(), (
        results.text()
    )


def admin_login(server: Server, password: str) -> tuple[dict[str, str], object]:
    page = server.get("/admin/login/?next=/admin/")
    assert page.status == 200, page.describe()
    cookies = {"csrftoken": page.cookies()["csrftoken"]}
    resp = server.post_form(
        "/admin/login/?next=/admin/",
        {
            "csrfmiddlewaretoken": csrf_token_in(page.text()),
            "username": SUPERUSER,
            "password": password,
            "next": "/admin/",
        },
        cookies=cookies,
    )
    cookies.update(resp.cookies())
    return cookies, resp


def test_admin_login_and_question_list(server: Server) -> None:
    assert server.get("/admin/login/").status == 200
    # Not logged in: the admin sends us to the login page.
    anonymous = server.get("/admin/polls/question/")
    assert anonymous.status == 302, anonymous.describe()
    assert (anonymous.header("Location") or "").startswith("/admin/login/")

    cookies, resp = admin_login(server, SUPERUSER_PASSWORD)
    assert resp.status == 302, resp.describe()
    assert resp.header("Location") == "/admin/"
    assert cookies.get("sessionid"), f"no session cookie: {resp.headers}"
    listing = server.get("/admin/polls/question/", cookies=cookies)
    assert listing.status == 200, listing.describe()
    for q in server.seeded.questions:
        assert html.escape(q.text) in listing.text(), listing.text()[:3000]
    # The change form, choices inline.
    q = server.seeded.past[2]
    change = server.get(f"/admin/polls/question/{q.id}/change/", cookies=cookies)
    assert change.status == 200, change.describe()
    for text in q.choices:
        assert f'value="{text}"' in change.text()


def test_admin_wrong_password_shows_the_error(server: Server) -> None:
    cookies, resp = admin_login(server, "not-the-password")
    assert resp.status == 200, resp.describe()
    assert "Please enter the correct username and password" in resp.text(), resp.text()[:3000]
    assert "sessionid" not in cookies, cookies


def test_collected_static_files_are_served_by_puff(server: Server) -> None:
    resp = server.get("/static/admin/css/base.css")
    assert resp.status == 200, resp.describe()
    assert resp.header("Content-Type") == "text/css"
    assert resp.body == (server.static_root / "admin" / "css" / "base.css").read_bytes()
    # Served from Rust: Django's middleware (which sets X-Frame-Options) never saw it, and
    # Django itself serves no static files with DEBUG off.
    assert resp.header("X-Frame-Options") is None, resp.headers
    polls_css = server.get("/static/polls/style.css")
    assert polls_css.status == 200, polls_css.describe()
    assert polls_css.body == (server.static_root / "polls" / "style.css").read_bytes()
    missing = server.get("/static/does-not-exist.css")
    assert missing.status == 404, missing.describe()


def test_static_folder_from_puff_toml(server: Server) -> None:
    expected = (HERE / "assets" / "hello.txt").read_bytes()
    resp = server.get("/assets/hello.txt")
    assert resp.status == 200, resp.describe()
    assert resp.body == expected
    assert (resp.header("Content-Type") or "").startswith("text/plain"), resp.headers
    assert server.get("/assets/nope.txt").status == 404


@pytest.mark.parametrize(
    "path",
    [
        "/assets/../puff.toml",
        "/assets/%2e%2e/puff.toml",
        "/assets/%2E%2E/puff-server.toml",
        "/assets/..%2fpuff.toml",
        "/assets/%2e%2e%2fpuff-server.toml",
        "/assets/..%5cpuff.toml",
        "/assets/%252e%252e/puff.toml",
        "/assets//../puff.toml",
        "/assets/./../../../tests/django/puff.toml",
        pytest.param(
            "/assets/" + urllib.parse.quote(str(HERE / "puff.toml"), safe=""),
            id="/assets/<absolute path, %-encoded>",
        ),
        pytest.param("/assets/" + str(HERE / "puff.toml"), id="/assets/<absolute path>"),
    ],
)
def test_static_folder_cannot_be_escaped(server: Server, path: str) -> None:
    secrets = [(HERE / name).read_text() for name in ("puff.toml", "puff-server.toml")]
    resp = server.get(path)
    assert resp.status in (400, 403, 404), resp.describe()
    for text in secrets:
        assert text.encode() not in resp.body and b"[[postgres]]" not in resp.body, (
            resp.describe()
        )


class RedisMonitor:
    """``MONITOR`` on the private Redis: every command the server receives."""

    def __init__(self) -> None:
        url = urllib.parse.urlsplit(os.environ["PUFF_DEFAULT_REDIS_URL"])
        self.sock = socket.create_connection((url.hostname, url.port or 6379), timeout=10)
        self.sock.sendall(b"*1\r\n$7\r\nMONITOR\r\n")
        self.buffer = b""
        assert self._line() == b"+OK"

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("Redis closed the MONITOR connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def commands_until(self, last: str, key_part: str, timeout: float = 10) -> list[list[str]]:
        """Monitored commands touching a key containing ``key_part``, up to ``last``."""
        seen: list[list[str]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self._line().decode(errors="replace")
            words = re.findall(r'"((?:[^"\\]|\\.)*)"', line)
            if len(words) >= 2 and key_part in words[1]:
                seen.append(words)
                if words[0].upper() == last:
                    return seen
        raise AssertionError(f"no {last} on a {key_part!r} key within {timeout} s: {seen}")

    def close(self) -> None:
        self.sock.close()


def redis_exists(key: str) -> bool:
    url = urllib.parse.urlsplit(os.environ["PUFF_DEFAULT_REDIS_URL"])
    with socket.create_connection((url.hostname, url.port or 6379), timeout=10) as s:
        raw = key.encode()
        s.sendall(b"*2\r\n$6\r\nEXISTS\r\n$%d\r\n%s\r\n" % (len(raw), raw))
        return s.recv(64).strip() == b":1"


def test_cache_probe_goes_through_redis(server: Server) -> None:
    value = f"cached-{uuid.uuid4().hex}"
    monitor = RedisMonitor()
    try:
        resp = server.get(f"/polls/cache-probe/?value={value}")
        assert resp.status == 200, resp.describe()
        assert resp.json() == {"value": value}
        commands = monitor.commands_until("DEL", ":cache-probe:")
    finally:
        monitor.close()
    names = [c[0].upper() for c in commands]
    assert names == ["SET", "GET", "DEL"], commands
    keys = {c[1] for c in commands}
    assert len(keys) == 1, commands
    key = keys.pop()
    # settings.CACHES: KEY_PREFIX "polls", version 1.
    assert re.fullmatch(r"polls:1:cache-probe:[0-9a-f]{32}", key), key
    assert not redis_exists(key), f"{key} is still in Redis"
