"""Django's own test suite on Puff against the real psycopg2 (issue 17's compatibility check).

    .venv/bin/python tests/django_suite/run.py [--update] [--jobs N] [--labels a,b,...]

1. Fetches the sdist of the Django version pinned in python/requirements-dev.txt from
   PyPI (its sha256 checked against PyPI's index), cached with its extracted ``tests/``
   under ``target/django-suite/`` (``$DJANGO_SUITE_CACHE``): a warm run downloads nothing.
   Nothing of Django's source is in git.
2. Starts a private Postgres (tests/postgres/pg_server.py) and checks it has the
   extensions ``django.contrib.postgres``'s tests create (hstore, citext, ...).
3. Runs the labels of ``LABELS`` with Django's ``runtests.py`` and ``suite_settings``
   (the stock ``django.db.backends.postgresql`` ENGINE) twice: plain Python with the real
   psycopg2-binary (the baseline), and ``puff-cli --config tests/django_suite/puff.toml
   runtests`` (``django = true``: Puff's ``puff.psycopg2`` is ``psycopg2``). Each run is
   split into groups of labels, one runtests.py process each with its own databases,
   ``--jobs`` processes at a time (default 4: the groups mostly wait on Postgres round
   trips, a few percent of a core each, so 2 cores take 4). Django's own ``--parallel`` is not used:
   its workers are forked, and a process forked from puff-cli has no Tokio threads, so
   its first query never returns (spawned workers would be plain Python, not Puff).
   ``postgres_tests`` is a group of its own, so it cannot take other labels down with it.
4. Compares the per-test outcomes (``suite_runner.RecordingResult`` writes them as JSON):
   a test that passes on psycopg2 and does not pass on Puff (fails, errors, is skipped or
   did not run because its group crashed or its module could not be imported) is a
   Puff-only failure. ``known_failures.txt`` lists today's, grouped by cause: the step
   fails on any failure not listed there, and on any listed test that now passes (or no
   longer exists), so the list only shrinks. ``--update`` rewrites the list from this run.
   Issue 17 is done when the list is empty.

Each process's output goes to ``target/django-suite/logs/``; a group that crashed has its
output's end printed. The whole report is ``target/django-suite/report.json``. Exit 0 when
the Puff-only failures are exactly the listed ones, else 1 (2: cannot run at all).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "postgres"))
sys.path.insert(0, HERE)

from causes import classify, group_header, parse_known, render_known  # noqa: E402
from pg_server import PgServer  # noqa: E402

KNOWN_FILE = os.path.join(HERE, "known_failures.txt")
PYPI_INDEX = "https://pypi.org/simple/django/"
BUILD_HINT = (
    "build it first: `PYO3_PYTHON=$PWD/.venv/bin/python VIRTUAL_ENV=$PWD/.venv "
    "cargo build -p puff-cli` (from the repository root), or set PUFF_CLI_BINARY"
)
# Extensions the migrations of postgres_tests create (postgresql-contrib ships them).
EXTENSIONS = ("btree_gin", "btree_gist", "citext", "hstore", "pg_trgm", "unaccent", "bloom")

# Database-layer labels of Django's tests/ folder, with their rough seconds on Puff (debug
# build, this repository's 2-core CI machine): the weights that balance the groups. The
# required ones of issue 17 are all here: postgres_tests, schema, migrations, timezones,
# expressions, aggregation, backends, queries, transactions.
LABELS: dict[str, float] = {
    "aggregation": 1.7,
    "aggregation_regress": 1.3,
    "annotations": 1.1,
    "async": 1.3,
    "backends": 4.1,
    "basic": 1.4,
    "bulk_create": 1.4,
    "composite_pk": 2.0,
    "constraints": 1.0,
    "custom_columns": 0.5,
    "custom_lookups": 0.7,
    "custom_managers": 1.1,
    "custom_pk": 0.6,
    "datatypes": 0.6,
    "dates": 0.6,
    "datetimes": 0.6,
    "db_functions": 3.9,
    "db_typecasts": 0.5,
    "db_utils": 0.5,
    "defer": 0.8,
    "defer_regress": 0.8,
    "delete": 8.4,
    "delete_regress": 1.4,
    "distinct_on_fields": 0.6,
    "empty": 0.5,
    "expressions": 2.5,
    "expressions_case": 1.1,
    "expressions_window": 0.9,
    "extra_regress": 0.7,
    "field_defaults": 0.6,
    "filtered_relation": 0.8,
    "fixtures": 4.2,
    "fixtures_regress": 2.0,
    "foreign_object": 1.6,
    "from_db_value": 0.5,
    "generic_relations": 3.5,
    "get_earliest_or_latest": 0.6,
    "get_or_create": 2.4,
    "indexes": 1.1,
    "inspectdb": 4.8,
    "introspection": 1.3,
    "known_related_objects": 0.6,
    "lookup": 1.8,
    "m2m_regress": 0.7,
    "m2m_through": 1.5,
    "many_to_many": 1.3,
    "many_to_one": 1.3,
    "max_lengths": 0.5,
    "migrate_signals": 1.2,
    "migration_test_data_persistence": 0.5,
    "migrations": 85.3,
    "model_fields": 3.1,
    "model_indexes": 0.5,
    "model_inheritance": 1.2,
    "model_regress": 0.7,
    "multiple_database": 4.8,
    "nested_foreign_keys": 0.8,
    "null_queries": 0.5,
    "one_to_one": 1.1,
    "or_lookups": 0.6,
    "ordering": 0.9,
    "postgres_tests": 40.0,
    "prefetch_related": 2.8,
    "queries": 9.4,
    "queryset_pickle": 0.8,
    "raw_query": 0.6,
    "reverse_lookup": 0.5,
    "save_delete_hooks": 0.5,
    "schema": 33.5,
    "select_for_update": 5.9,
    "select_related": 0.7,
    "string_lookup": 0.5,
    "timezones": 1.1,
    "transaction_hooks": 1.6,
    "transactions": 3.5,
    "update": 0.6,
    "update_only_fields": 0.8,
}
# Labels run in a group of their own (in both runs).
ALONE = ("postgres_tests",)
PASS = ("passed", "expected_failure")
FAIL = ("failed", "error", "unexpected_success")


def log(started: float, message: str) -> None:
    print(f"[django-suite {time.monotonic() - started:6.1f}s] {message}", flush=True)


# --- 1. Django's tests, from the sdist on PyPI ----------------------------------------


def pinned_django() -> str:
    with open(os.path.join(ROOT, "python", "requirements-dev.txt")) as f:
        for line in f:
            m = re.match(r"\s*django==([\w.]+)", line, re.IGNORECASE)
            if m:
                return m.group(1)
    raise RuntimeError("python/requirements-dev.txt pins no django==VERSION")


def pypi_sdist(version: str) -> tuple[str, str]:
    """(URL, sha256) of Django's sdist, from PyPI's JSON simple index (PEP 691)."""
    request = urllib.request.Request(
        PYPI_INDEX, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        index = json.load(response)
    filename = f"django-{version}.tar.gz"
    for entry in index["files"]:
        if entry["filename"] == filename:
            return entry["url"], entry["hashes"]["sha256"]
    raise RuntimeError(f"PyPI's index of Django lists no {filename}")


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def django_tests_dir(cache: str, version: str, started: float) -> str:
    """The extracted ``tests/`` of Django's sdist, downloading it on the first run."""
    os.makedirs(cache, exist_ok=True)
    tests = os.path.join(cache, f"django-{version}", "tests")
    marker = os.path.join(cache, f"django-{version}", ".extracted")
    if os.path.exists(marker):
        return tests
    tarball = os.path.join(cache, f"django-{version}.tar.gz")
    checked = tarball + ".sha256"  # PyPI's sha256, written once the download matched it
    if not (
        os.path.exists(tarball)
        and os.path.exists(checked)
        and open(checked).read().strip() == sha256_of(tarball)
    ):
        url, sha = pypi_sdist(version)
        log(started, f"downloading {url}")
        partial = tarball + ".part"
        with urllib.request.urlopen(url, timeout=300) as response, open(partial, "wb") as f:
            shutil.copyfileobj(response, f)
        got = sha256_of(partial)
        if got != sha:
            os.unlink(partial)
            raise RuntimeError(f"{url}: sha256 {got}, PyPI's index says {sha}")
        os.replace(partial, tarball)
        with open(checked, "w") as f:
            f.write(sha + "\n")
    log(started, f"extracting tests/ of {os.path.basename(tarball)}")
    prefix = f"django-{version}/tests/"
    staging = tempfile.mkdtemp(dir=cache)
    with tarfile.open(tarball) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
        tar.extractall(staging, members=members, filter="data")
    target = os.path.join(cache, f"django-{version}")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(os.path.join(staging, f"django-{version}"), target)
    shutil.rmtree(staging, ignore_errors=True)
    open(marker, "w").close()
    return tests


