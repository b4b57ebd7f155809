"""Python entry points end puff-cli as they end ``python`` itself.

``[[commands]]`` functions, ``puff-cli pytest`` and ``puff-cli django`` follow Python's rule
for ``SystemExit`` (None/0 silently, an int as the code, anything else printed and 1) and
for ``KeyboardInterrupt`` (130); a returned int stays the exit code; any other exception
prints its traceback and exits 1. Each case is also run through plain ``python -c`` so the
expectation is Python's own, not ours.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from puffserver import run_cli

COMMANDS = """
import sys


def exit_none():
    sys.exit()


def exit_zero():
    sys.exit(0)


def exit_three():
    sys.exit(3)


def exit_message():
    sys.exit("bad things happened")


def exit_large():
    sys.exit(257)


def return_five():
    return 5


def return_none():
    return None


def raise_error():
    raise ValueError("boom")


def interrupt():
    raise KeyboardInterrupt
"""

# (function, exit code, text expected on stderr or None, traceback expected on stderr)
CASES = [
    ("exit_none", 0, None, False),
    ("exit_zero", 0, None, False),
    ("exit_three", 3, None, False),
    ("exit_message", 1, "bad things happened", False),
    ("exit_large", 1, None, False),
    ("return_five", 5, None, False),
    ("return_none", 0, None, False),
    ("raise_error", 1, "ValueError: boom", True),
    ("interrupt", 130, "KeyboardInterrupt", True),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("exitcodes")
    (root / "entry.py").write_text(COMMANDS)
    config = ['python_path = ["."]\n']
    for name, *_ in CASES:
        config.append(
            f'[[commands]]\ncommand_name = "{name}"\nfunction = "entry.{name}"\n'
        )
    (root / "puff.toml").write_text("\n".join(config))
    return root


@pytest.mark.parametrize(("function", "code", "stderr_text", "traceback"), CASES)
def test_command_exit_code(
    project: Path, function: str, code: int, stderr_text: str | None, traceback: bool
) -> None:
    result = run_cli(["--config", str(project / "puff.toml"), function], cwd=project)
    assert result.returncode == code, (result.returncode, result.stderr)
    if stderr_text is not None:
        assert stderr_text in result.stderr, result.stderr
    assert ("Traceback (most recent call last)" in result.stderr) == traceback, (
        result.stderr
    )
    if function.startswith("exit_") and code == 0:
        assert "SystemExit" not in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("function", "code", "stderr_text", "traceback"),
    [case for case in CASES if not case[0].startswith("return_")],
)
def test_python_itself_agrees(
    project: Path, function: str, code: int, stderr_text: str | None, traceback: bool
) -> None:
    """The table above is Python's behaviour (a returned value is ours: Python ignores it)."""
    result = subprocess.run(
        [sys.executable, "-c", f"import entry; entry.{function}()"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Python ends on SIGINT for KeyboardInterrupt; a shell reports that as 128 + 2.
    returncode = 128 + 2 if result.returncode == -2 else result.returncode
    assert returncode == code, (result.returncode, result.stderr)
    if stderr_text is not None:
        assert stderr_text in result.stderr, result.stderr
