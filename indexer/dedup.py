"""Near-duplicate detection: MinHash signatures of word shingles, candidates from LSH banding.

Portals syndicate one article under their own boilerplate, sometimes with an editor's note
added. Such copies share most word 4-grams (Jaccard ~0.6-0.95 on our fixtures), while two
different articles about the same procedure share almost none (<0.1), so one threshold in
between separates them with a wide margin (see tests/test_dedup.py for the measured values).

Groups are the connected components of "estimated Jaccard >= THRESHOLD"; a group's id is its
smallest document id, so it is stable whichever copy arrives first. Signatures persist in the
index directory, so an incremental run only hashes new or changed documents.

Memory: signatures live as rows of one 2-D uint32 array, and candidate pairs come from sorting
each LSH band of that array (numpy), not from datasketch's MinHashLSH, whose per-document
Python dicts and sets of band keys took ~1 KB per document (hundreds of MB at 100k documents).
The banding (number of bands, rows per band) is the one MinHashLSH picks for THRESHOLD and
NUM_PERM, and every candidate is verified on the full signature, so the groups are the same
(tests/test_dedup.py compares them with a MinHashLSH reference).
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path

import numpy as np
from datasketch import MinHash, MinHashLSH
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from indexer.analysis import CJK_CHARS, fold

NUM_PERM = 64        # signature length: +-0.06 standard error on Jaccard, 256 bytes per doc
SHINGLE = 4          # words per shingle (CJK: characters per shingle, see _units)
THRESHOLD = 0.5      # estimated Jaccard at or above which two documents are one group
MIN_SHINGLES = 8     # shorter texts are never grouped (a title-only stub matches too much)
SEED = 7
SCHEME = "affine32"  # datasketch 2 permutation scheme; 32-bit hash values
STATE_FILE = "dedup.npz"
CHUNK = 8192         # signature rows compared at once (8192 x 64 x 8 bytes = 4 MB at most)

_UNIT = re.compile(rf"[{CJK_CHARS}]|[^\W{CJK_CHARS}]+")


def _units(text: str) -> list[str]:
    """Words, folded; each CJK character counts as a word (no spaces to split on)."""
    return _UNIT.findall(fold(text))


def shingles(text: str, size: int = SHINGLE) -> set[str]:
    """The set of ``size``-word shingles of ``text`` (case and accents folded)."""
    units = _units(text)
    if len(units) < size:
        return {" ".join(units)} if units else set()
    return {" ".join(units[i:i + size]) for i in range(len(units) - size + 1)}


def signature(text: str) -> np.ndarray | None:
    """MinHash signature (uint32 array) of the text's shingles, or None if too short to group."""
    sh = shingles(text)
    if len(sh) < MIN_SHINGLES:
        return None
    mh = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME, permutations=_permutations())
    mh.update_batch([s.encode("utf-8") for s in sh])
    return mh.hashvalues.astype(np.uint32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(similarities(a, b))


def similarities(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Estimated Jaccard similarity of signatures row by row (the share of equal values)."""
    return np.count_nonzero(a == b, axis=-1) / NUM_PERM


@cache
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """The seed's permutations, drawn once: drawing them for every document cost a quarter
    of the hashing time, and the signature is the same either way."""
    return MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME).permutations


@cache
def banding() -> tuple[int, int]:
    """(bands, rows per band): the split datasketch's MinHashLSH chooses for THRESHOLD."""
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    return lsh.b, lsh.r


class Signatures(Mapping[str, np.ndarray]):
    """Signatures by document id, stored as rows of one 2-D uint32 array.

    A dict of 100k small numpy arrays costs ~3x the memory of their values and has to be
    copied into one array for banding anyway. Rows freed by deleted documents are reused.
    """

    def __init__(self, ids: Iterable[str] = (), rows: np.ndarray | None = None) -> None:
        self._row: dict[str, int] = {doc_id: n for n, doc_id in enumerate(ids)}
        data = np.zeros((0, NUM_PERM), np.uint32) if rows is None else rows
        if data.ndim != 2 or data.shape != (len(self._row), NUM_PERM):
            raise ValueError(f"signature array of shape {data.shape} for {len(self._row)} ids")
        self._data = data.astype(np.uint32, copy=False)  # the caller hands the array over
        self._used = len(self._row)  # rows handed out so far, freed ones included
        self._free: list[int] = []

    def __getitem__(self, doc_id: str) -> np.ndarray:
        return self._data[self._row[doc_id]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._row)

    def __len__(self) -> int:
        return len(self._row)

    def put(self, doc_id: str, sig: np.ndarray) -> None:
        """Set (or replace) the signature of ``doc_id``."""
        row = self._row.get(doc_id)
        if row is None:
            if self._free:
                row = self._free.pop()
            else:
                if self._used == len(self._data):
                    grown = np.zeros((max(64, 2 * len(self._data)), NUM_PERM), np.uint32)
                    grown[:self._used] = self._data[:self._used]
                    self._data = grown
                row = self._used
                self._used += 1
            self._row[doc_id] = row
        self._data[row] = sig

    def discard(self, doc_id: str) -> None:
        """Forget ``doc_id`` (deleted, or now too short to group); no error if unknown."""
        row = self._row.pop(doc_id, None)
        if row is not None:
            self._free.append(row)

    def row_of(self, doc_id: str) -> int | None:
        """The row holding ``doc_id``'s signature, or None."""
        return self._row.get(doc_id)

    def rows(self) -> np.ndarray:
        """Row numbers of the live signatures, in iteration (id insertion) order."""
        return np.fromiter(self._row.values(), dtype=np.intp, count=len(self._row))

    def in_row_order(self) -> tuple[list[str], np.ndarray]:
        """(ids, their signatures) ordered by row: a view of the array when no row was freed
        or reused (a full build), a compacted copy otherwise."""
        rows = self.rows()
        ids = list(self._row)
        if np.array_equal(rows, np.arange(len(rows))):
            return ids, self._data[:len(rows)]
        order = np.argsort(rows)
        return [ids[n] for n in order.tolist()], self._data[rows[order]]

    @property
    def data(self) -> np.ndarray:
        """The whole array, free rows included (index it with ``rows()``); do not modify."""
        return self._data

    def row_count(self) -> int:
        """Rows allocated so far: an upper bound for every row number."""
        return self._used


def _candidate_pairs(data: np.ndarray, reps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j) of positions in ``reps`` (rows of ``data``) that share all values of at
    least one LSH band, each pair once.

    Per band, rows are sorted by their band values, so each bucket is a run of equal rows;
    pairs are taken at growing distances within a run, which costs the number of pairs,
    never rows times the largest bucket.
    """
    bands, width = banding()
    count = len(reps)
    codes = [np.zeros(0, np.int64)]
    for band in range(bands):
        values = data[reps, band * width:(band + 1) * width]
        order = np.lexsort(values.T[::-1])
        ranked = values[order]
        starts = np.ones(count, dtype=bool)
        starts[1:] = np.any(ranked[1:] != ranked[:-1], axis=1)
        bucket = np.cumsum(starts)
        step = 1
        active = np.flatnonzero(~starts[1:])  # positions whose next row is in the same bucket
        found = []
        while active.size:
            first, second = order[active], order[active + step]
            found.append(np.minimum(first, second).astype(np.int64) * count
                         + np.maximum(first, second))
            step += 1
            active = active[active + step < count]
            active = active[bucket[active + step] == bucket[active]]
        if found:
            codes.append(np.unique(np.concatenate(found)))
    pairs = np.unique(np.concatenate(codes))
    return pairs // max(count, 1), pairs % max(count, 1)


def _verified(data: np.ndarray, reps: np.ndarray, first: np.ndarray, second: np.ndarray
              ) -> np.ndarray:
    """Which candidate pairs are near-duplicates (same test as ``similarity``), in chunks so
    the compared rows never take more than a few MB."""
    keep = np.zeros(len(first), dtype=bool)
    for start in range(0, len(first), CHUNK):
        a = data[reps[first[start:start + CHUNK]]]
        b = data[reps[second[start:start + CHUNK]]]
        keep[start:start + CHUNK] = similarities(a, b) >= THRESHOLD
    return keep


def _distinct(data: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(one row per distinct signature, position of each of ``rows``' signature in it).

    Exact copies are collapsed first: they are always linked, and a portal syndicating one
    article many times would otherwise fill LSH buckets with identical rows. Rows are sorted
    by a 64-bit fingerprint and compared with their neighbour in full, so a fingerprint
    collision can only leave two copies apart (then LSH links them), never merge two
    different signatures; no copy of the whole signature matrix is made.
    """
    count = len(rows)
    weights = np.random.default_rng(SEED).integers(1, 2**63, NUM_PERM, dtype=np.uint64) | 1
    prints = np.empty(count, dtype=np.uint64)
    for start in range(0, count, CHUNK):
        block = data[rows[start:start + CHUNK]].astype(np.uint64)
        prints[start:start + CHUNK] = (block * weights).sum(axis=1)  # wraps mod 2**64
    order = np.argsort(prints, kind="stable")
    new = np.ones(count, dtype=bool)
    for start in range(1, count, CHUNK):
        here, before = order[start:start + CHUNK], order[start - 1:start - 1 + CHUNK]
        before = before[:len(here)]
        new[start:start + len(here)] = ((prints[here] != prints[before])
                                        | np.any(data[rows[here]] != data[rows[before]], axis=1))
    inverse = np.empty(count, dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    return rows[order[new]], inverse


def components(data: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Component label of each of ``rows`` (signature rows of ``data``) under the link
    "estimated Jaccard >= THRESHOLD"; memory stays a few arrays of one number per row."""
    if len(rows) == 0:
        return np.zeros(0, dtype=np.intp)
    reps, inverse = _distinct(data, rows)
    first, second = _candidate_pairs(data, reps)
    keep = _verified(data, reps, first, second)
    first, second = first[keep], second[keep]
    graph = coo_matrix((np.ones(len(first), dtype=np.int8), (first, second)),
                       shape=(len(reps), len(reps)))
    _count, labels = connected_components(graph, directed=False)
    return labels[inverse]


class DupIndex:
    """Signatures and groups of every live document; loaded from and saved to a directory."""

    def __init__(self) -> None:
        self.sigs: Signatures = Signatures()
        self.groups: dict[str, str] = {}  # doc id -> group id, only for groups of two or more

    # ------------------------------------------------------------------ persistence
    @classmethod
    def load(cls, directory: Path) -> DupIndex:
        """The saved state, or an empty one (then every document is hashed afresh)."""
        dup = cls()
        path = Path(directory) / STATE_FILE
        if not path.exists():
            return dup
        try:
            with np.load(path, allow_pickle=False) as data:
                sigs = Signatures((str(i) for i in data["ids"]), data["sigs"])
                groups = json.loads(data["groups"].item())  # bytes, or str in older files
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return cls()  # unreadable (e.g. truncated) state only costs a re-hash
        dup.sigs = sigs
        dup.groups = {k: v for k, v in groups.items() if k in dup.sigs}
        return dup

    def save(self, directory: Path) -> None:
        """Write atomically (temp file + rename): a kill leaves the old state or the new one.

        Ids go in row order, so after a full build (no freed rows) the signatures are written
        straight from their array, and the groups as UTF-8 bytes (a numpy str array of the
        JSON text would take four bytes per character): saving 100k documents copies little.
        """
        directory = Path(directory)
        ids, sigs = self.sigs.in_row_order()
        groups = json.dumps(self.groups, sort_keys=True).encode("utf-8")
        tmp = directory / f".{STATE_FILE}.{os.getpid()}.tmp.npz"
        with open(tmp, "wb") as fh:
            np.savez(fh, ids=np.array(ids, dtype=str), sigs=sigs, groups=np.array(groups))
            fh.flush()
            os.fsync(fh.fileno())  # durable before the rename, as the index version itself
        os.replace(tmp, directory / STATE_FILE)

    # ------------------------------------------------------------------ grouping
    def update(self, changed: Iterable[tuple[str, str | None]]) -> dict[str, str | None]:
        """Apply (doc id, text or None for deleted) changes; returns new group ids by doc id.

        Only the components touched by a change are reported and stored: the changed
        documents, the members of their old groups, and everything now linked to those.
        """
        seeds: set[str] = set()
        members: dict[str, list[str]] = {}
        for member, group in self.groups.items():
            members.setdefault(group, []).append(member)
        for doc_id, text in changed:
            seeds.add(doc_id)
            seeds.update(members.get(self.groups.get(doc_id, ""), ()))
            sig = signature(text) if text is not None else None
            if sig is None:
                self.sigs.discard(doc_id)
            else:
                self.sigs.put(doc_id, sig)
        return self._regroup(seeds)

    def _regroup(self, seeds: set[str]) -> dict[str, str | None]:
        """Components of the whole link graph, kept for those that contain a seed.

        Computing every component is a few sorts of the band columns (fast in numpy), and a
        component without a seed cannot have changed: a link only appears or disappears at a
        changed document, and the old group mates of a changed document are seeds too.
        """
        result: dict[str, str | None] = {}
        rows = self.sigs.rows()
        labels = components(self.sigs.data, rows)
        label_of_row = np.full(self.sigs.row_count(), -1, dtype=np.intp)
        label_of_row[rows] = labels
        touched = set()
        for seed in seeds:
            row = self.sigs.row_of(seed)
            if row is None:
                result[seed] = None  # deleted or too short: alone
            else:
                touched.add(int(label_of_row[row]))
        sizes = np.bincount(labels)
        ids = list(self.sigs)
        chosen = np.flatnonzero(np.isin(labels, np.fromiter(touched, dtype=np.intp)))
        pairs = [(ids[n], label) for n, label in
                 zip(chosen.tolist(), labels[chosen].tolist(), strict=True)]
        smallest: dict[int, str] = {}
        for doc_id, label in pairs:
            if label not in smallest or doc_id < smallest[label]:
                smallest[label] = doc_id
        for doc_id, label in pairs:
            result[doc_id] = smallest[label] if sizes[label] > 1 else None
        for member, group in result.items():
            if group is None:
                self.groups.pop(member, None)
            else:
                self.groups[member] = group
        return result
