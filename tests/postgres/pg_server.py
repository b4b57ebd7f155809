"""A private, throwaway Postgres server for the tests, started from the installed binaries.

Used by ``tests/postgres/run.py`` (which starts one before ``puff-cli pytest``) and by the
tests that stop and restart it. Runs ``initdb``/``pg_ctl`` as the ``postgres`` user when we
are root (initdb refuses to run as root). Data lives in a temporary folder removed by
``destroy()``; the server listens on a free loopback port with trust authentication.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import asdict, dataclass

INSTALL_HINT = (
    "Postgres server binaries (initdb, pg_ctl) not found. Install them with "
    "`apt-get install -y postgresql` (Debian/Ubuntu; `cargo xtask setup` does this when run "
    "as root), or set PG_BINDIR to the folder holding initdb and pg_ctl"
)

ENV_VAR = "PUFF_TEST_PG_SERVER"


def find_bindir() -> str:
    candidates = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(os.environ["PG_BINDIR"])
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0,
        reverse=True,
    )
    candidates += versions
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(os.path.dirname(initdb))
    for c in candidates:
        if os.access(os.path.join(c, "initdb"), os.X_OK) and os.access(
            os.path.join(c, "pg_ctl"), os.X_OK
        ):
            return c
    raise RuntimeError(INSTALL_HINT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    bindir: str
    root: str
    port: int
    run_as: str | None
    # Extra `postgres` options, e.g. "-c shared_preload_libraries=pg_stat_statements".
    options: str = ""

    @property
    def datadir(self) -> str:
        return os.path.join(self.root, "data")

    @property
    def logfile(self) -> str:
        return os.path.join(self.root, "postgres.log")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        cmd = [os.path.join(self.bindir, args[0]), *args[1:]]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=self.root)
        if done.returncode != 0:
            log = ""
            if os.path.exists(self.logfile):
                with open(self.logfile, errors="replace") as f:
                    log = f.read()[-3000:]
            raise RuntimeError(
                f"`{' '.join(cmd)}` failed ({done.returncode}):\n{done.stdout}{done.stderr}\n{log}"
            )

    @classmethod
    def create(cls, options: str = "") -> PgServer:
        bindir = find_bindir()
        root = tempfile.mkdtemp(prefix="puff-pg-")
        run_as = "postgres" if os.geteuid() == 0 else None
        if run_as:
            shutil.chown(root, user=run_as)
        server = cls(bindir=bindir, root=root, port=free_port(), run_as=run_as, options=options)
        server._run(
            "initdb", "-D", server.datadir, "-A", "trust", "-U", "postgres", "-E", "UTF8",
            "--locale=C", "--no-sync",
        )  # fmt: skip
        server.start()
        return server

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=200"
            f" {self.options}"
        )
        self._run(
            "pg_ctl",
            "-D",
            self.datadir,
            "-l",
            self.logfile,
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", self.datadir, "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop()
        except RuntimeError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> PgServer:
        raw = os.environ.get(ENV_VAR)
        if not raw:
            raise RuntimeError(
                f"{ENV_VAR} is not set: run the suite through `python tests/postgres/run.py`"
            )
        return cls(**json.loads(raw))
