"""A private, throwaway redis-server for tests and benchmarks.

Redis has no "port 0": it will not pick a free port by itself and tell us which. So we ask the
kernel for a free loopback port, start ``redis-server`` on it with persistence off and its
working dir in a temp dir, and wait until it answers PING. Nothing touches a system Redis
service; stopping kills only the process we started. A test can ``stop()`` the server in the
middle of a crawl and ``start()`` it again on the same port, to play "Redis went away".
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    """A loopback port nobody listens on right now (tiny race window; fine for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ping(port: int) -> bool:
    """A raw RESP PING, so this helper needs no client library."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """``with RedisServer(tmp_dir) as r: r.url`` — a redis-server of our own on 127.0.0.1."""

    def __init__(self, work_dir: Path, port: int | None = None):
        self.work_dir = Path(work_dir)
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed (Debian package redis-server)")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        cmd = [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", str(self.work_dir), "--daemonize", "no",
               "--protected-mode", "no", "--loglevel", "warning",
               "--logfile", str(self.work_dir / "redis.log")]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not _ping(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log = (self.work_dir / "redis.log")
                detail = log.read_text()[-500:] if log.exists() else ""
                raise RuntimeError(f"redis-server did not start on port {self.port}: {detail}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Stop it for good (kill: no final save, like a crash or a lost host)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh private redis-server for one test; skipped where redis-server is missing."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not installed (.ci/run installs it)")
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()
