"""A private, throwaway Redis server for the tests, started from the installed binary.

Used by ``tests/redis/run.py`` (which starts one before ``puff-cli pytest``) and by the
tests that stop and restart it. The server runs in the foreground of a child process, in a
temporary folder removed by ``destroy()``, on a free loopback port, without persistence
unless ``persistent=True`` (``appendonly yes``, so data survives ``stop()``/``start()``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass

INSTALL_HINT = (
    "redis-server not found. Install it with `apt-get install -y redis-server` "
    "(Debian/Ubuntu; `cargo xtask setup` does this when run as root), or set REDIS_SERVER "
    "to the path of a redis-server binary"
)

ENV_VAR = "PUFF_TEST_REDIS_SERVER"


def find_binary() -> str:
    explicit = os.environ.get("REDIS_SERVER")
    if explicit:
        if os.access(explicit, os.X_OK):
            return explicit
        raise RuntimeError(
            f"REDIS_SERVER={explicit!r} is not an executable file. {INSTALL_HINT}"
        )
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError(INSTALL_HINT)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ping(port: int, timeout_s: float = 0.5) -> bool:
    """True when a Redis server answers PING on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    """One private server. Its state lives in ``root`` (data, log and the current pid), so
    a copy made from ``to_env()`` in another process can stop and restart the same server.
    """

    binary: str
    root: str
    port: int
    persistent: bool = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def logfile(self) -> str:
        return os.path.join(self.root, "redis.log")

    @property
    def _pidfile(self) -> str:
        return os.path.join(self.root, "server.pid")

    @property
    def pid(self) -> int | None:
        try:
            with open(self._pidfile) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    @classmethod
    def create(cls, persistent: bool = False) -> RedisServer:
        server = cls(
            binary=find_binary(),
            root=tempfile.mkdtemp(prefix="puff-redis-"),
            port=free_port(),
            persistent=persistent,
        )
        server.start()
        return server

    def _log_tail(self) -> str:
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def running(self) -> bool:
        pid = self.pid
        return pid is not None and _alive(pid)

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the server (again, on the same port) and wait until it answers PING."""
        if self.running():
            return
        cmd = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", self.root,
            "--logfile", self.logfile,
            "--daemonize", "no",
            "--save", "",
            "--appendonly", "yes" if self.persistent else "no",
            "--protected-mode", "no",
            "--maxclients", "1000",
        ]  # fmt: skip
        proc = subprocess.Popen(
            cmd,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C meant for the test run does not reach it
        )
        with open(self._pidfile, "w") as f:
            f.write(str(proc.pid))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                os.unlink(self._pidfile)
                raise RuntimeError(
                    f"`{' '.join(cmd)}` exited with {proc.returncode}:\n{self._log_tail()}"
                )
            if ping(self.port):
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(
            f"redis-server did not answer PING within {timeout_s}s\n{self._log_tail()}"
        )

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the server (SIGTERM, SIGKILL after ``timeout_s``) and wait until it is gone.

        Works from another process than the one that started it: the tests stop the server
        that run.py started, and run.py removes the one a test restarted."""
        pid = self.pid
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout_s
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.01)
        os.unlink(self._pidfile)

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> RedisServer:
        raw = os.environ.get(ENV_VAR)
        if not raw:
            raise RuntimeError(
                f"{ENV_VAR} is not set: run the suite through `python tests/redis/run.py`"
            )
        return cls(**json.loads(raw))


NO_TESTS_COLLECTED = 5


def suite_exit_code(codes: list[int], argv: list[str]) -> int:
    """One exit code for several ``puff-cli pytest`` runs of a suite (the run.py scripts):
    the first failure; 5 if no run collected anything; a failure if a run collected
    nothing although no selection (``-k``, a file) was given in ``argv``."""
    failed = [c for c in codes if c not in (0, NO_TESTS_COLLECTED)]
    if failed:
        print(f"FAILED: exit codes of the runs: {codes}")
        return failed[0]
    if all(c == NO_TESTS_COLLECTED for c in codes):
        return NO_TESTS_COLLECTED
    if NO_TESTS_COLLECTED in codes and not argv:
        print(f"FAILED: a run collected no tests: exit codes {codes}")
        return NO_TESTS_COLLECTED
    return 0


def _alive(pid: int) -> bool:
    """True while ``pid`` runs; reaps it when it is our exited child. A zombie whose parent
    is another process counts as gone (its sockets are closed already)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")
