"""The Django suite runs inside puff-cli with private Postgres and Redis; see run.py.

Session fixtures: ``cli`` (``puff-cli --config examples/django_polls/puff.toml ...``
subprocesses, collecting static files into a temporary folder), ``migrated`` (migrate,
createsuperuser, collectstatic and a few seeded questions on the empty ``polls`` database)
and ``server`` (``puff-cli runserver`` on tests/django/puff-server.toml: the example with a
pool of 4 and a ``[static]`` folder). ``probe_sql`` looks at the database through this
process's own ``probe`` pool.
"""

from __future__ import annotations

import html
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import puff
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from puffserver import HttpResult  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
EXAMPLE = ROOT / "examples" / "django_polls"
EXAMPLE_CONFIG = EXAMPLE / "puff.toml"
SERVER_CONFIG = HERE / "puff-server.toml"
RUN_HINT = "run the Django suite with `.venv/bin/python tests/django/run.py`"
REQUIRED_ENV = (
    "PUFF_DEFAULT_POSTGRES_URL",
    "PUFF_PROBE_POSTGRES_URL",
    "PUFF_DEFAULT_REDIS_URL",
    "PUFF_CLI_BINARY",
)
# The application_name of the example server's connections (run.py's URL); CLI
# subprocesses get their own, so pg_stat_activity counts only the server's.
SERVER_APP = "polls-server"
CLI_APP = "polls-cli"
SERVER_POOL_SIZE = 4  # tests/django/puff-server.toml

SUPERUSER = "admin"
SUPERUSER_PASSWORD = "puff-Admin-pw-7391"
SUPERUSER_EMAIL = "admin@example.com"


@dataclass(frozen=True)
class SeedQuestion:
    text: str
    days: int  # pub_date = now + days: negative is published, positive is scheduled
    choices: tuple[str, ...]


SEED = (
    SeedQuestion("What is new on Puff?", -1, ("Not much", "The sky")),
    SeedQuestion("Tabs or spaces?", -2, ("Tabs", "Spaces")),
    SeedQuestion("Which editor do you use?", -3, ("Vim", "Emacs", "Neither")),
    SeedQuestion("Will this question show up next month?", 30, ("Yes", "No")),
)


@dataclass(frozen=True)
class Question:
    id: int
    text: str
    days: int
    choice_ids: tuple[int, ...]
    choices: tuple[str, ...]

    @property
    def published(self) -> bool:
        return self.days < 0


@dataclass(frozen=True)
class Seeded:
    questions: tuple[Question, ...]
    migrate_output: str

    @property
    def past(self) -> list[Question]:
        return [q for q in self.questions if q.published]

    @property
    def future(self) -> list[Question]:
        return [q for q in self.questions if not q.published]


@pytest.fixture(scope="session", autouse=True)
def _inside_puff_with_servers() -> None:
    if puff._native is None:
        pytest.fail(f"not inside the Puff runtime: {RUN_HINT}", pytrace=False)
    missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
    if missing:
        pytest.fail(f"{', '.join(missing)} not set: {RUN_HINT}", pytrace=False)


def probe_sql(statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one statement on the ``probe`` pool (autocommit) and return its rows."""
    from puff import postgres

    conn = postgres.connect("probe")
    conn.autocommit = True
    try:
        cur = conn.cursor()
        cur.execute(statement, params)
        return cur.fetchall() if cur.description else []
    finally:
        conn.close()


@pytest.fixture(scope="session")
def pg_stat_statements() -> None:
    """The statement counter (loaded by run.py) usable in the example's database."""
    probe_sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")


def with_application_name(url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "application_name"]
    query.append(("application_name", name))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.splitlines()[-lines:])


# ---- puff-cli subprocesses ----------------------------------------------------------------


