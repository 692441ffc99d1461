"""Build and update the Whoosh index from the corpus (the corpus is the truth).

Layout under ``corpus.paths.index_path(data_dir)``::

    index/CURRENT        name of the live version directory (replaced atomically)
    index/v000007/       a complete Whoosh index + dedup.npz (near-duplicate signatures)

Why this shape:
- A full rebuild writes a new version directory and only then points CURRENT at it
  (write temp file, fsync, rename): a kill at any moment leaves CURRENT naming a complete
  index, and a reader that opened the previous version keeps its files (the previous version
  is deleted only by the swap after next).
- An incremental run commits into the live version without merging segments. Whoosh writes
  new segment files first and its table of contents last (temp + rename), so a kill during
  commit leaves the previous table of contents in charge; with merging off, no file a
  running reader holds is deleted. When segments pile up, the next run rebuilds instead.
- One writer at a time, behind our own ``DataDirLock`` (Whoosh's own lock fails at once with
  a bare LockError); a second writer waits ``wait`` seconds, then gets BusyError naming the holder.
- Memory stays nearly flat as the corpus grows: documents stream from the store, Whoosh spills
  its posting pool to disk at WRITER_MB, the near-duplicate state (numpy arrays, see
  indexer.dedup) is saved and dropped before the Whoosh writer starts, and the (id, hash)
  versions to mark as indexed are spooled to an unlinked temp file, then marked in batches,
  only after the commit that holds them. At 100k documents the peak is ~190 MB, of which
  ~90 MB are imports (bench/RESULTS.md, "Index scale").
"""

from __future__ import annotations

import marshal
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.writing import NO_MERGE

from corpus.lock import DataDirLock
from corpus.models import Document, utcnow
from corpus.paths import index_path
from corpus.store import Store
from indexer.schema import build_schema

POINTER = "CURRENT"
VERSION_PREFIX = "v"
MAX_SEGMENTS = 8       # more segments than this and the next update rebuilds (merged, faster)
WRITER_MB = 64         # Whoosh's posting pool before it spills a sorted run to disk (bounded RAM)
MARK_BATCH = 5000      # documents marked as indexed per store transaction


@dataclass
class IndexReport:
    """What one index run did."""

    added: int
    updated: int
    deleted: int
    total: int
    seconds: float
    rebuilt: bool


# ---------------------------------------------------------------------- layout
def current_version(data_dir: Path) -> Path | None:
    """The live index directory, or None if no complete index exists yet."""
    root = index_path(Path(data_dir))
    try:
        name = (root / POINTER).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    path = root / name
    if not name or not path.is_dir() or not whoosh_index.exists_in(str(path)):
        return None
    return path


def _versions(root: Path) -> list[Path]:
    return sorted(p for p in root.glob(f"{VERSION_PREFIX}[0-9]*") if p.is_dir())


def _next_version(root: Path) -> Path:
    numbers = [int(p.name[len(VERSION_PREFIX):]) for p in _versions(root)
               if p.name[len(VERSION_PREFIX):].isdigit()]
    return root / f"{VERSION_PREFIX}{max(numbers, default=0) + 1:06d}"


def _point_at(root: Path, version: Path) -> None:
    """Atomically make ``version`` the live index."""
    tmp = root / f".{POINTER}.{os.getpid()}.tmp"
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(version.name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, root / POINTER)
    dir_fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _prune_versions(root: Path, keep: list[Path]) -> None:
    """Delete version dirs other than ``keep`` (the live one and the one just replaced)."""
    names = {p.name for p in keep if p is not None}
    for path in _versions(root):
        if path.name not in names:
            shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------------- documents
def _published(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value[:10])
    except ValueError:
        return None


def index_fields(doc: Document) -> dict:
    """The Whoosh fields of one document (empty values left out: nothing to match)."""
    fields = {
        "id": doc.id, "url": doc.url, "site": (doc.site or "").lower(), "title": doc.title, "text": doc.text,
        "category": doc.category, "procedure": ",".join(doc.procedures),
        "risk": ",".join(doc.risks), "lang": (doc.language or "").lower(), "published": _published(doc.published),
        "content_hash": doc.content_hash, "group": doc.dup_group or doc.id,
    }
    return {k: v for k, v in fields.items() if v not in (None, "")}


def _live_documents(version: Path) -> int:
    """Undeleted documents in the index, counted from its table of contents: opening a reader
    for the count mapped most of the freshly written segment files into this process."""
    return sum(segment.doc_count() for segment in whoosh_index.open_dir(str(version))._segments())


# ---------------------------------------------------------------------- indexed versions
class _Versions:
    """The (id, content_hash, deleted) versions written to the index, spooled to an unlinked
    temp file: held in a list they cost ~250 bytes per document until the end of the run.

    They are marked in the store only after the Whoosh commit that holds them (``mark``), in
    batches; a kill between batches leaves some documents unmarked, and the next run only
    writes them again (an update of identical content), it never misses one.
    """

    def __init__(self, directory: Path) -> None:
        self._file = tempfile.TemporaryFile(dir=directory, prefix=".indexed-")
        self.count = 0

    def add(self, doc: Document) -> None:
        marshal.dump((doc.id, doc.content_hash, doc.deleted), self._file)
        self.count += 1

    def _read(self) -> Iterator[tuple[str, str, bool]]:
        self._file.seek(0)
        for _ in range(self.count):
            yield marshal.load(self._file)

    def mark(self, store: Store, when: str) -> None:
        """Mark every spooled version as indexed at ``when``, MARK_BATCH per transaction."""
        pending: list[tuple[str, str, bool]] = []
        for version in self._read():
            pending.append(version)
            if len(pending) >= MARK_BATCH:
                store.mark_indexed(pending, when=when)
                pending.clear()
        if pending:
            store.mark_indexed(pending, when=when)

    def __enter__(self) -> _Versions:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()


