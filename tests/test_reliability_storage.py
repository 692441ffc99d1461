"""The data dir on a full disk or a read-only filesystem: a clear error, and the corpus intact.

A real tmpfs of a few megabytes is mounted for each scenario (root only; every test skips
cleanly when mounting is not permitted, and always unmounts). "Full" is a filler file that
leaves a chosen number of bytes free; "read-only" is ``mount -o remount,ro``. Every command
runs as a real process, so the error a user sees is the one checked: the exit code of
``corpus.errors``, a message naming the problem, no traceback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from corpus import Document, Store
from corpus.errors import EXIT_UNEXPECTED
from corpus.models import text_hash
from crawler.siteserver import SiteServer
from indexer.build import current_version, update_index
from tests.conftest import run_aesthetics
from tests.test_reliability_crawl import N_ARTICLES, _make_site

FS_SIZE = "4m"
DISK_FULL = re.compile(r"disk is full|disk I/O error|No space left on device", re.I)
# what Store.open says when SQLite cannot create the WAL's -shm file on a read-only filesystem
READ_ONLY_OR_CANNOT_OPEN = re.compile(r"read-only|readonly|cannot open .*corpus", re.I)


def _mount(mount: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FS_SIZE}", "tmpfs",
                           str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.strip()}")


def _unmount(mount: Path) -> None:
    if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)  # busy: detach lazily


def _remount(mount: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(mount)], check=True,
                   capture_output=True)


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "fs"
    _mount(mount)
    try:
        yield mount
    finally:
        _unmount(mount)


def fill(mount: Path, leave: int) -> Path:
    """Fill the filesystem with a file so that about ``leave`` bytes stay free."""
    stat = os.statvfs(mount)
    free = stat.f_bavail * stat.f_frsize
    filler = mount / "filler"
    with open(filler, "wb") as fh:
        try:
            fh.write(b"\0" * max(0, free - leave))
        except OSError:
            pass
    return filler


def _check_clear_error(done: subprocess.CompletedProcess, pattern: re.Pattern) -> None:
    assert done.returncode == EXIT_UNEXPECTED, (done.returncode, done.stderr[-1500:])
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("Error:"), done.stderr[-1500:]
    assert pattern.search(last), last


def _pages(data_dir: Path) -> dict[str, str]:
    with Store.open(data_dir, create=False) as store:
        assert store.integrity_check() == "ok"
        pages = list(store.iter_pages(with_html=True))
    for page in pages:  # nothing half-written: every body matches its recorded hash
        if page.html is not None:
            assert text_hash(page.html) == page.content_hash, page.url
    return {p.url: p.content_hash for p in pages}


# ---------------------------------------------------------------------------- crawl on a full disk
@pytest.fixture(scope="module")
def full_disk_crawl(tmp_path_factory: pytest.TempPathFactory):
    """Crawl 6 pages, fill the disk to ~220 KB free, resume the crawl (it must fail), free the
    disk, resume again. Returns everything the tests below look at."""
    tmp = tmp_path_factory.mktemp("fullcrawl")
    mount = tmp / "fs"
    _mount(mount)
    site = tmp / "site"
    _make_site(site)
    (site / "_routes.json").write_text("{}")
    server = SiteServer(site).start()
    data_dir = mount / "data"
    args = ["crawl", server.url("/"), "--delay", "0", "--no-index", "-q", "--format", "json"]
    try:
        first = run_aesthetics(*args, "--max-pages", "6", data_dir=data_dir, timeout=180)
        assert first.returncode == 0, first.stderr
        before = _pages(data_dir)
        filler = fill(mount, 220_000)
        failed = run_aesthetics(*args, data_dir=data_dir, timeout=180)
        filler.unlink()
        after_failure = _pages(data_dir)
        with Store.open(data_dir, create=False) as store:
            queued_after_failure = store.frontier_counts().get("queued", 0)
        again = run_aesthetics(*args, data_dir=data_dir, timeout=180)
        final = _pages(data_dir)
        with Store.open(data_dir, create=False) as store:
            docs = store.count_documents()
        yield {"before": before, "failed": failed, "after_failure": after_failure,
               "queued_after_failure": queued_after_failure,
               "again": again, "final": final, "docs": docs}
    finally:
        server.stop()
        _unmount(mount)


@pytest.mark.slow
def test_full_disk_during_a_crawl_loses_nothing(full_disk_crawl) -> None:
    run = full_disk_crawl
    assert len(run["before"]) >= 6
    assert len(run["after_failure"]) < N_ARTICLES + 1, "the disk never filled up"
    assert "Traceback" not in run["failed"].stdout
    # every page stored before the disk filled up is still there, unchanged, and what could
    # not be stored is still queued in the frontier
    assert {u: h for u, h in run["after_failure"].items() if u in run["before"]} == run["before"]
    assert run["queued_after_failure"] > 0
    # once there is room again the same command finishes the crawl
    assert run["again"].returncode == 0, run["again"].stderr[-1500:]
    assert json.loads(run["again"].stdout)["outcome"] == "ok"
    assert len(run["final"]) == N_ARTICLES + 1 and run["docs"] == N_ARTICLES


@pytest.mark.slow
def test_full_disk_during_a_crawl_is_a_clear_error(full_disk_crawl) -> None:
    """The crawl stops at the first page it cannot store: one clear line, no traceback."""
    failed = full_disk_crawl["failed"]
    assert "Traceback" not in failed.stderr
    _check_clear_error(failed, DISK_FULL)


# ---------------------------------------------------------------------------- index on a full disk
def _small_corpus(data_dir: Path, n: int = 60) -> None:
    with Store.open(data_dir) as store, store.transaction():
        for i in range(n):
            store.save_document(Document(
                id=f"s{i:03d}", url=f"https://small.example/{i}", title=f"Scar care {i}",
                text=f"Silicone sheets and sunscreen help a scar fade; marker sm{i:03d}. " * 8))


INDEX_ROOM = 64_000  # room for the corpus's bookkeeping, not for a new index version


def _full_during_rebuild(mount: Path) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """A corpus with its index, then a rebuild on a disk with too little room for it."""
    data_dir = mount / "data"
    _small_corpus(data_dir)
    update_index(data_dir)
    live = current_version(data_dir)
    assert live is not None
    fill(mount, INDEX_ROOM)
    failed = run_aesthetics("index", "--rebuild", data_dir=data_dir, timeout=180)
    return data_dir, live, failed


@pytest.mark.slow
def test_full_disk_during_index_keeps_the_previous_index(tiny_fs: Path) -> None:
    data_dir, live, failed = _full_during_rebuild(tiny_fs)
    # the message names the problem; no traceback; the previous index answers
    _check_clear_error(failed, DISK_FULL)
    assert "Traceback" not in failed.stderr
    assert current_version(data_dir) == live
    found = run_aesthetics("search", "sm007", "--format", "json", data_dir=data_dir)
    assert found.returncode == 0, found.stderr
    assert [h["id"] for h in json.loads(found.stdout)["hits"]] == ["s007"]
    (tiny_fs / "filler").unlink()
    with Store.open(data_dir, create=False) as store:
        assert store.integrity_check() == "ok" and store.count_documents() == 60
    again = run_aesthetics("index", "--rebuild", data_dir=data_dir, timeout=180)
    assert again.returncode == 0, again.stderr
    assert len(list((data_dir / "index").glob("v[0-9]*"))) <= 2  # live + previous only


def test_failed_rebuild_leaves_no_half_written_version(tiny_fs: Path) -> None:
    data_dir, live, _failed = _full_during_rebuild(tiny_fs)
    leftovers = [v.name for v in (data_dir / "index").glob("v[0-9]*") if v != live]
    assert leftovers == []


def test_full_disk_errors_are_storage_errors_not_unexpected(tiny_fs: Path) -> None:
    """With no byte free even the lock file cannot be written: still a StorageError."""
    data_dir = tiny_fs / "data"
    _small_corpus(data_dir, 5)
    fill(tiny_fs, 0)
    for args in (["index"], ["crawl", "http://127.0.0.1:9/", "--no-index"]):
        done = run_aesthetics(*args, data_dir=data_dir, timeout=120)
        _check_clear_error(done, DISK_FULL)
        assert "unexpected error" not in done.stderr, done.stderr


def test_first_import_on_a_nearly_full_disk_names_the_disk(tiny_fs: Path, tmp_path: Path) -> None:
    """A migration that fails half-way names the disk, not the rollback."""
    rows = tmp_path / "docs.jsonl"
    rows.write_text("".join(json.dumps({"id": f"i{i}", "url": f"https://i.example/{i}",
                                        "title": "t", "text": "scar care " * 50}) + "\n"
                            for i in range(20)))
    fill(tiny_fs, 40_000)
    for _ in range(2):  # the second attempt finds the empty file the first one left
        done = run_aesthetics("import", str(rows), data_dir=tiny_fs / "data", timeout=120)
        _check_clear_error(done, DISK_FULL)


# ---------------------------------------------------------------------------- read-only data dir
@pytest.mark.slow
def test_read_only_data_dir_refuses_writes_clearly_and_still_searches(tiny_fs: Path,
                                                                       tmp_path: Path) -> None:
    data_dir = tiny_fs / "data"
    _small_corpus(data_dir)
    update_index(data_dir)
    rows = tmp_path / "docs.jsonl"
    rows.write_text(json.dumps({"id": "x", "url": "https://x.example/", "title": "x",
                                "text": "scar"}) + "\n")
    _remount(tiny_fs, "ro")
    try:
        for args in (["crawl", "http://127.0.0.1:9/"], ["index"], ["index", "--rebuild"],
                     ["refresh"], ["import", str(rows)]):
            done = run_aesthetics(*args, data_dir=data_dir, timeout=120)
            assert "Traceback" not in done.stderr, args
            _check_clear_error(done, READ_ONLY_OR_CANNOT_OPEN)
        found = run_aesthetics("search", "sm012", "--format", "json", data_dir=data_dir)
        assert found.returncode == 0, found.stderr
        assert [h["id"] for h in json.loads(found.stdout)["hits"]] == ["s012"]
    finally:
        _remount(tiny_fs, "rw")
    with Store.open(data_dir, create=False) as store:
        assert store.integrity_check() == "ok" and store.count_documents() == 60
        assert [r.kind for r in store.runs()] == ["index"]


def test_read_only_data_dir_still_shows_documents(tiny_fs: Path) -> None:
    """Reading commands open the corpus read-only when its filesystem is."""
    data_dir = tiny_fs / "data"
    _small_corpus(data_dir, 5)
    _remount(tiny_fs, "ro")
    try:
        for args in (["show", "s003", "--format", "json"], ["stats", "--format", "json"]):
            done = run_aesthetics(*args, data_dir=data_dir, timeout=120)
            assert done.returncode == 0, done.stderr
    finally:
        _remount(tiny_fs, "rw")
