"""puff-cli's command line: config validation, example-config, the pytest subcommand."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from puffserver import REPO_ROOT, free_port, run_cli

CONTRACT_KEYS = [
    "wsgi",
    "bind",
    "python_path",
    "pytest",
    "max_request_body_bytes",
    "compression",
    "access_log",
    "shutdown_timeout_ms",
]
CONTRACT_TABLES = ["env", "cors", "commands"]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "puff.toml"
    path.write_text(text)
    return path


def _serve_args(config: Path) -> list[str]:
    # If validation were missing this would start a server; run_cli then fails on timeout.
    return ["--config", str(config), "runserver", "--bind", f"127.0.0.1:{free_port()}"]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('wsgi = "app.app"\nthis_key_does_not_exist = true\n', "this_key_does_not_exist"),
        ('wsgi = "app.app"\n\n[cors]\nallow_origin = ["*"]\n', "allow_origin"),
        (
            '[[commands]]\ncommand_name = "x"\nfunction = "m.f"\nfunktion = "typo"\n',
            "funktion",
        ),
    ],
    ids=["top-level", "in-cors", "in-commands"],
)
def test_unknown_key_is_rejected(tmp_path: Path, text: str, key: str) -> None:
    config = _write(tmp_path, text)
    result = run_cli(_serve_args(config), timeout=60)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert key in result.stderr, result.stderr
    assert str(config) in result.stderr, f"the file path is not named: {result.stderr}"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("bind = 5\n", "bind"),
        ('compression = "yes"\n', "compression"),
        ('max_request_body_bytes = "big"\n', "max_request_body_bytes"),
        ('python_path = "."\n', "python_path"),
    ],
    ids=["bind-int", "compression-str", "limit-str", "python_path-str"],
)
def test_wrong_type_is_rejected(tmp_path: Path, text: str, key: str) -> None:
    config = _write(tmp_path, text)
    result = run_cli(_serve_args(config), timeout=60)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert key in result.stderr, result.stderr
    assert str(config) in result.stderr, f"the file path is not named: {result.stderr}"


def test_bad_config_is_rejected_by_help_too(tmp_path: Path) -> None:
    """[[commands]] become subcommands, so the config is read before --help is printed."""
    config = _write(tmp_path, "bind = 5\n")
    result = run_cli(["--config", str(config), "--help"], timeout=60)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "bind" in result.stderr, result.stderr
    assert str(config) in result.stderr, result.stderr


def test_invalid_toml_syntax_is_rejected(tmp_path: Path) -> None:
    config = _write(tmp_path, 'wsgi = "app.app\n')
    result = run_cli(_serve_args(config), timeout=60)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert str(config) in result.stderr, result.stderr


def test_example_config_is_valid_and_complete(tmp_path: Path) -> None:
    result = run_cli(["example-config"], timeout=60)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    parsed = tomllib.loads(text)
    assert isinstance(parsed, dict)
    for key in CONTRACT_KEYS:
        assert re.search(rf"^[#\s]*{key}\s*=", text, re.MULTILINE), f"{key} is not documented"
    for table in CONTRACT_TABLES:
        assert re.search(rf"^[#\s]*\[\[?{table}\]?\]", text, re.MULTILINE), f"[{table}] missing"
    assert "#" in text, "the example config should be commented"

    config = tmp_path / "example.toml"
    config.write_text(text)
    accepted = run_cli(["--config", str(config), "--help"], timeout=60)
    assert accepted.returncode == 0, (accepted.stdout, accepted.stderr)
    assert "runserver" in accepted.stdout


def test_help_lists_the_builtin_and_configured_commands(tmp_path: Path) -> None:
    config = _write(
        tmp_path, '[[commands]]\ncommand_name = "my_custom_cmd"\nfunction = "nowhere.fn"\n'
    )
    result = run_cli(["--config", str(config), "--help"], timeout=60)
    assert result.returncode == 0, result.stderr
    for command in (
        "runserver",
        "pytest",
        "wait-forever",
        "example-config",
        "tasks",
        "my_custom_cmd",
    ):
        assert command in result.stdout, f"{command} missing from --help:\n{result.stdout}"


def test_builtin_command_names_are_reserved(tmp_path: Path) -> None:
    config = _write(tmp_path, '[[commands]]\ncommand_name = "tasks"\nfunction = "m.f"\n')
    result = run_cli(["--config", str(config), "--help"], timeout=60)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "command_name `tasks` is reserved by puff-cli" in result.stderr, result.stderr


def test_pytest_subcommand_reports_failures(tmp_path: Path) -> None:
    (tmp_path / "test_inside.py").write_text(
        "import puff\n\n\n"
        "def test_passes():\n    puff.sleep_ms(1)\n\n\n"
        "def test_fails():\n    assert 1 == 2\n"
    )
    config = _write(tmp_path, "")
    result = run_cli(
        ["--config", str(config), "pytest", str(tmp_path), "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "1 failed, 1 passed" in result.stdout + result.stderr, result.stdout


def test_runtime_test_suite_passes_under_puff_cli() -> None:
    """tests/runtime (Python API tests that run inside the runtime) passes."""
    result = run_cli(
        ["--config", "tests/runtime/puff.toml", "pytest", "tests/runtime", "-q"],
        cwd=REPO_ROOT,
        timeout=300,
    )
    assert result.returncode == 0, f"{result.stdout}\n--- stderr ---\n{result.stderr}"