# --- 2. the server ----------------------------------------------------------------------


def check_extensions(server: PgServer) -> None:
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=server.port, user="postgres", dbname="postgres")
    try:
        cur = conn.cursor()
        cur.execute("SELECT name FROM pg_available_extensions")
        available = {row[0] for row in cur.fetchall()}
    finally:
        conn.close()
    missing = [e for e in EXTENSIONS if e not in available]
    if missing:
        raise RuntimeError(
            f"the Postgres install in {server.bindir} lacks the extensions {', '.join(missing)} "
            "that postgres_tests creates: `apt-get install -y postgresql-contrib`"
        )


def create_databases(server: PgServer, names: list[str]) -> None:
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=server.port, user="postgres", dbname="postgres")
    conn.autocommit = True
    try:
        for name in names:
            conn.cursor().execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()


# --- 3. the runs ------------------------------------------------------------------------


@dataclass
class Group:
    run: str  # "psycopg2" or "puff"
    index: int
    labels: list[str]
    weight: float
    database: str = ""
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    driver: str = ""
    error: str = ""  # why it has no (complete) results
    seconds: float = 0.0
    cpu: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.run} group {self.index}"


def make_groups(labels: list[str], jobs: int) -> list[list[str]]:
    """The ALONE labels on their own, the rest in ``jobs`` groups of about equal weight
    (longest first onto the lightest group)."""
    alone = [[label] for label in labels if label in ALONE]
    rest = [label for label in labels if label not in ALONE]
    rest.sort(key=lambda label: -LABELS.get(label, 1.0))
    bins: list[list[str]] = [[] for _ in range(max(1, jobs))]
    weights = [0.0] * len(bins)
    for label in rest:
        i = weights.index(min(weights))
        bins[i].append(label)
        weights[i] += LABELS.get(label, 1.0)
    return alone + [sorted(b) for b in bins if b]


