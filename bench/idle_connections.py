"""Bytes of server memory per idle keep-alive connection.

Starts a server on the hello WSGI app (bench/apps/hello_wsgi.py), opens N connections that
each make one request and then stay open and idle, and reports how much the server's RSS
grew, divided by N. Not a timed test: a measurement to compare servers and changes.

    .venv/bin/python bench/idle_connections.py                       # Puff (release build)
    .venv/bin/python bench/idle_connections.py --server granian      # bench/.venv-peers' granian
    .venv/bin/python bench/idle_connections.py --connections 5000 --binary target/debug/puff-cli

Both servers run one worker with the access log off. The RSS is read from
/proc/PID/status (VmRSS) once it has been steady for a second, before and after.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
APPS = REPO / "bench" / "apps"
HOST = "127.0.0.1"
PATHS = {"puff": "/", "granian": "/", "axum": "/rust/hello"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    """VmRSS of `pid` and its children (granian serves from a child process)."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def steady_rss(pid: int) -> int:
    last = rss_kib(pid)
    for _ in range(30):
        time.sleep(1.0)
        now = rss_kib(pid)
        if abs(now - last) < 64:
            return now
        last = now
    return last


def start(server: str, binary: Path, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    if server == "puff":
        env["VIRTUAL_ENV"] = str(REPO / ".venv")
        argv = [str(binary), "--config", str(APPS / "puff_hello.toml"), "runserver",
                "--bind", f"{HOST}:{port}"]
    elif server == "axum":
        argv = [str(REPO / "target" / "release" / "axum-hello"), "--bind", f"{HOST}:{port}"]
    else:
        granian = REPO / "bench" / ".venv-peers" / "bin" / "granian"
        if not granian.exists():
            sys.exit(f"{granian} is missing: `cargo xtask bench http` installs the peers")
        argv = [str(granian), "--interface", "wsgi", "--workers", "1", "--no-access-log",
                "--host", HOST, "--port", str(port), "--backlog", "4096", "hello_wsgi:app"]
    proc = subprocess.Popen(argv, cwd=APPS, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    sys.exit(f"{server} did not start on port {port}")


def read_response(sock: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += sock.recv(65536)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--server",
        choices=sorted(PATHS),
        default="puff",
        help="axum: bench/axum-hello (bare axum::serve, cargo build --release -p axum-hello)",
    )
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--binary", type=Path, default=REPO / "target" / "release" / "puff-cli")
    parser.add_argument(
        "--no-request", action="store_true", help="connections stay silent (no request first)"
    )
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.connections + 100
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    if args.server == "puff" and not args.binary.exists():
        sys.exit(f"{args.binary} is missing: build it (cargo build --release -p puff-cli)")
    request = f"GET {PATHS[args.server]} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    port = free_port()
    proc = start(args.server, args.binary, port)
    try:
        # Warm up: the server's first requests allocate what every request needs.
        with socket.create_connection((HOST, port)) as warm:
            for _ in range(200):
                warm.sendall(request)
                read_response(warm)
        before = steady_rss(proc.pid)
        conns = []
        for i in range(args.connections):
            sock = socket.create_connection((HOST, port), timeout=30)
            if not args.no_request:
                sock.sendall(request)
                read_response(sock)
            conns.append(sock)
            if (i + 1) % 1000 == 0:
                print(f"  {i + 1}/{args.connections} connections open", file=sys.stderr)
        after = steady_rss(proc.pid)
        per_conn = (after - before) * 1024 / args.connections
        print(f"{args.server}: RSS {before} KiB -> {after} KiB with {args.connections} idle "
              f"keep-alive connections: {per_conn / 1000:.1f} KB per connection")
        for sock in conns:
            sock.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
