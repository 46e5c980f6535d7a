"""Verdicts that need text: chunk text against its source, orphaned text against new files.

Both are remembered by a hash of every input they depend on, so an audit of unchanged
sources and chunks reads no source file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar

from monitor.config import FreshnessConfig
from monitor.errors import SourceFileError
from monitor.freshness.alignment import (
    ALIGNED,
    GONE,
    VERBATIM,
    Located,
    SourceText,
    coverage,
    has_tags,
    largest_gap,
    match_words,
)
from monitor.freshness.spool import TextSpool
from monitor.freshness.states import ChunkClass, ChunkInfo, DocumentState, stale_age
from monitor.ports import SourceCatalog, VectorStore
from monitor.records import SourceDocument
from monitor.text import normalise

VERSION = 6
"""Part of every remembered verdict's key: bump it when the way verdicts are made changes."""

_FETCH = 2000
"""Chunks whose text one store request fetches."""
MIN_UNEMBEDDED = 200
"""Characters (whitespace aside) in one stretch no current chunk covers that make a
document partially indexed whatever its coverage share: text appended or inserted since
the chunks were cut (splitters drop separators and headings, never a paragraph)."""

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
        spool: TextSpool | None = None,
    ):
        self._catalog, self._store, self._settings = catalog, store, settings
        self._memo_get, self._memos = memo_get, memos
        self._now = now
        self._spool = spool
        self._texts: dict[str, str] = {}
        self.failed: dict[str, str] = {}
        """Documents that could not be read since the scan listed them, with the reason."""

    def source_text(self, doc: SourceDocument) -> str:
        if doc.id not in self._texts:
            self._texts[doc.id] = normalise(self._catalog.read_text(doc))
        return self._texts[doc.id]

    def chunk_texts(self, infos: Sequence[ChunkInfo]) -> dict[str, str]:
        """The normalised text of the chunks ``infos``."""
        return {k: normalise(v) for k, v in self.chunk_texts_raw(infos).items()}

    def chunk_texts_raw(self, infos: Sequence[ChunkInfo]) -> dict[str, str]:
        """The stored text of the chunks ``infos``, as stored: from the spool where the
        scan left it there, else fetched from the store."""
        out: dict[str, str] = {}
        if self._spool is not None:
            out = self._spool.get_many((i.id, i.text_at) for i in infos if i.text_at)
        ids = [i.id for i in infos if i.id not in out]
        for start in range(0, len(ids), _FETCH):
            out.update((c.id, c.text or "") for c in self._store.get(ids[start : start + _FETCH]))
        return out

    def key(self, *parts: object) -> str:
        blob = "\x1f".join(map(str, (VERSION, *parts, self._settings.fuzzy_threshold)))
        return hashlib.sha256(blob.encode()).hexdigest()

    def remembered(self, keys: Iterable[str]) -> Mapping[str, Any]:
        # Kept as one JSON text each (see `remember`).
        return {
            k: json.loads(v) if isinstance(v, str) else v for k, v in self._memo_get(keys).items()
        }

    def remember(self, key: str, value: Any) -> None:
        """Keep ``value`` for the next audit (hits are kept too, so they do not expire).

        Stored as one JSON text: the history then writes one string per entry instead of
        converting a tree of lists and dicts per chunk."""
        self._memos[key] = json.dumps(value, separators=(",", ":"))

    def run(
        self,
        states: dict[str, DocumentState],
        groups: Mapping[str, list[ChunkInfo]],
        docs: Mapping[str, SourceDocument],
    ) -> TextMode:
        """Judge every chunk that carries text to check; return the collection's text mode."""
        pending = {
            doc_id: [i for i in groups[doc_id] if i.text_sha256]
            for doc_id in groups
            if doc_id in docs
        }
        pending = {k: v for k, v in pending.items() if v}
        keys = {
            doc_id: self.key(docs[doc_id].sha256, *sorted(f"{i.id}:{i.text_sha256}" for i in infos))
            for doc_id, infos in pending.items()
        }
        stored = self.remembered(keys.values())
        found = {k: stored[keys[k]] for k in pending if keys[k] in stored}
        misses = [k for k in pending if k not in found]
        # The chunks' text is fetched for many documents at once: one store round trip
        # per ~2,000 chunks, not one per document.
        start = 0
        while start < len(misses):
            batch: list[str] = []
            size = 0
            while start < len(misses) and (not batch or size < _FETCH):
                batch.append(misses[start])
                size += len(pending[misses[start]])
                start += 1
            texts = self.chunk_texts_raw([i for k in batch for i in pending[k]])
            for doc_id in batch:
                try:
                    found[doc_id] = self._check(docs[doc_id], pending[doc_id], texts)
                except SourceFileError as exc:
                    self.failed[doc_id] = exc.reason
        for doc_id in found:
            self.remember(keys[doc_id], found[doc_id])
        # Verdicts stay in their JSON form; only those of chunks not found verbatim (the
        # few) become `Located`.
        mode = TextMode.decide(
            (v[0], bool(v[5])) for verdict in found.values() for v in verdict["chunks"].values()
        )
        mode = replace(mode, by_offsets=sum(v.get("by_offsets", 0) for v in found.values()))
        for doc_id, infos in pending.items():
            state = states[doc_id]
            if doc_id in self.failed:
                # Listed by the scan, unreadable now (deleted, replaced): no verdict,
                # and certainly not orphaned; the next run sees what it has become.
                state.unreadable(self.failed[doc_id], [i.id for i in infos])
                continue
            chunks, spans = found[doc_id]["chunks"], []
            for info in infos:
                raw = chunks[info.id]
                if raw[0] == VERBATIM:
                    state.add(ChunkClass.FRESH, info.id, "exact")
                    if raw[1] is not None:
                        spans.append((int(raw[1][0]), int(raw[1][1])))
                    continue
                where = Located.from_json(raw)
                present = where.kind == VERBATIM or (mode.tolerant and where.tolerant)
                if where.kind == VERBATIM:
                    state.add(ChunkClass.FRESH, info.id, "exact")
                elif present:
                    state.add(ChunkClass.FRESH, info.id, "tolerant-fuzzy")
                else:
                    rule = "edited" if where.kind == ALIGNED else "text-gone"
                    state.add(ChunkClass.STALE, info.id, rule)
                    state.stale_ages.append(stale_age(docs[doc_id], info.embedded_at, self._now))
                    if where.kind == ALIGNED:
                        diff = where.content_diff if mode.tolerant else where.diff
                        state.edits[info.id] = (round(where.changed_share, 4), diff)
                if present and where.span is not None:
                    spans.append(where.span)
            # Only text the chunks cover as it stands today counts as covered.
            length = found[doc_id]["length"]
            state.coverage = round(coverage(spans, length), 4)
            if len(spans) == len(infos):
                # Every chunk is current, yet this much text is in none of them.
                gap = largest_gap(spans, length)
                state.unembedded = gap if gap >= MIN_UNEMBEDDED else 0
        return mode

    def _check(
        self, doc: SourceDocument, infos: list[ChunkInfo], texts: Mapping[str, str]
    ) -> dict[str, Any]:
        """Locate each chunk in the source; chunks with tags in the rendering that keeps them."""
        threshold = self._settings.fuzzy_threshold
        tagged = {i.id for i in infos if has_tags(texts.get(i.id, ""))}
        html = doc.path.suffix.lower() in (".html", ".htm")
        body = self._catalog.read_text(doc)
        plain = SourceText(match_words(body, strip_tags=True))
        raw, raw_text = plain, body
        if tagged:
            raw_text = self._catalog.read_text(doc, markup=True) if html else body
            raw = SourceText(match_words(raw_text))
        # Without tags in the text (always so for an HTML page's text) both renderings have
        # the same words; with them, the one that keeps tags is built when first needed.
        markup = has_tags(body)
        kept: list[SourceText] = [raw] if tagged else []

        def unstripped() -> SourceText:
            if not kept:
                kept.append(SourceText(match_words(raw_text)))
            return kept[0]

        # Coverage is measured on the rendering most chunks were cut from.
        main = raw if 2 * len(tagged) > len(infos) else plain
        hints = _compact_starts(
            raw_text if main is raw else body,
            strip_tags=main is plain,
            starts=[(i.char_start, i.id) for i in infos if i.char_start is not None],
        )
        chunks: dict[str, Any] = {}
        by_offsets = 0
        for info in infos:
            source = raw if info.id in tagged else plain
            text = texts.get(info.id, "")
            words = match_words(text)
            if source is main:
                # The common case, verbatim in the rendering coverage is measured on: as
                # `SourceText.locate` finds it, without building a `Located`. Where the
                # store recorded the chunk's place (LlamaIndex) and its text is still
                # there, no search; anywhere else (the file shifted, or changed) the search.
                compact = "".join(words)
                at = hints.get(info.id)
                if at is not None and compact and main.compact.startswith(compact, at):
                    start = at
                    by_offsets += 1
                else:
                    start = main.compact.find(compact) if compact else 0
                if start >= 0:
                    span = [start, start + len(compact)] if compact else None
                    chunks[info.id] = [VERBATIM, span, 0.0, "", "", False]
                    continue
            where = source.locate(words, threshold=threshold)
            if where.kind != VERBATIM and markup:
                # The other rendering may hold the chunk better: a chunk cut inside an HTML
                # comment keeps text that stripping removes from the source, and a chunk
                # with tags may come from a page whose loader kept only some of them.
                alt = plain if source is not plain else unstripped()
                there = alt.locate(match_words(text, strip_tags=alt is plain), threshold=threshold)
                if _closer(there, where):
                    where, source = there, alt
            if source is not main and where.span is not None:
                # Its span in the rendering coverage is measured on, where there is one.
                other = main.locate(
                    match_words(text, strip_tags=main is plain), threshold=threshold
                )
                # A chunk found with edits only counts where the edits are the same; one
                # verbatim in its rendering counts wherever its words are.
                same = other.kind == where.kind or (where.kind == VERBATIM and other.kind != GONE)
                where = Located(
                    kind=where.kind,
                    span=other.span if same else None,
                    changed_share=where.changed_share,
                    diff=where.diff,
                    content_diff=where.content_diff,
                    tolerant=where.tolerant,
                )
            chunks[info.id] = where.to_json()
        return {"chunks": chunks, "length": main.length, "by_offsets": by_offsets}


