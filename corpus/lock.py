"""Data-dir locks: one crawl/refresh at a time, one index writer at a time.

An ``flock`` on a file in the data dir is the lock itself (the kernel frees it when the
holder dies, even on kill -9); the file's content (PID, start time, command) is only there
to tell the user who holds it. A lock file left by a dead PID is taken over with a warning.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path

from corpus.errors import BusyError, StorageError
from corpus.models import utcnow


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class DataDirLock:
    """``with DataDirLock(data_dir, "crawl"):`` — raises BusyError if another process holds it.

    ``wait`` seconds are spent retrying before giving up (0 = fail at once).
    """

    def __init__(self, data_dir: Path, name: str = "crawl", *, wait: float = 0.0,
                 command: str = ""):
        self.path = Path(data_dir) / f"{name}.lock"
        self.name = name
        self.wait = wait
        self.command = command or " ".join(os.path.basename(a) for a in sys.argv[:2])
        self._fd: int | None = None
        self.took_over_from: dict | None = None

    def holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text() or "null")
        except (OSError, ValueError):
            return None

    def acquire(self) -> DataDirLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot create lock file {self.path}: {exc.strerror}") from exc
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    holder = self.holder() or {}
                    raise BusyError(
                        f"{self.name} lock in {self.path.parent} is held by PID "
                        f"{holder.get('pid', '?')} since {holder.get('started', '?')} "
                        f"({holder.get('command', 'unknown command')}); try again later"
                    ) from None
                time.sleep(0.1)
        previous = self.holder()
        if previous and previous.get("pid") and previous["pid"] != os.getpid() \
                and not _pid_alive(int(previous["pid"])):
            self.took_over_from = previous
            print(f"warning: taking over stale {self.name} lock of dead PID {previous['pid']} "
                  f"(started {previous.get('started')})", file=sys.stderr)
        info = {"pid": os.getpid(), "started": utcnow(), "command": self.command}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
        except OSError as exc:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            raise StorageError(f"cannot write lock file {self.path}: {exc.strerror}") from exc
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
        except OSError:
            pass
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> DataDirLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
