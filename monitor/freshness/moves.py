"""Moved content: orphaned chunks whose text lives on in a current, unindexed document.

Matched first by the source hash a chunk recorded, then by its text, found verbatim in
one of the candidates through an anchor index; remembered like the other text checks.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

from monitor.errors import SourceFileError
from monitor.freshness.states import ChunkClass, ChunkInfo, DocClass, DocumentState
from monitor.freshness.textchecks import TextChecks
from monitor.records import SourceDocument


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
    texts = checker.chunk_texts([i for s in misses for i in orphans[s]]) if misses else {}
    out: dict[str, dict[str, str]] = {}
    anchors: _Anchors | None = None  # built at the first source not remembered
    for source, infos in orphans.items():
        if keys[source] in stored:
            found = dict(stored[keys[source]])
        else:
            if anchors is None:
                anchors = _candidate_anchors(candidates, docs, checker)
            found = {}
            for info in infos:
                text = texts.get(info.id)
                target = anchors.find(text) if text else None
                if target is not None:
                    found[info.id] = target
        checker.remember(keys[source], found)
        out[source] = found
    return out


def _candidate_anchors(
    candidates: list[str], docs: Mapping[str, SourceDocument], checker: TextChecks
) -> _Anchors:
    """An index of where text occurs among the unindexed documents."""
    texts = {}
    for doc_id in candidates:
        try:
            texts[doc_id] = checker.source_text(docs[doc_id])
        except SourceFileError as exc:
            checker.failed[doc_id] = exc.reason  # not a candidate: nothing to find in it
    return _Anchors(texts)
