"""Index build: full and incremental runs, deletions, rebuild-and-swap, locks, crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from corpus import Document, Store
from corpus.errors import BusyError, NothingYetError
from corpus.lock import DataDirLock
from corpus.paths import index_path
from indexer.build import current_version, update_index
from indexer.search import Searcher, SearchRequest

REPO = Path(__file__).resolve().parent.parent

# Our own short sample articles (ids sort in this order).
ARTICLES = {
    "a-rhino": ("Recovery after rhinoplasty",
                "Swelling after rhinoplasty peaks on the second day and settles over several "
                "weeks. Bruising around the eyes fades within ten days. Sleep with the head "
                "raised, keep the splint dry and avoid resting glasses on the nose for a month.",
                ["rhinoplasty"], ["swelling", "bruising"], "2024-03-02", "en"),
    "b-botox": ("What botulinum toxin does",
                "Botulinum toxin injections relax the muscles that fold skin into frown lines. "
                "The effect appears after three to five days and wears off within four months. "
                "A drooping eyelid is an uncommon side effect that resolves as the toxin fades.",
                ["botox"], ["ptosis"], "2023-11-20", "en"),
    "c-filler": ("Choosing a lip filler",
                 "Hyaluronic acid fillers add volume to thin lips. Lumps can usually be massaged "
                 "away; a blocked vessel is rare but needs hyaluronidase at once. Results last "
                 "six to twelve months depending on the product and the lip movement.",
                 ["lip-augmentation"], ["vascular-occlusion"], "2024-06-15", "en"),
    "d-zh": ("隆鼻手术后的恢复",
             "隆鼻手术后肿胀通常在第二天最明显，之后几周逐渐消退。术后一个月内不要戴眼镜，"
             "睡觉时把头垫高。",
             ["rhinoplasty"], ["swelling"], "2024-01-10", "zh"),
}


def make_doc(doc_id: str, **changes) -> Document:
    title, text, procs, risks, published, lang = ARTICLES[doc_id]
    fields = dict(id=doc_id, url=f"https://site-{doc_id[0]}.example/{doc_id}", title=title,
                  text=text, site=f"site-{doc_id[0]}.example", procedures=procs, risks=risks,
                  published=published, language=lang, category="article")
    fields.update(changes)
    return Document(**fields)


def make_corpus(data_dir: Path, ids: list[str] | None = None) -> None:
    with Store.open(data_dir) as store:
        for doc_id in ids or sorted(ARTICLES):
            store.save_document(make_doc(doc_id))


def ids_for(data_dir: Path, query: str, **kw) -> list[str]:
    with Searcher(data_dir) as searcher:
        return [h.id for h in searcher.search(SearchRequest(query, **kw)).hits]


def test_first_run_builds_and_second_run_has_nothing_to_do(data_dir: Path) -> None:
    make_corpus(data_dir)
    first = update_index(data_dir)
    assert (first.added, first.total, first.rebuilt) == (4, 4, True)
    again = update_index(data_dir)
    assert (again.added, again.updated, again.deleted, again.rebuilt) == (0, 0, 0, False)
    assert ids_for(data_dir, "swelling")[0] in {"a-rhino", "d-zh"}
    with Store.open(data_dir) as store:
        run = store.runs(kind="index", limit=1)[0]
    assert run.outcome == "ok" and run.counts["total"] == 4


def test_incremental_adds_changes_and_deletes(data_dir: Path) -> None:
    make_corpus(data_dir, ["a-rhino", "b-botox"])
    update_index(data_dir)
    with Store.open(data_dir) as store:
        store.save_document(make_doc("c-filler"))
        store.save_document(make_doc("b-botox", text="Botox now also treats heavy sweating "
                                                   "of the armpits, a use approved years ago."))
    report = update_index(data_dir)
    assert (report.added, report.updated, report.rebuilt, report.total) == (1, 1, False, 3)
    assert ids_for(data_dir, "sweating") == ["b-botox"]
    assert ids_for(data_dir, "frown") == []  # the old text is gone from the index
    with Store.open(data_dir) as store:
        store.conn.execute("UPDATE documents SET deleted = 1, updated_at = '9999-01-01' "
                           "WHERE id = 'c-filler'")
    report = update_index(data_dir)
    assert (report.deleted, report.total) == (1, 2)
    assert ids_for(data_dir, "lips") == []


def test_rebuild_swaps_to_a_new_version_and_keeps_one_previous(data_dir: Path) -> None:
    make_corpus(data_dir)
    update_index(data_dir)
    first = current_version(data_dir)
    reader = Searcher(data_dir)  # opened on the first version
    update_index(data_dir, rebuild=True)
    second = current_version(data_dir)
    update_index(data_dir, rebuild=True)
    third = current_version(data_dir)
    assert len({first, second, third}) == 3
    assert not first.exists() and second.exists() and third.exists()
    # The reader opened before both swaps still answers (its files were open, then unlinked).
    assert [h.id for h in reader.search(SearchRequest("splint")).hits] == ["a-rhino"]
    reader.close()


def test_concurrent_reader_keeps_working_during_incremental_update(data_dir: Path) -> None:
    make_corpus(data_dir, ["a-rhino"])
    update_index(data_dir)
    with Searcher(data_dir) as reader:
        make_corpus(data_dir, ["b-botox", "c-filler"])
        update_index(data_dir)
        assert [h.id for h in reader.search(SearchRequest("splint")).hits] == ["a-rhino"]
        assert reader.search(SearchRequest("botulinum")).hits == []  # its snapshot
    assert ids_for(data_dir, "botulinum") == ["b-botox"]


def test_empty_corpus_gives_an_empty_searchable_index(data_dir: Path) -> None:
    Store.open(data_dir).close()
    assert update_index(data_dir).total == 0
    with Searcher(data_dir) as searcher:
        assert searcher.search(SearchRequest("nose")).hits == []
        assert list(searcher.batch([("q", "nose")])) == [("q", [])]


def test_no_index_yet_is_nothing_yet(data_dir: Path) -> None:
    make_corpus(data_dir)
    with pytest.raises(NothingYetError, match="aesthetics index"):
        Searcher(data_dir)
    with pytest.raises(NothingYetError):
        update_index(data_dir / "missing")


def test_second_writer_waits_then_is_busy_naming_the_holder(data_dir: Path) -> None:
    make_corpus(data_dir)
    with DataDirLock(data_dir, "index", command="aesthetics index"):
        started = time.monotonic()
        with pytest.raises(BusyError, match=f"PID {os.getpid()}"):
            update_index(data_dir, wait=0.3)
        assert time.monotonic() - started >= 0.3


def test_index_command_and_busy_exit_code(data_dir: Path, cli) -> None:
    make_corpus(data_dir)
    result = cli("index", "--data-dir", str(data_dir), "--format", "json")
    assert result.exit_code == 0, result.output
    assert '"added": 4' in result.output
    with DataDirLock(data_dir, "index"):
        busy = cli("index", "--data-dir", str(data_dir), "--wait", "0")
    assert busy.exit_code == 4 and "held by PID" in busy.output
    assert "Example" in cli("index", "--help").output


_KILL_CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from corpus import Document, Store
    from indexer.build import update_index

    data_dir = Path(sys.argv[1])
    text = " ".join(f"word{i % 997} filler{i % 13}" for i in range(3000))
    for round_no in range(1000):
        with Store.open(data_dir) as store:
            for n in range(40):
                store.save_document(Document(id=f"r{round_no:04d}-{n:02d}",
                                             url=f"https://k.example/{round_no}/{n}",
                                             title=f"round {round_no}", text=f"{text} r{n}"))
        def progress(message):
            if message == "committing":
                print("COMMIT", flush=True)
        update_index(data_dir, progress=progress, rebuild=round_no % 3 == 2)
""")


