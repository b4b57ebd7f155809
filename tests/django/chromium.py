"""Headless Chromium for test_admin_browser.py: Debian's ``chromium`` package.

``ensure_chromium()`` (called by run.py before the servers start) installs the package when
``/usr/bin/chromium`` is missing and we are root with apt-get, as on a fresh CI machine;
otherwise it raises with the exact install command. ``screenshot()`` renders one URL.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

CHROMIUM = os.environ.get("PUFF_TEST_CHROMIUM", "/usr/bin/chromium")
INSTALL_COMMAND = (
    "apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium"
)
INSTALL_HINT = (
    f"{CHROMIUM} not found: the Django admin browser test needs Debian's `chromium` package. "
    f"Install it with `{INSTALL_COMMAND}` (as root), or set PUFF_TEST_CHROMIUM to a "
    "chromium binary"
)
TIMEOUT_S = 60.0


def available() -> bool:
    return os.access(CHROMIUM, os.X_OK)


def ensure_chromium() -> str:
    """The chromium binary, installed first when possible; RuntimeError if it cannot be."""
    if available():
        return CHROMIUM
    if os.geteuid() == 0 and shutil.which("apt-get") and CHROMIUM == "/usr/bin/chromium":
        print(
            f"=== {CHROMIUM} is missing: installing Debian's chromium ({INSTALL_COMMAND})",
            flush=True,
        )
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        done = subprocess.run(
            ["sh", "-c", INSTALL_COMMAND], env=env, stdin=subprocess.DEVNULL, check=False
        )
        if done.returncode == 0 and available():
            return CHROMIUM
        raise RuntimeError(f"`{INSTALL_COMMAND}` failed ({done.returncode}). {INSTALL_HINT}")
    raise RuntimeError(INSTALL_HINT)


def screenshot(url: str, png: str, user_data_dir: str) -> subprocess.CompletedProcess[str]:
    """Render ``url`` at 1024x768 into ``png``; the output is returned for error messages."""
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={user_data_dir}",
        f"--screenshot={png}",
        "--window-size=1024,768",
        url,
    ]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL
    )


if __name__ == "__main__":
    try:
        print(ensure_chromium())
    except RuntimeError as exc:
        sys.exit(str(exc))
