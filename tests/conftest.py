"""Shared fixtures: a real HTTP server on a free loopback port, a fresh data dir, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from crawler.siteserver import SiteServer
from tests.redis_server import redis_server  # noqa: F401 - a fixture, for the distributed tests

REPO = Path(__file__).resolve().parent.parent
SITES = Path(__file__).resolve().parent / "sites"
SHARED = REPO.parent / "shared"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty data dir; AESTHETICS_DATA_DIR is cleared so nothing leaks from the user's."""
    path = tmp_path / "data"
    return path


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AESTHETICS_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def site_server(tmp_path: Path) -> Iterator[Callable[..., SiteServer]]:
    """Factory: ``server = site_server(root)`` serves ``root`` with a request log; all stop at teardown."""
    started: list[SiteServer] = []

    def start(root: Path, name: str = "site") -> SiteServer:
        server = SiteServer(root, log_path=tmp_path / f"{name}-{len(started)}-requests.jsonl")
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Run ``aesthetics ARGS`` in-process through click's CliRunner."""
    from search_cli.main import cli as group

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(group, list(args), input=input, catch_exceptions=False)

    return run


# The console entry point as a command line, for tests that start `aesthetics` themselves.
AESTHETICS = [sys.executable, "-c", "from search_cli.main import main; main()"]


def child_env(**extra: str) -> dict[str, str]:
    """The environment of an `aesthetics` child process: this checkout first on PYTHONPATH,
    no data dir inherited from the caller, plus ``extra``."""
    env = dict(os.environ)
    env.pop("AESTHETICS_DATA_DIR", None)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def run_aesthetics(*args: str, data_dir: Path | None = None, timeout: float = 300,
                   env: dict | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    """Run the real console entry point in a subprocess (needed for crawls: Twisted's reactor
    cannot be restarted inside one test process)."""
    where = ["--data-dir", str(data_dir)] if data_dir is not None else []
    return subprocess.run([*AESTHETICS, *where, *args], capture_output=True, text=True,
                          timeout=timeout, env=child_env(**(env or {})), input=input)


@pytest.fixture
def no_stray_processes() -> Iterator[None]:
    """Worker/seeder processes a distributed test started and did not wait for are killed
    when it ends, pass or fail."""
    from tests.distributed_support import SPAWNED

    yield
    while SPAWNED:
        proc = SPAWNED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