@dataclass
class Cli:
    """``puff-cli --config <config> ARGS`` with the suite's servers and a private
    DJANGO_STATIC_ROOT (the repository's examples/django_polls/staticfiles is never used)."""

    static_root: Path

    @property
    def binary(self) -> str:
        return os.environ["PUFF_CLI_BINARY"]

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        env["PUFF_DEFAULT_POSTGRES_URL"] = with_application_name(
            os.environ["PUFF_DEFAULT_POSTGRES_URL"], CLI_APP
        )
        env["DJANGO_STATIC_ROOT"] = str(self.static_root)
        env["PYTHONUNBUFFERED"] = "1"
        env.update(extra or {})
        return env

    def argv(self, args: tuple[str, ...], config: Path) -> list[str]:
        return [self.binary, "--config", str(config), *args]

    def run(
        self,
        *args: str,
        config: Path = EXAMPLE_CONFIG,
        timeout: float = 120.0,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        argv = self.argv(args, config)
        try:
            return subprocess.run(
                argv,
                cwd=ROOT,
                env=self.env(env),
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(
                f"`{' '.join(argv)}` did not exit within {timeout} s\n"
                f"stdout: {exc.stdout!r}\nstderr: {exc.stderr!r}",
                pytrace=False,
            )

    def check(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """``run``, failing unless the command exits 0."""
        done = self.run(*args, **kwargs)
        if done.returncode != 0:
            pytest.fail(
                f"`puff-cli ... {' '.join(args)}` exited {done.returncode}\n"
                f"--- stdout ---\n{tail(done.stdout)}\n--- stderr ---\n{tail(done.stderr)}",
                pytrace=False,
            )
        return done


@pytest.fixture(scope="session")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    return Cli(static_root=tmp_path_factory.mktemp("staticfiles"))


SEED_CODE = """
import datetime, json
from django.utils import timezone
from polls.models import Question
ids = []
for text, days, choices in json.loads({payload!r}):
    q = Question.objects.create(
        question_text=text, pub_date=timezone.now() + datetime.timedelta(days=days)
    )
    made = [q.choice_set.create(choice_text=c).id for c in choices]
    ids.append([q.id, made])
print("SEEDED=" + json.dumps(ids))
"""


@pytest.fixture(scope="session")
def migrated(cli: Cli) -> Seeded:
    """The empty ``polls`` database migrated, an admin user, the static files collected
    and the SEED questions with their choices, all through ``puff-cli ... django``."""
    done = cli.check("django", "migrate")
    if "Applying polls.0001_initial... OK" not in done.stdout:
        pytest.fail(f"migrate did not apply polls.0001_initial:\n{done.stdout}", pytrace=False)
    created = cli.check(
        "django",
        "createsuperuser",
        "--noinput",
        env={
            "DJANGO_SUPERUSER_USERNAME": SUPERUSER,
            "DJANGO_SUPERUSER_PASSWORD": SUPERUSER_PASSWORD,
            "DJANGO_SUPERUSER_EMAIL": SUPERUSER_EMAIL,
        },
    )
    assert "Superuser created successfully" in created.stdout, created.stdout
    collected = cli.check("django", "collectstatic", "--noinput")
    assert (cli.static_root / "admin" / "css" / "base.css").is_file(), collected.stdout
    payload = json.dumps([[q.text, q.days, list(q.choices)] for q in SEED])
    seeded = cli.check("django", "shell", "-c", SEED_CODE.format(payload=payload))
    lines = [line for line in seeded.stdout.splitlines() if line.startswith("SEEDED=")]
    assert len(lines) == 1, f"no SEEDED= line in the shell's output:\n{seeded.stdout}"
    ids = json.loads(lines[0].removeprefix("SEEDED="))
    questions = tuple(
        Question(id=qid, text=q.text, days=q.days, choice_ids=tuple(cids), choices=q.choices)
        for q, (qid, cids) in zip(SEED, ids, strict=True)
    )
    return Seeded(questions=questions, migrate_output=done.stdout)


# ---- HTTP -------------------------------------------------------------------------------


class Response(HttpResult):
    """A response, with the cookies it sets."""

    def cookies(self) -> dict[str, str]:
        """The cookies this response sets (name -> value; deleted ones have "")."""
        jar: dict[str, str] = {}
        for key, value in self.headers:
            if key.lower() == "set-cookie":
                parsed: SimpleCookie = SimpleCookie()
                parsed.load(value)
                for name, morsel in parsed.items():
                    jar[name] = morsel.value
        return jar


def csrf_token_in(page: str) -> str:
    """The ``csrfmiddlewaretoken`` of the first form in ``page``."""
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert found, f"no csrfmiddlewaretoken in the page:\n{page[:2000]}"
    return html.unescape(found.group(1))


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    static_root: Path
    seeded: Seeded

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> Response:
        """One request on a fresh connection; ``path`` goes on the wire exactly as given."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for name, value in (headers or {}).items():
                conn.putheader(name, value)
            if cookies:
                conn.putheader("Cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()))
            if body is not None or method in {"POST", "PUT", "PATCH"}:
                conn.putheader("Content-Length", str(len(body or b"")))
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, resp.reason, resp.getheaders(), data, f"{method} {path}")
        finally:
            conn.close()

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post_form(
        self, path: str, fields: Mapping[str, Any], headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Response:  # fmt: skip
        body = urllib.parse.urlencode({k: str(v) for k, v in fields.items()}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self.request("POST", path, body, headers, **kwargs)

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        resp = self.request(
            "POST", "/graphql/", json.dumps(payload).encode(),
            {"Content-Type": "application/json"},
        )  # fmt: skip
        assert resp.status == 200, resp.describe()
        result = resp.json()
        assert "errors" not in result, result["errors"]
        return result["data"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/polls/")
        conn.getresponse().read()
        conn.close()
        return True
    except (OSError, http.client.HTTPException):
        return False


@pytest.fixture(scope="session")
def server(
    migrated: Seeded, cli: Cli, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """``puff-cli --config tests/django/puff-server.toml runserver`` on a free port, with
    the migrated and seeded database and the collected static files."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    argv = cli.argv(("runserver", "--bind", f"127.0.0.1:{port}"), SERVER_CONFIG)
    env = cli.env({"PUFF_DEFAULT_POSTGRES_URL": os.environ["PUFF_DEFAULT_POSTGRES_URL"]})
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    srv = Server(port, process, log_path, cli.static_root, migrated)
    deadline = time.monotonic() + 60
    while not _answers(port):
        if process.poll() is not None:
            pytest.fail(
                f"`{' '.join(argv)}` exited ({process.returncode}):\n{tail(srv.log())}",
                pytrace=False,
            )
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            pytest.fail(f"the server did not answer within 60 s:\n{tail(srv.log())}", pytrace=False)
        time.sleep(0.1)
    yield srv
    if process.poll() is not None:
        pytest.fail(f"the server died ({process.returncode}):\n{tail(srv.log())}", pytrace=False)
    process.send_signal(signal.SIGINT)
    try:
        code = process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"the server ignored SIGINT for 20 s:\n{tail(srv.log())}", pytrace=False)
    assert code == 0, f"the server exited {code} on SIGINT:\n{tail(srv.log())}"


@dataclass
class Sampler:
    """Values of a SQL count, sampled by the test's own greenlet."""

    statement: str
    values: list[int] = field(default_factory=list)

    def sample(self) -> None:
        self.values.append(int(probe_sql(self.statement)[0][0]))

    def describe(self) -> str:
        counts = {v: self.values.count(v) for v in sorted(set(self.values))}
        return f"{len(self.values)} samples of `{self.statement}`: value -> times {counts}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the tail of the example server's log to the report of a failed test."""
    report = yield
    if report.failed:
        srv = getattr(item, "funcargs", {}).get("server")
        if isinstance(srv, Server):
            report.sections.append((f"puff-cli runserver log ({srv.log_path})", tail(srv.log())))
    return report
