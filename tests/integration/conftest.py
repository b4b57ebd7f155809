"""Fixtures: one real ``puff-cli runserver`` process per app config, shared by the session.

Run from the repository root: ``.venv/bin/python -m pytest tests/integration -q``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest
from puffserver import APPS_DIR, PuffServer, require_puff_cli, serving, tail


def _serve(
    name: str, tmp_path_factory: pytest.TempPathFactory
) -> Generator[PuffServer, None, None]:
    require_puff_cli()
    yield from serving(PuffServer(name, APPS_DIR / f"{name}.toml", tmp_path_factory.mktemp(name)))


@pytest.fixture(scope="session")
def flask_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PuffServer]:
    """flask_app.app with default settings."""
    yield from _serve("flask", tmp_path_factory)


@pytest.fixture(scope="session")
def wsgi_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PuffServer]:
    """The raw PEP 3333 app (wsgi_app.app)."""
    yield from _serve("wsgi", tmp_path_factory)


@pytest.fixture(scope="session")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PuffServer]:
    """wsgi_app.app with max_request_body_bytes = 1 MiB."""
    yield from _serve("limited", tmp_path_factory)


@pytest.fixture(scope="session")
def unbatched_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PuffServer]:
    """wsgi_app.app with tokio_batch_scheduling = false."""
    yield from _serve("unbatched", tmp_path_factory)


@pytest.fixture(scope="session")
def cors_gzip_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PuffServer]:
    """flask_app.app with [cors] and compression = true."""
    yield from _serve("cors_gzip", tmp_path_factory)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the stderr of every server a failed test used to its report."""
    report = yield
    if report.failed:
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, PuffServer):
                report.sections.append(
                    (f"puff-cli stderr: {value.name} ({value.stderr_path})", tail(value.stderr()))
                )
    return report


@pytest.fixture(scope="session")
def fastapi_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PuffServer]:
    """fastapi_app.app on the ASGI adapter."""
    yield from _serve("fastapi", tmp_path_factory)


@pytest.fixture(scope="session")
def fastapi_limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PuffServer]:
    """fastapi_app.app with max_request_body_bytes = 64 KiB (websocket message limit too)."""
    yield from _serve("fastapi_limited", tmp_path_factory)
