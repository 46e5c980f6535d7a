"""Verdicts that need text: chunk text against its source, orphaned text against new files.

Both are remembered by a hash of every input they depend on, so an audit of unchanged
sources and chunks reads no source file.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from monitor.config import FreshnessConfig
from monitor.errors import SourceFileError
from monitor.freshness.matching import coverage, match_text
from monitor.freshness.states import ChunkClass, ChunkInfo, DocClass, DocumentState, stale_age
from monitor.ports import SourceCatalog, VectorStore
from monitor.records import SourceDocument
from monitor.text import normalise

VERSION = 3
"""Part of every remembered verdict's key: bump it when the way verdicts are made changes."""

MemoGet = Callable[[Iterable[str]], Mapping[str, Any]]


class TextChecks:
    """Text-based verdicts, remembered by a hash of every input they depend on."""

    def __init__(
        self,
        catalog: SourceCatalog,
        store: VectorStore,
        settings: FreshnessConfig,
        memo_get: MemoGet,
        memos: dict[str, Any],
        now: datetime,
    ):
        self._catalog, self._store, self._settings = catalog, store, settings
        self._memo_get, self._memos = memo_get, memos
        self._now = now
        self._texts: dict[str, str] = {}
        self._anchors: _Anchors | None = None
        self.failed: dict[str, str] = {}
        """Documents that could not be read since the scan listed them, with the reason."""

    def source_text(self, doc: SourceDocument) -> str:
        if doc.id not in self._texts:
            self._texts[doc.id] = normalise(self._catalog.read_text(doc))
        return self._texts[doc.id]

    def chunk_texts(self, ids: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            out.update(
                (c.id, normalise(c.text or "")) for c in self._store.get(ids[start : start + 500])
            )
        return out

    def key(self, *parts: object) -> str:
        blob = "\x1f".join(map(str, (VERSION, *parts, self._settings.fuzzy_threshold)))
        return hashlib.sha256(blob.encode()).hexdigest()

    def remembered(self, keys: Iterable[str]) -> Mapping[str, Any]:
        return self._memo_get(keys)

    def anchors(self, ids: list[str], docs: Mapping[str, SourceDocument]) -> _Anchors:
        """An index of where text occurs among the documents ``ids`` (built once per audit)."""
        if self._anchors is None:
            texts = {}
            for doc_id in ids:
                try:
                    texts[doc_id] = self.source_text(docs[doc_id])
                except SourceFileError as exc:
                    self.failed[doc_id] = exc.reason  # not a candidate: nothing to find in it
            self._anchors = _Anchors(texts)
        return self._anchors

    def remember(self, key: str, value: Any) -> None:
        """Keep ``value`` for the next audit (hits are kept too, so they do not expire)."""
        self._memos[key] = value

    def run(
        self,
        states: dict[str, DocumentState],
        groups: Mapping[str, list[ChunkInfo]],
        docs: Mapping[str, SourceDocument],
    ) -> None:
        pending = {
            doc_id: [i for i in groups[doc_id] if i.source_sha256 is None and i.text_sha256]
            for doc_id in groups
            if doc_id in docs
        }
        pending = {k: v for k, v in pending.items() if v}
        keys = {
            doc_id: self.key(docs[doc_id].sha256, *sorted(f"{i.id}:{i.text_sha256}" for i in infos))
            for doc_id, infos in pending.items()
        }
        stored = self.remembered(keys.values())
        for doc_id, infos in pending.items():
            state = states[doc_id]
            verdict = stored.get(keys[doc_id])
            if verdict is None:
                try:
                    verdict = self._check(docs[doc_id], infos)
                except SourceFileError as exc:
                    # Listed by the scan, unreadable now (deleted, replaced): no verdict,
                    # and certainly not orphaned; the next run sees what it has become.
                    self.failed[doc_id] = exc.reason
                    state.unreadable(exc.reason, [i.id for i in infos])
                    continue
            self.remember(keys[doc_id], verdict)
            for info in infos:
                present, rule = verdict["chunks"][info.id]
                if present:
                    state.add(ChunkClass.FRESH, info.id, rule)
                else:
                    state.add(ChunkClass.STALE, info.id, rule)
                    state.stale_ages.append(stale_age(docs[doc_id], info.embedded_at, self._now))
            state.coverage = verdict["coverage"]

    def _check(self, doc: SourceDocument, infos: list[ChunkInfo]) -> dict[str, Any]:
        texts = self.chunk_texts([i.id for i in infos])
        threshold = self._settings.fuzzy_threshold
        variants = [self.source_text(doc)]
        if doc.path.suffix.lower() in (".html", ".htm"):
            # Some ingesters embed the page as extracted text, others with its tags.
            variants.append(normalise(self._catalog.read_text(doc, markup=True)))
        # The rendering that most chunks were cut from decides (the first on a tie).
        tried = [self._against(variant, infos, texts, threshold) for variant in variants]
        best = max(tried, key=lambda t: t["present"])
        return {"chunks": best["chunks"], "coverage": round(best["coverage"], 4)}

    @staticmethod
    def _against(
        source: str, infos: list[ChunkInfo], texts: Mapping[str, str], threshold: float
    ) -> dict[str, Any]:
        """Every chunk's verdict against one rendering of the source, and its coverage."""
        verdicts: dict[str, tuple[bool, str]] = {}
        spans = []
        for info in infos:
            found = match_text(texts.get(info.id, ""), source, threshold=threshold)
            verdicts[info.id] = (found.present, found.rule)
            if found.present and found.span:
                spans.append(found.span)
        return {
            "chunks": verdicts,
            "coverage": coverage(spans, len(source)),
            "present": sum(1 for present, _ in verdicts.values() if present),
        }


def find_moves(
    states: dict[str, DocumentState],
    groups: Mapping[str, list[ChunkInfo]],
    docs: Mapping[str, SourceDocument],
    checker: TextChecks,
) -> None:
    """Orphaned chunks whose content lives on in a current, unindexed document: moved.

    Only unindexed documents are candidates: content that is indexed elsewhere already
    makes the orphans plain duplicates, to be deleted.
    """
    unindexed = sorted(k for k, s in states.items() if s.status is DocClass.MISSING)
    by_sha = {docs[k].sha256: k for k in unindexed}
    orphans = [k for k, s in states.items() if s.status is DocClass.ORPHANED]
    moves: dict[str, dict[str, str]] = {}
    unmatched: dict[str, list[ChunkInfo]] = {}
    for source in orphans:
        infos = groups[source]
        moves[source] = {i.id: by_sha[i.source_sha256] for i in infos if i.source_sha256 in by_sha}
        rest = [i for i in infos if i.id not in moves[source]]
        if rest and unindexed:
            unmatched[source] = rest
    for source, found in _text_moves(unmatched, unindexed, docs, checker).items():
        moves[source].update(found)
    for source in orphans:
        state, infos, targets = states[source], groups[source], moves[source]
        if not targets:
            continue
        state.chunks = {}
        state.rules = Counter()
        for info in infos:
            if info.id in targets:
                state.add(ChunkClass.MOVED, info.id, "same-content")
            else:
                state.add(ChunkClass.ORPHANED, info.id, "source-gone")
        destination = Counter(targets.values()).most_common(1)[0][0]
        state.moved_to = destination
        if len(targets) == len(infos):
            state.status = DocClass.MOVED
        target_state = states[destination]
        if target_state.status is DocClass.MISSING:
            target_state.status = DocClass.MOVED
            target_state.moved_from = source


class _Anchors:
    """Finds which of many documents contains a text verbatim, without scanning them all.

    Every `STRIDE`-th word start of each document is indexed by the hash of the `WIDTH`
    characters from there. A text of enough words starts, after its first word (which may
    be cut), `STRIDE` consecutive words of which one is indexed wherever the text occurs;
    the few documents those hashes name are confirmed with a plain substring test. Memory
    is a dict entry per `STRIDE` words of the candidates.
    """

    WIDTH = 40
    STRIDE = 8

    def __init__(self, texts: Mapping[str, str]):
        self._texts = texts
        self._index: dict[int, set[str]] = defaultdict(set)
        for doc_id, text in texts.items():
            for n, start in enumerate(_word_starts(text)):
                window = text[start : start + self.WIDTH]
                if n % self.STRIDE == 0 and len(window) == self.WIDTH:
                    self._index[hash(window)].add(doc_id)

    def find(self, text: str) -> str | None:
        starts = list(itertools.islice(_word_starts(text), 1, 1 + self.STRIDE))
        windows = [text[s : s + self.WIDTH] for s in starts]
        if len(windows) == self.STRIDE and all(len(w) == self.WIDTH for w in windows):
            candidates = sorted({d for w in windows for d in self._index.get(hash(w), ())})
        else:
            candidates = sorted(self._texts)  # too short to index: check each
        return next((c for c in candidates if text in self._texts[c]), None)


def _word_starts(text: str) -> Iterable[int]:
    if text and not text[0].isspace():
        yield 0
    position = text.find(" ")
    while position >= 0:
        yield position + 1
        position = text.find(" ", position + 1)


def _text_moves(
    orphans: Mapping[str, list[ChunkInfo]],
    candidates: list[str],
    docs: Mapping[str, SourceDocument],
    checker: TextChecks,
) -> dict[str, dict[str, str]]:
    """Per orphaned source, which of its chunks' text occurs in which unindexed document.

    Remembered per source; what is not remembered is checked with one batched fetch of
    the chunks' text and one index over the candidates' text.
    """
    if not orphans:
        return {}
    candidate_part = [f"{c}:{docs[c].sha256}" for c in candidates]
    keys = {
        source: checker.key(
            "moved",
            source,
            *sorted(f"{i.id}:{i.text_sha256 or i.source_sha256}" for i in infos),
            *candidate_part,
        )
        for source, infos in orphans.items()
    }
    stored = checker.remembered(keys.values())
    misses = [source for source in orphans if keys[source] not in stored]
    texts = checker.chunk_texts([i.id for s in misses for i in orphans[s]]) if misses else {}
    out: dict[str, dict[str, str]] = {}
    for source, infos in orphans.items():
        if keys[source] in stored:
            found = dict(stored[keys[source]])
        else:
            anchors = checker.anchors(candidates, docs)
            found = {}
            for info in infos:
                text = texts.get(info.id)
                target = anchors.find(text) if text else None
                if target is not None:
                    found[info.id] = target
        checker.remember(keys[source], found)
        out[source] = found
    return out
