"""A Django test runner that records every test's outcome as JSON (tests/django_suite).

``run.py`` passes ``--testrunner suite_runner.RecordingRunner`` to Django's
``runtests.py``; the runner is Django's ``DiscoverRunner`` with a result class that also
keeps ``{test id: outcome}`` and writes it, with ``"complete": true``, to the file named
by ``$DJANGO_SUITE_RESULTS`` when the suite has run. A process that dies before that
leaves no file (or an incomplete one), which run.py counts as labels that could not run.
Outcomes: passed, failed, error, skipped, expected_failure, unexpected_success; a test
with a failing subtest is failed (the worst outcome seen for an id wins).
"""

from __future__ import annotations

import json
import os
import time
import traceback
import unittest
from types import TracebackType
from typing import Any

from django.test.runner import DiscoverRunner

# Worst first: a later, better outcome never replaces an earlier, worse one.
_RANK = {
    "error": 0,
    "failed": 1,
    "unexpected_success": 2,
    "skipped": 3,
    "expected_failure": 4,
    "passed": 5,
}
# Enough of a traceback to tell the cause; the last lines hold the exception.
_DETAIL_CHARS = 1500

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def _detail(err: ExcInfo | None) -> str:
    if err is None:
        return ""
    text = "".join(traceback.format_exception(err[0], err[1], err[2]))
    return text[-_DETAIL_CHARS:]


class RecordingResult(unittest.TextTestResult):
    """unittest's text result, plus ``records``: test id -> (outcome, detail)."""

    records: dict[str, tuple[str, str]] = {}
    # Seconds per test id (run.py balances its groups of labels with them).
    durations: dict[str, float] = {}
    _started = 0.0

    def startTest(self, test: Any) -> None:
        super().startTest(test)
        self._started = time.monotonic()

    def stopTest(self, test: Any) -> None:
        super().stopTest(test)
        self.durations[test.id()] = time.monotonic() - self._started

    def _record(self, test: Any, outcome: str, detail: str = "") -> None:
        test_id = test.id()
        old = self.records.get(test_id)
        if old is None or _RANK[outcome] < _RANK[old[0]]:
            self.records[test_id] = (outcome, detail)

    def addSuccess(self, test: Any) -> None:
        super().addSuccess(test)
        self._record(test, "passed")

    def addFailure(self, test: Any, err: Any) -> None:
        super().addFailure(test, err)
        self._record(test, "failed", _detail(err))

    def addError(self, test: Any, err: Any) -> None:
        super().addError(test, err)
        self._record(test, "error", _detail(err))

    def addSkip(self, test: Any, reason: str) -> None:
        super().addSkip(test, reason)
        self._record(test, "skipped", reason)

    def addExpectedFailure(self, test: Any, err: Any) -> None:
        super().addExpectedFailure(test, err)
        self._record(test, "expected_failure")

    def addUnexpectedSuccess(self, test: Any) -> None:
        super().addUnexpectedSuccess(test)
        self._record(test, "unexpected_success")

    def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            failure = issubclass(err[0], test.failureException)
            # Recorded under the test's own id: subtests are not tests of their own here.
            detail = f"{subtest.id()}\n{_detail(err)}"
            self._record(test, "failed" if failure else "error", detail)


class RecordingRunner(DiscoverRunner):
    """DiscoverRunner that writes RecordingResult's records to $DJANGO_SUITE_RESULTS."""

    def get_resultclass(self) -> type[unittest.TextTestResult] | None:
        return RecordingResult

    def run_suite(self, suite: Any, **kwargs: Any) -> Any:
        result = super().run_suite(suite, **kwargs)
        path = os.environ.get("DJANGO_SUITE_RESULTS")
        if path:
            from django.db.backends.postgresql import base

            payload = {
                "complete": True,
                # Which driver the stock ENGINE ran on: run.py checks it is psycopg2 in
                # the baseline and Puff's shim under puff-cli.
                "driver": base.Database.__name__ + " " + str(getattr(base.Database, "__file__", "")),
                "tests": {
                    k: {"outcome": o, "detail": d, "seconds": round(RecordingResult.durations.get(k, 0.0), 4)}
                    for k, (o, d) in RecordingResult.records.items()
                },
            }
            with open(path, "w") as f:
                json.dump(payload, f)
        return result