# ---------------------------------------------------------------------- entry point
def update_index(data_dir: Path, *, rebuild: bool = False,
                 progress: Callable[[str], None] | None = None,
                 wait: float = 10.0) -> IndexReport:
    """Bring the index up to date with the corpus; ``rebuild`` builds afresh and swaps.

    Near-duplicate groups of new or changed documents are computed first and saved to the
    corpus, so the index stores each document's group and search can fold copies together.
    """
    data_dir = Path(data_dir)
    say = progress or (lambda _message: None)
    started = time.monotonic()
    with DataDirLock(data_dir, "index", wait=wait, command="aesthetics index"):
        with Store.open(data_dir, create=False) as store:
            store.mark_interrupted_runs(("index",))  # we hold the index lock: they are dead
            run = store.start_run("index", {"rebuild": rebuild})
            try:
                report = _update(store, data_dir, rebuild, say, started)
            except BaseException:
                store.finish_run(run, "failed")
                raise
            run.counts = {"added": report.added, "updated": report.updated,
                          "deleted": report.deleted, "total": report.total}
            run.details["rebuilt"] = report.rebuilt
            store.finish_run(run)
    return report


def _mark_time() -> str:
    """indexed_at for this run: its start, taken before any document is read, so a document
    saved while the run goes on keeps ``updated_at > indexed_at`` and is indexed next time."""
    return utcnow()


def _update(store: Store, data_dir: Path, rebuild: bool, say: Callable[[str], None],
            started: float) -> IndexReport:
    root = index_path(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    live = current_version(data_dir)
    if live is not None and not rebuild:
        ix = whoosh_index.open_dir(str(live))
        if len(ix._segments()) > MAX_SEGMENTS:
            say(f"index has {len(ix._segments())} segments: rebuilding")
            rebuild = True
        else:
            return _incremental(store, ix, live, say, started)
    return _rebuild(store, root, live, say, started)


def _incremental(store: Store, ix, live: Path, say: Callable[[str], None],
                 started: float) -> IndexReport:
    when = _mark_time()
    from indexer.dedup import DupIndex  # numpy/scipy: only writers pay for them

    dup = DupIndex.load(live)
    pending = 0

    def changes() -> Iterator[tuple[str, str | None]]:
        nonlocal pending
        for doc in store.documents_to_index():
            pending += 1
            yield doc.id, None if doc.deleted else doc.text

    say("finding near-duplicates")
    store.set_dup_groups(dup.update(changes()))
    # Saved (and dropped) before Whoosh's pool fills up. Saving ahead of the commit is safe:
    # every document whose group changed was just unmarked by set_dup_groups, so if this run
    # dies, the next one takes all of them as changes again and regroups them the same way.
    dup.save(live)
    del dup
    added = updated = deleted = 0
    with _Versions(live.parent) as versions:
        if pending:
            with ix.searcher() as searcher:
                writer = ix.writer(limitmb=WRITER_MB)
                try:
                    for doc in store.documents_to_index():
                        known = searcher.document_number(id=doc.id) is not None
                        if doc.deleted:
                            writer.delete_by_term("id", doc.id)
                            deleted += known
                        else:
                            writer.update_document(**index_fields(doc))
                            updated += known
                            added += not known
                        versions.add(doc)
                        if versions.count % 1000 == 0:
                            say(f"indexed {versions.count} documents")
                    say("committing")
                    writer.commit(mergetype=NO_MERGE)
                except BaseException:
                    writer.cancel()
                    raise
        versions.mark(store, when)
    return IndexReport(added, updated, deleted, _live_documents(live), time.monotonic() - started,
                       False)


def _rebuild(store: Store, root: Path, live: Path | None, say: Callable[[str], None],
             started: float) -> IndexReport:
    when = _mark_time()
    say("finding near-duplicates")
    from indexer.dedup import DupIndex

    dup = DupIndex()
    store.set_dup_groups(dup.update((doc.id, doc.text) for doc in store.iter_documents()))
    target = _next_version(root)
    target.mkdir()
    with _Versions(root) as versions:
        try:
            # saved before indexing, so the signatures are not held while Whoosh's pool fills
            # up; a failed build removes the whole version directory, a killed one is never
            # pointed at
            dup.save(target)
            del dup
            ix = whoosh_index.create_in(str(target), build_schema())
            writer = ix.writer(limitmb=WRITER_MB)
            added = deleted = 0
            try:
                for doc in store.iter_documents(include_deleted=True):
                    versions.add(doc)
                    if doc.deleted:
                        deleted += (doc.indexed_at is None
                                    or doc.indexed_at < (doc.updated_at or ""))
                        continue
                    writer.add_document(**index_fields(doc))
                    added += 1
                    if added % 1000 == 0:
                        say(f"indexed {added} documents")
                say("committing")
                writer.commit()
            except BaseException:
                try:
                    writer.cancel()
                except OSError:
                    pass  # a full disk fails the cancel too; the half-written version goes
                raise
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        say("swapping in the new index")
        _point_at(root, target)
        _prune_versions(root, [target, live])
        versions.mark(store, when)
    return IndexReport(added, 0, deleted, _live_documents(target), time.monotonic() - started,
                       True)