@pytest.mark.parametrize("commits_before_kill", [1, 3])
def test_kill_during_commit_leaves_an_index_that_opens(data_dir: Path,
                                                       commits_before_kill: int) -> None:
    make_corpus(data_dir)
    update_index(data_dir)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    child = subprocess.Popen([sys.executable, "-c", _KILL_CHILD, str(data_dir)],
                             stdout=subprocess.PIPE, text=True, env=env)
    try:
        seen = 0
        while seen < commits_before_kill:
            line = child.stdout.readline()
            assert line, "child ended before committing"
            seen += line.startswith("COMMIT")
        os.kill(child.pid, signal.SIGKILL)  # right inside the commit
    finally:
        child.wait(timeout=30)
        child.stdout.close()
    assert current_version(data_dir) is not None
    assert ids_for(data_dir, "splint") == ["a-rhino"]
    report = update_index(data_dir)  # the next run picks up whatever was not committed
    with Store.open(data_dir) as store:
        live = store.count_documents()
    assert report.total == live
    assert sorted(p.name for p in index_path(data_dir).iterdir() if p.name.startswith("."))== []


def test_versions_marked_in_batches_are_all_marked(data_dir: Path, monkeypatch) -> None:
    """Indexed versions are spooled to disk and marked a few per transaction after the
    commit: every one of them ends up marked, in full and incremental runs alike."""
    from indexer import build

    monkeypatch.setattr(build, "MARK_BATCH", 3)
    make_corpus(data_dir)
    assert update_index(data_dir).added == 4
    with Store.open(data_dir) as store:
        assert list(store.documents_to_index()) == []
        store.save_document(make_doc("a-rhino", text="Rhinoplasty splints come off after a "
                                                     "week; the swelling takes months to go."))
        store.save_document(make_doc("c-filler", text="Lip filler lumps can be massaged."))
        assert store.tombstone("b-botox")
    report = update_index(data_dir)
    assert (report.updated, report.deleted, report.total) == (2, 1, 3)
    with Store.open(data_dir) as store:
        assert list(store.documents_to_index()) == []
    assert ids_for(data_dir, "massaged") == ["c-filler"]
    assert not list(index_path(data_dir).glob(".indexed-*"))  # the spool is gone