def group_command(group: Group, tests_dir: str, binary: str) -> tuple[list[str], dict[str, str]]:
    runtests = os.path.join(tests_dir, "runtests.py")
    argv = [runtests, "--settings", "suite_settings", "--parallel", "1", "--noinput", *group.labels]
    env = {
        k: v
        for k, v in os.environ.items()
        if not re.fullmatch(r"PUFF_\w+_(POSTGRES|REDIS|PUBSUB)_URL", k)
        and k not in {"PUFF_CONFIG", "DJANGO_SETTINGS_MODULE", "PYTHONPATH"}
    }
    if sys.prefix != sys.base_prefix:  # the virtualenv's python: puff-cli uses it too
        env.setdefault("VIRTUAL_ENV", sys.prefix)
    env["PYTHONPATH"] = HERE
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["DJANGO_SETTINGS_MODULE"] = "suite_settings"
    env["DJANGO_SUITE_DB"] = group.database
    if group.run == "psycopg2":
        return [sys.executable, *argv], env
    env["DJANGO_SUITE_ARGV"] = json.dumps(argv)
    # tokio-postgres logs every server NOTICE (TRUNCATE ... CASCADE after each
    # TransactionTestCase) at info; psycopg2 keeps them in connection.notices.
    env.setdefault("PUFF_LOG", "warn")
    return [binary, "--config", os.path.join(HERE, "puff.toml"), "runtests"], env


def run_group(group: Group, tests_dir: str, binary: str, server: PgServer, logs: str) -> None:
    cmd, env = group_command(group, tests_dir, binary)
    env["DJANGO_SUITE_PG_PORT"] = str(server.port)
    url = f"postgres://postgres@127.0.0.1:{server.port}"
    env["PUFF_DEFAULT_POSTGRES_URL"] = f"{url}/{group.database}"
    env["PUFF_OTHER_POSTGRES_URL"] = f"{url}/{group.database}_other"
    results = os.path.join(logs, f"{group.database}.json")
    output = os.path.join(logs, f"{group.database}.log")
    env["DJANGO_SUITE_RESULTS"] = results
    if os.path.exists(results):
        os.unlink(results)
    t = time.monotonic()
    with open(output, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=tests_dir, stdout=out, stderr=subprocess.STDOUT)
        # wait4 rather than wait(): the process's CPU time too (wall time depends on what
        # else the machine runs).
        _, status, usage = os.wait4(proc.pid, 0)
        rc = proc.returncode = os.waitstatus_to_exitcode(status)
    group.seconds = time.monotonic() - t
    group.cpu = usage.ru_utime + usage.ru_stime
    payload: dict[str, Any] = {}
    if os.path.exists(results):
        with open(results) as f:
            payload = json.load(f)
    if not payload.get("complete"):
        with open(output, errors="replace") as f:
            tail = f.read()[-4000:]
        group.error = f"exit code {rc}, no complete results; end of {output}:\n{tail}"
        return
    group.results = payload["tests"]
    group.driver = payload.get("driver", "")


