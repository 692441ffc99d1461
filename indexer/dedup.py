"""Near-duplicate detection: MinHash signatures of word shingles, candidates from LSH.

Portals syndicate one article under their own boilerplate, sometimes with an editor's note
added. Such copies share most word 4-grams (Jaccard ~0.6-0.95 on our fixtures), while two
different articles about the same procedure share almost none (<0.1), so one threshold in
between separates them with a wide margin (see tests/test_dedup.py for the measured values).

Groups are the connected components of "estimated Jaccard >= THRESHOLD"; a group's id is its
smallest document id, so it is stable whichever copy arrives first. Signatures persist in the
index directory, so an incremental run only hashes new or changed documents.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

from indexer.analysis import CJK_CHARS, fold

NUM_PERM = 64        # signature length: +-0.06 standard error on Jaccard, 256 bytes per doc
SHINGLE = 4          # words per shingle (CJK: characters per shingle, see _units)
THRESHOLD = 0.5      # estimated Jaccard at or above which two documents are one group
MIN_SHINGLES = 8     # shorter texts are never grouped (a title-only stub matches too much)
SEED = 7
SCHEME = "affine32"  # datasketch 2 permutation scheme; 32-bit hash values
STATE_FILE = "dedup.npz"

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
    mh = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME)
    mh.update_batch([s.encode("utf-8") for s in sh])
    return mh.hashvalues.astype(np.uint32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.mean(a == b))


class DupIndex:
    """Signatures and groups of every live document; loaded from and saved to a directory."""

    def __init__(self) -> None:
        self.sigs: dict[str, np.ndarray] = {}
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
                ids = [str(i) for i in data["ids"]]
                sigs = data["sigs"]
                groups = json.loads(str(data["groups"]))
        except (OSError, ValueError, KeyError):
            return cls()  # unreadable state only costs a re-hash
        dup.sigs = {i: sigs[n] for n, i in enumerate(ids)}
        dup.groups = {k: v for k, v in groups.items() if k in dup.sigs}
        return dup

    def save(self, directory: Path) -> None:
        """Write atomically (temp file + rename): a kill leaves the old state or the new one."""
        directory = Path(directory)
        ids = sorted(self.sigs)
        sigs = (np.stack([self.sigs[i] for i in ids]) if ids
                else np.zeros((0, NUM_PERM), dtype=np.uint32))
        tmp = directory / f".{STATE_FILE}.{os.getpid()}.tmp.npz"
        np.savez(tmp, ids=np.array(ids, dtype=str), sigs=sigs,
                 groups=np.array(json.dumps(self.groups, sort_keys=True)))
        os.replace(tmp, directory / STATE_FILE)

    # ------------------------------------------------------------------ grouping
    def update(self, changed: Iterable[tuple[str, str | None]]) -> dict[str, str | None]:
        """Apply (doc id, text or None for deleted) changes; returns new group ids by doc id.

        Only the components touched by a change are recomputed: the changed documents, the
        members of their old groups, and everything LSH links to those.
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
                self.sigs.pop(doc_id, None)
            else:
                self.sigs[doc_id] = sig
        return self._regroup(seeds)

    def _regroup(self, seeds: set[str]) -> dict[str, str | None]:
        lsh = self._lsh()
        seen: set[str] = set()
        result: dict[str, str | None] = {}
        for seed in sorted(seeds):
            if seed in seen:
                continue
            component = self._component(seed, lsh, seen)
            group = min(component) if len(component) > 1 else None
            for member in component:
                result[member] = group
                if group is None:
                    self.groups.pop(member, None)
                else:
                    self.groups[member] = group
        return result

    def _lsh(self) -> MinHashLSH:
        lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
        with lsh.insertion_session() as session:
            for doc_id, sig in self.sigs.items():
                session.insert(doc_id, self._lean(sig), check_duplication=False)
        return lsh

    @staticmethod
    def _lean(sig: np.ndarray) -> LeanMinHash:
        return LeanMinHash(seed=SEED, hashvalues=sig, scheme=SCHEME)

    def _component(self, seed: str, lsh: MinHashLSH, seen: set[str]) -> set[str]:
        """Documents connected to ``seed`` by verified near-duplicate links (breadth first)."""
        component, frontier = {seed}, [seed]
        seen.add(seed)
        while frontier:
            node = frontier.pop()
            sig = self.sigs.get(node)
            if sig is None:
                continue
            for other in lsh.query(self._lean(sig)):
                if other in seen or similarity(sig, self.sigs[other]) < THRESHOLD:
                    continue
                seen.add(other)
                component.add(other)
                frontier.append(other)
        return component
