"""Near-duplicate detection on our own fixtures: copies group, different articles do not."""

from __future__ import annotations

from pathlib import Path

from corpus import Document, Store
from indexer import dedup
from indexer.build import update_index
from indexer.dedup import DupIndex, shingles, signature, similarity

ARTICLE = (
    "Most people return to desk work about ten days after rhinoplasty, once the external "
    "splint comes off. The first week is the hardest: the nose is blocked, the cheeks and "
    "eyelids may be bruised, and sleeping upright on two pillows keeps the swelling down. "
    "Surgeons usually ask patients to skip aspirin and fish oil for two weeks before the "
    "operation, because both thin the blood and make bruising worse. Gentle saline sprays "
    "clear crusts from the nostrils; blowing the nose is off limits for at least a fortnight. "
    "Light walks are encouraged from the second day, but running, swimming and contact sports "
    "wait for six weeks. The tip of the nose stays numb and slightly swollen for months, and "
    "the final shape only settles after a full year, which is why revision surgery is never "
    "planned before then. Glasses should rest on the cheeks or be taped to the forehead for "
    "the first month so that their weight does not press on the healing bones."
)
SAME_PROCEDURE = (
    "Choosing a rhinoplasty surgeon starts with photographs: ask to see results in noses like "
    "yours, taken from the same angles and under the same light. A consultation should cover "
    "what you dislike about your nose, whether breathing is a problem, and what the bones and "
    "cartilage allow. Open rhinoplasty uses a small cut across the columella and gives the "
    "surgeon a direct view; closed rhinoplasty keeps every incision inside the nostrils. "
    "Neither is better in general. Ask how many operations the surgeon performs in a year, "
    "which hospital they operate in, who gives the anaesthetic, and what a revision would "
    "cost if one were needed. Computer morphing can help you talk about goals, but it is not "
    "a promise. Be wary of clinics that push a date before you have had time to think, offer "
    "discounts for booking on the day, or do not mention risks such as breathing difficulty, "
    "asymmetry and a need for further surgery."
)
BOILER_A = ("Home | Procedures | Prices | Book a consultation. Sign up for our newsletter and "
            "get the latest beauty news every week. ")
BOILER_B = (" Related reading: ten questions to ask at your first visit. Share this article "
            "on social media. Copyright Glow Portal, all rights reserved. Cookie settings.")
NOTE = ("Editor's note: this piece is republished from a partner clinic's blog with "
        "permission; prices quoted there may have changed since it was written. ")


def test_thresholds_measured_on_fixtures() -> None:
    """The exact Jaccard of shingle sets, and the MinHash estimates, on either side of 0.5."""
    def jaccard(a: str, b: str) -> float:
        x, y = shingles(a), shingles(b)
        return len(x & y) / len(x | y)

    boilerplate = BOILER_A + ARTICLE + BOILER_B
    noted = NOTE + ARTICLE
    assert jaccard(ARTICLE, boilerplate) > 0.7
    assert jaccard(ARTICLE, noted) > 0.8
    assert jaccard(ARTICLE, SAME_PROCEDURE) < 0.05
    sig = signature(ARTICLE)
    assert similarity(sig, signature(boilerplate)) >= dedup.THRESHOLD
    assert similarity(sig, signature(noted)) >= dedup.THRESHOLD
    assert similarity(sig, signature(SAME_PROCEDURE)) < dedup.THRESHOLD / 2
    assert signature("far too short") is None  # stubs never group


def test_groups_are_components_with_the_smallest_id() -> None:
    dup = DupIndex()
    groups = dup.update([("m-orig", ARTICLE), ("k-copy", BOILER_A + ARTICLE + BOILER_B),
                         ("z-note", NOTE + ARTICLE), ("b-other", SAME_PROCEDURE)])
    assert groups == {"k-copy": "k-copy", "m-orig": "k-copy", "z-note": "k-copy",
                      "b-other": None}
    # A copy rewritten into a different article leaves the group; the rest stay together.
    groups = dup.update([("k-copy", SAME_PROCEDURE + " Updated.")])
    assert groups["m-orig"] == groups["z-note"] == "m-orig"
    assert groups["k-copy"] == groups["b-other"] == "b-other"
    # Deleting documents dissolves what is left alone.
    groups = dup.update([("z-note", None), ("b-other", None)])
    assert groups["m-orig"] is None and groups["k-copy"] is None