def _closer(one: Located, other: Located) -> bool:
    """Whether ``one`` places a chunk better than ``other``: verbatim over found with
    edits over gone; among chunks found with edits, fewer changed words."""
    rank = {VERBATIM: 0, ALIGNED: 1, GONE: 2}
    if rank[one.kind] != rank[other.kind]:
        return rank[one.kind] < rank[other.kind]
    return one.kind == ALIGNED and one.changed_share < other.changed_share


def _compact_starts(
    text: str, *, strip_tags: bool, starts: list[tuple[int, str]]
) -> dict[str, int]:
    """Each chunk's recorded start in ``text`` (characters) as an offset into the compact
    rendering (`SourceText.compact` of `match_words` of ``text``), by chunk id.

    Measured piece by piece between consecutive starts, so one pass over the text for all
    chunks. A tag or a combining sequence cut by a start can make an offset wrong; the
    caller verifies every offset against the text, so a wrong one only costs a search.
    """
    out: dict[str, int] = {}
    position = offset = 0
    for start, chunk_id in sorted(starts):
        if start > len(text):
            break
        offset += sum(map(len, match_words(text[position:start], strip_tags=strip_tags)))
        position = start
        out[chunk_id] = offset
    return out


@dataclass(frozen=True, kw_only=True, slots=True)
class TextMode:
    """How a collection's chunk text compares with its sources, over every checked chunk.

    A loader that rewrites text (PDF extraction, HTML to markdown) leaves almost no chunk
    verbatim while most still align closely. Such a collection is judged by the tolerant
    rule (``tolerant-fuzzy``: the same words once punctuation and markup are set aside),
    and says so; every other collection by the verbatim rule.
    """

    checked: int = 0
    verbatim: int = 0
    close: int = 0
    """Chunks found with edits whose words, without punctuation and markup, agree."""
    tolerant: bool = False
    by_offsets: int = 0
    """Verbatim chunks found at the place the store recorded (LlamaIndex), without a search."""

    MIN_CHUNKS: ClassVar[int] = 10
    MAX_VERBATIM: ClassVar[float] = 0.1
    MIN_CLOSE: ClassVar[float] = 0.5

    @classmethod
    def decide(cls, located: Iterable[tuple[str, bool]]) -> TextMode:
        """The mode for chunks located as ``(kind, tolerant)`` (see `Located`)."""
        checked = verbatim = close = 0
        for kind, tolerant in located:
            checked += 1
            verbatim += kind == VERBATIM
            close += kind == ALIGNED and tolerant
        rewritten = (
            checked >= cls.MIN_CHUNKS
            and verbatim <= cls.MAX_VERBATIM * checked
            and close >= cls.MIN_CLOSE * checked
        )
        return cls(checked=checked, verbatim=verbatim, close=close, tolerant=rewritten)

    @property
    def rule(self) -> str:
        return "tolerant-fuzzy" if self.tolerant else "verbatim"

    def describe(self) -> str:
        """One sentence for findings and the report."""
        if not self.tolerant:
            return (
                f"{self.verbatim} of {self.checked} text-checked chunks occur verbatim in "
                "their sources"
            )
        return (
            f"the loader rewrote this collection's text: {self.verbatim} of {self.checked} "
            f"text-checked chunks occur verbatim, {self.close} align closely; chunks are "
            "judged by the tolerant rule (tolerant-fuzzy: same words, punctuation and markup "
            "aside), so small edits may pass as fresh"
        )