def run_all(groups: list[Group], jobs: int, tests_dir: str, binary: str, server: PgServer,
            logs: str, started: float) -> None:  # fmt: skip
    """Runs the groups ``jobs`` at a time, heaviest first."""
    todo: queue.Queue[Group] = queue.Queue()
    for g in sorted(groups, key=lambda g: -g.weight):
        todo.put(g)
    done_count = [0]
    lock = threading.Lock()

    def worker() -> None:
        while True:
            try:
                g = todo.get_nowait()
            except queue.Empty:
                return
            log(started, f"start {g.name}: {len(g.labels)} labels ({', '.join(g.labels[:6])}"
                f"{', ...' if len(g.labels) > 6 else ''})")  # fmt: skip
            try:
                run_group(g, tests_dir, binary, server, logs)
            except Exception as exc:  # a harness error: reported like a crash
                g.error = f"{type(exc).__name__}: {exc}"
            with lock:
                done_count[0] += 1
                n = done_count[0]
            outcomes = [r["outcome"] for r in g.results.values()]
            summary = (
                f"CRASHED ({g.error.splitlines()[0]})"
                if g.error
                else f"{len(outcomes)} tests, {sum(o in PASS for o in outcomes)} passed, "
                f"{sum(o in FAIL for o in outcomes)} failed, "
                f"{outcomes.count('skipped')} skipped"
            )
            log(started, f"done {g.name} ({n}/{len(groups)}) in {g.seconds:.0f}s: {summary}")

    threads = [threading.Thread(target=worker) for _ in range(max(1, jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# --- 4. the comparison --------------------------------------------------------------------


def label_of(test_id: str) -> str:
    # "setUpClass (queries.tests.Foo)" and "unittest.loader._FailedTest.postgres_tests".
    m = re.search(r"\(([\w.]+)\)$", test_id)
    if m:
        test_id = m.group(1)
    if test_id.startswith("unittest.loader._FailedTest."):
        return test_id.rsplit(".", 1)[-1].split(".")[0]
    return test_id.split(".")[0]


def compare(base: list[Group], puff: list[Group]) -> dict[str, tuple[str, str]]:
    """Puff-only failures: test id -> (what happened on Puff, detail)."""
    base_results: dict[str, dict[str, Any]] = {}
    for g in base:
        base_results.update(g.results)
    puff_results: dict[str, dict[str, Any]] = {}
    crashed: dict[str, str] = {}
    for g in puff:
        puff_results.update(g.results)
        for label in g.labels if g.error else []:
            crashed[label] = g.error
    failures: dict[str, tuple[str, str]] = {}
    for test_id, b in base_results.items():
        if b["outcome"] not in PASS:
            continue
        p = puff_results.get(test_id)
        if p is None:
            why = crashed.get(label_of(test_id), "not in the Puff run's results")
            failures[test_id] = ("not run", why)
        elif p["outcome"] not in PASS:
            failures[test_id] = (p["outcome"], p.get("detail", ""))
    for test_id, p in puff_results.items():
        # Import errors of a test module, setUpClass errors: ids the baseline never had.
        if test_id not in base_results and p["outcome"] in FAIL:
            failures[test_id] = (p["outcome"], p.get("detail", ""))
    return failures


def last_line(detail: str) -> str:
    lines = [line for line in detail.strip().splitlines() if line.strip()]
    return lines[-1].strip()[:200] if lines else ""


def postgres_cpu_seconds(server: PgServer) -> float:
    """CPU seconds of the server so far: the postmaster and its exited backends."""
    try:
        with open(os.path.join(server.datadir, "postmaster.pid")) as f:
            pid = int(f.readline())
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, ValueError):
        return 0.0
    # utime, stime, cutime, cstime are fields 14-17 of proc(5); fields[0] is field 3.
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--update", action="store_true",
                        help="rewrite known_failures.txt from this run's Puff-only failures")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("DJANGO_SUITE_JOBS", "4")),
                        help="runtests.py processes at a time (default 4)")
    parser.add_argument("--labels", default="",
                        help="comma-separated subset of the labels (no --update with it)")
    args = parser.parse_args(argv)  # fmt: skip
    started = time.monotonic()

    labels = list(LABELS)
    if args.labels:
        labels = [label.strip() for label in args.labels.split(",") if label.strip()]
        unknown = [label for label in labels if label not in LABELS]
        if unknown:
            print(f"FAILED: not among run.py's LABELS: {', '.join(unknown)}", file=sys.stderr)
            return 2
        if args.update:
            print("FAILED: --update rewrites the whole list: run it without --labels",
                  file=sys.stderr)  # fmt: skip
            return 2

    binary = os.environ.get("PUFF_CLI_BINARY") or os.path.join(ROOT, "target/debug/puff-cli")
    if not os.access(binary, os.X_OK):
        print(f"FAILED: {binary} does not exist: {BUILD_HINT}", file=sys.stderr)
        return 2
    import django

    version = pinned_django()
    if django.__version__ != version:
        print(f"FAILED: Django {django.__version__} is installed, requirements-dev.txt pins "
              f"{version}: run `cargo xtask setup`", file=sys.stderr)  # fmt: skip
        return 2
    cache = os.environ.get("DJANGO_SUITE_CACHE") or os.path.join(ROOT, "target", "django-suite")
    try:
        tests_dir = django_tests_dir(cache, version, started)
    except Exception as exc:
        print(f"FAILED: cannot get Django {version}'s tests from PyPI: {exc}", file=sys.stderr)
        return 2
    logs = os.path.join(cache, "logs")
    shutil.rmtree(logs, ignore_errors=True)
    os.makedirs(logs)

    layout = make_groups(labels, args.jobs)
    groups: list[Group] = []
    for run in ("psycopg2", "puff"):
        for i, group_labels in enumerate(layout, 1):
            weight = sum(LABELS.get(label, 1.0) for label in group_labels)
            # psycopg2 runs the same tests in about half Puff's time (weights are Puff's).
            weight *= 0.5 if run == "psycopg2" else 1.0
            db = f"{'base' if run == 'psycopg2' else 'puff'}{i}"
            groups.append(Group(run=run, index=i, labels=group_labels, weight=weight, database=db))
    log(started, f"Django {version}: {len(labels)} labels in {len(layout)} groups per run, "
        f"{args.jobs} processes at a time; Puff: {os.path.relpath(binary, ROOT)}")  # fmt: skip

    server = PgServer.create()
    try:
        check_extensions(server)
        create_databases(server, [n for g in groups for n in (g.database, f"{g.database}_other")])
        run_all(groups, args.jobs, tests_dir, binary, server, logs, started)
        pg_cpu = postgres_cpu_seconds(server)
    finally:
        server.destroy()

    base = [g for g in groups if g.run == "psycopg2"]
    puff = [g for g in groups if g.run == "puff"]
    broken = False
    for g in base:
        if g.error:
            print(f"\nFAILED: the psycopg2 baseline's {g.name} ({', '.join(g.labels)}) did not "
                  f"run, so there is nothing to compare with:\n{g.error}")  # fmt: skip
            broken = True
        elif not g.driver.startswith("psycopg2 ") or "site-packages" not in g.driver:
            print(f"\nFAILED: the baseline ran on {g.driver!r}, not the real psycopg2")
            broken = True
    for g in puff:
        if g.results and not g.driver.startswith("puff.psycopg2 "):
            print(f"\nFAILED: the Puff run's {g.name} ran on {g.driver!r}, not puff.psycopg2")
            broken = True
    if broken:
        return 1

    failures = compare(base, puff)
    base_results = {k: v for g in base for k, v in g.results.items()}
    base_pass = sum(v["outcome"] in PASS for v in base_results.values())
    base_fail = sorted(k for k, v in base_results.items() if v["outcome"] in FAIL)
    puff_total = sum(len(g.results) for g in puff)
    with open(KNOWN_FILE) as f:
        known = parse_known(f.read())
    selected = set(labels)
    # With --labels, listed tests of other labels did not run: neither new nor fixed.
    known_here = {k for k in known if label_of(k) in selected or not args.labels}
    new = sorted(set(failures) - known_here)
    fixed = sorted(known_here - set(failures))
    for g in puff:
        if g.error:
            print(f"\nPuff's {g.name} ({', '.join(g.labels)}) could not run; its baseline-passing "
                  f"tests count as failures:\n{g.error}")  # fmt: skip

    by_cause: dict[str, list[str]] = {}
    for test_id, (outcome, detail) in failures.items():
        by_cause.setdefault(classify(outcome, detail, test_id), []).append(test_id)
    report = {
        "labels": labels,
        "baseline": {"tests": len(base_results), "passed": base_pass, "failed": base_fail},
        "puff": {"tests": puff_total},
        "puff_only_failures": {k: {"outcome": o, "detail": d, "cause": classify(o, d, k)}
                               for k, (o, d) in sorted(failures.items())},
        "new": new,
        "fixed": fixed,
        "groups": [{"run": g.run, "labels": g.labels, "seconds": round(g.seconds, 1),
                    "cpu": round(g.cpu, 1), "error": g.error} for g in groups],
        "postgres_cpu": round(pg_cpu, 1),
    }  # fmt: skip
    with open(os.path.join(cache, "report.json"), "w") as f:
        json.dump(report, f, indent=1)

    print(f"\n=== Django {version}'s own tests: psycopg2 (baseline) vs Puff (django = true)")
    print(f"labels:                 {len(labels)} ({len(layout)} groups per run)")
    print(f"tests run:              {len(base_results)} on psycopg2, {puff_total} on Puff")
    print(f"pass on both:           {base_pass - sum(1 for k in failures if k in base_results)}")
    if base_fail:
        print(f"fail on psycopg2 too:   {len(base_fail)} (not compared), "
              f"e.g. {', '.join(base_fail[:3])}")  # fmt: skip
    print(f"Puff-only failures:     {len(failures)}, of them listed in known_failures.txt: "
          f"{len(set(failures) & known_here)}")  # fmt: skip
    for cause, ids in sorted(by_cause.items(), key=lambda kv: -len(kv[1])):
        example = sorted(ids)[0]
        print(f"  {len(ids):5}  {group_header(cause)}")
        print(f"         e.g. {example}: {last_line(failures[example][1]) or failures[example][0]}")
    print(f"new failures:           {len(new)}")
    for test_id in new[:25]:
        outcome, detail = failures[test_id]
        print(f"  NEW {test_id} [{outcome}]: {last_line(detail)}")
    if len(new) > 25:
        print(f"  ... and {len(new) - 25} more (all in {os.path.join(cache, 'report.json')})")
    print(f"fixed (listed, now pass): {len(fixed)}")
    for test_id in fixed[:25]:
        print(f"  FIXED {test_id}")
    if len(fixed) > 25:
        print(f"  ... and {len(fixed) - 25} more")
    cpu = sum(g.cpu for g in groups)
    print(f"wall time:              {time.monotonic() - started:.0f}s; CPU: {cpu:.0f}s in "
          f"runtests.py processes + {pg_cpu:.0f}s in Postgres")  # fmt: skip
    for run in ("psycopg2", "puff"):
        per_group = ", ".join(
            f"{g.seconds:.0f}s ({g.cpu:.0f}s CPU)" for g in groups if g.run == run
        )
        print(f"  {run + ' groups:':24}{per_group}")

    if args.update:
        with open(KNOWN_FILE, "w") as f:
            f.write(render_known(
                {k: classify(o, d, k) for k, (o, d) in failures.items()},
                {"not-run": [f"{', '.join(g.labels)}: {last_line(g.error)}" for g in puff if g.error]},
            ))  # fmt: skip
        print(f"\nrewrote {os.path.relpath(KNOWN_FILE, ROOT)}: {len(failures)} known "
              "Puff-only failures")  # fmt: skip
        return 0
    if new or fixed:
        print("\nFAILED: "
              + (f"{len(new)} test(s) pass on psycopg2 but not on Puff and are not in "
                 "known_failures.txt" if new else "")
              + ("; " if new and fixed else "")
              + (f"{len(fixed)} test(s) of known_failures.txt now pass: remove them "
                 "(`run.py --update` rewrites the list)" if fixed else ""))  # fmt: skip
        return 1
    print(f"\nok: no new Puff-only failures ({len(failures)} known, listed in known_failures.txt;"
          " issue 17 is done when that list is empty)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