def test_state_round_trips_through_disk(tmp_path: Path) -> None:
    dup = DupIndex()
    dup.update([("a", ARTICLE), ("b", NOTE + ARTICLE)])
    dup.save(tmp_path)
    again = DupIndex.load(tmp_path)
    assert again.groups == {"a": "a", "b": "a"}
    assert set(again.sigs) == {"a", "b"}
    assert again.update([("c", BOILER_A + ARTICLE)])["c"] == "a"
    saved = (tmp_path / dedup.STATE_FILE).read_bytes()
    for broken in (b"garbage", b"", saved[:len(saved) // 2]):  # junk, empty, truncated
        (tmp_path / dedup.STATE_FILE).write_bytes(broken)
        assert DupIndex.load(tmp_path).sigs == {}  # unreadable state: start over, no crash


def test_update_index_stores_groups_in_corpus_and_index(data_dir: Path) -> None:
    docs = [Document(id="p1", url="https://a.example/recovery", text=ARTICLE, site="a.example"),
            Document(id="p2", url="https://b.example/choosing", text=SAME_PROCEDURE,
                     site="b.example")]
    with Store.open(data_dir) as store:
        for doc in docs:
            store.save_document(doc)
    update_index(data_dir)
    with Store.open(data_dir) as store:  # a syndicated copy arrives later
        store.save_document(Document(id="p0", url="https://c.example/copy",
                                     text=BOILER_A + ARTICLE + BOILER_B, site="c.example"))
    update_index(data_dir)
    with Store.open(data_dir) as store:
        groups = {d.id: d.dup_group for d in store.iter_documents()}
        stats = store.stats()["duplicate_groups"]
    assert groups == {"p0": "p0", "p1": "p0", "p2": None}
    assert stats["groups"] == 1 and stats["documents"] == 2
    from indexer.search import Searcher, SearchRequest

    with Searcher(data_dir) as searcher:
        hits = searcher.search(SearchRequest("splint pillows")).hits
    assert [h.id for h in hits] == ["p0"] or [h.id for h in hits] == ["p1"]
    assert len(hits[0].also_at) == 1


def _reference_groups(texts: dict[str, str]) -> dict[str, str]:
    """Groups as datasketch's own MinHashLSH finds them (the implementation we replaced):
    candidates from its hash tables, links verified on the full signature, components by
    breadth-first search, the smallest id names the group."""
    from datasketch import LeanMinHash, MinHashLSH

    sigs = {i: s for i, s in ((i, signature(t)) for i, t in texts.items()) if s is not None}
    lsh = MinHashLSH(threshold=dedup.THRESHOLD, num_perm=dedup.NUM_PERM)

    def lean(sig):
        return LeanMinHash(seed=dedup.SEED, hashvalues=sig, scheme=dedup.SCHEME)

    for doc_id, sig in sigs.items():
        lsh.insert(doc_id, lean(sig))
    groups: dict[str, str] = {}
    seen: set[str] = set()
    for seed in sorted(sigs):
        if seed in seen:
            continue
        component, frontier = {seed}, [seed]
        seen.add(seed)
        while frontier:
            node = frontier.pop()
            for other in lsh.query(lean(sigs[node])):
                if other not in seen and similarity(sigs[node], sigs[other]) >= dedup.THRESHOLD:
                    seen.add(other)
                    component.add(other)
                    frontier.append(other)
        if len(component) > 1:
            groups.update((member, min(component)) for member in component)
    return groups


def _variants_corpus(seed: int) -> dict[str, str]:
    """Random articles, exact copies, and edited copies whose similarity to their original
    spans the threshold (word edits of 2-16%), some edited again (chains)."""
    import random

    rng = random.Random(seed)
    vocabulary = [f"w{n}" for n in range(400)]
    texts: dict[str, str] = {}
    for base in range(40):
        words = [rng.choice(vocabulary) for _ in range(90)]
        texts[f"b{base:02d}"] = " ".join(words)
        for copy in range(rng.randrange(0, 3)):
            texts[f"b{base:02d}-x{copy}"] = " ".join(words)
        edited = words
        for step in range(rng.randrange(1, 5)):
            rate = rng.choice((0.02, 0.05, 0.08, 0.1, 0.12, 0.16))
            edited = [rng.choice(vocabulary) if rng.random() < rate else w for w in edited]
            texts[f"b{base:02d}-e{step}"] = " ".join(edited)
    texts["short"] = "too short to group"
    return texts


def test_banding_finds_the_same_groups_as_datasketch_lsh() -> None:
    """Our numpy banding and datasketch's MinHashLSH give identical groups, built at once and
    after incremental edits and deletions."""
    for seed in (1, 2, 3):
        texts = _variants_corpus(seed)
        dup = DupIndex()
        dup.update(sorted(texts.items()))
        expected = _reference_groups(texts)
        assert len(set(expected.values())) > 20  # the corpus does exercise grouping
        assert dup.groups == expected
        changes = {doc_id: None for doc_id in sorted(texts)[::7]}
        changes.update({doc_id: texts[doc_id] + " w1 w2 w3" for doc_id in sorted(texts)[3::11]})
        result = dup.update(changes.items())
        for doc_id, text in changes.items():
            if text is None:
                del texts[doc_id]
            else:
                texts[doc_id] = text
        expected = _reference_groups(texts)
        assert dup.groups == expected
        assert all(result[doc_id] == expected.get(doc_id) for doc_id in changes)


def test_signatures_grow_shrink_and_reuse_rows(tmp_path: Path) -> None:
    dup = DupIndex()
    dup.update([(f"d{n:03d}", f"{ARTICLE} variant {n}") for n in range(100)])
    assert len(dup.sigs) == 100 and set(dup.groups.values()) == {"d000"}
    dup.update([(f"d{n:03d}", None) for n in range(0, 100, 2)])
    assert len(dup.sigs) == 50 and set(dup.groups.values()) == {"d001"}
    dup.update([("new", SAME_PROCEDURE)])
    assert dup.sigs.row_count() == 100  # a freed row was reused
    assert similarity(dup.sigs["new"], signature(SAME_PROCEDURE)) == 1.0
    dup.save(tmp_path)
    again = DupIndex.load(tmp_path)
    assert again.groups == dup.groups
    assert all(similarity(again.sigs[i], dup.sigs[i]) == 1.0 for i in dup.sigs)


def test_state_saved_by_the_previous_format_still_loads(tmp_path: Path) -> None:
    """Index directories written before the groups were stored as bytes keep their state."""
    import json

    import numpy as np

    sigs = np.stack([signature(ARTICLE), signature(NOTE + ARTICLE)])
    np.savez(tmp_path / dedup.STATE_FILE, ids=np.array(["a", "b"], dtype=str), sigs=sigs,
             groups=np.array(json.dumps({"a": "a", "b": "a"})))
    dup = DupIndex.load(tmp_path)
    assert dup.groups == {"a": "a", "b": "a"} and set(dup.sigs) == {"a", "b"}
    assert dup.update([("c", BOILER_A + ARTICLE)])["c"] == "a"
