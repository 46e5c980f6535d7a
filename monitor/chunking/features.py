"""Per-chunk features, computed page by page as the collection streams past.

Each chunk becomes one row of a columnar `FeatureTable` (lengths, the characters inside
the model's window, flags); what needs the whole collection (cut inside a word,
boilerplate, duplicates) is settled in `FeatureScanner.finish`. Chunk text is not kept,
only one example chunk per document.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import numpy as np

from monitor.chunking import boundaries, junk
from monitor.chunking.boilerplate import LineCounter, RepeatedLine
from monitor.chunking.duplicates import MinHasher
from monitor.chunking.settings import ChunkingQualitySettings
from monitor.chunking.tokens import WindowTokenizer
from monitor.provenance import MetadataMapping
from monitor.records import Chunk

FLAGS: tuple[str, ...] = (
    "truncated",
    "mid_sentence_start",
    "mid_sentence_end",
    "cut_in_word",
    "table_row_cut",
    "code_block_cut",
    "fragment",
    "heading_only",
    "junk",
    "boilerplate",
    "duplicate_exact",
    "duplicate_near",
)
"""Per-chunk yes/no features, in bit order."""
BIT = {name: 1 << i for i, name in enumerate(FLAGS)}
NO_SOURCE = "(no source)"
EXAMPLE_CHARS = 240
VOCABULARY_FULL = 5_000
"""Chunks whose every word enters the vocabulary; after them, every sixteenth chunk."""
_WORDS = re.compile(r"\w+")
_LEADING = re.compile(r"^\w+")
_TRAILING = re.compile(r"\w+$")
# What makes a chunk a document's worst example, by flag.
_WEIGHTS = {
    "truncated": 8,
    "junk": 4,
    "code_block_cut": 2,
    "table_row_cut": 2,
    "mid_sentence_end": 2,
    "mid_sentence_start": 2,
    "fragment": 1,
    "heading_only": 1,
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Example:
    """One chunk shown for a document: its id, head and tail, size and flags."""

    chunk_id: str
    head: str
    tail: str
    """The last characters when the chunk is longer than head and tail together, else ''."""
    chars: int
    tokens: int
    flags: tuple[str, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class FeatureTable:
    """Every chunk's features, as columns; ``document[i]`` indexes ``documents``."""

    documents: tuple[str, ...]
    document: np.ndarray
    chars: np.ndarray
    tokens: np.ndarray
    embedded_chars: np.ndarray
    invisible_chars: np.ndarray
    mojibake: np.ndarray
    flags: np.ndarray
    sampled: np.ndarray
    """Chunks in the deterministic sample kept for the distribution tests."""
    embedded_at: dict[int, float] = field(default_factory=dict)
    """Per document number: the newest embedding time (POSIX seconds) of its chunks."""
    examples: dict[int, Example] = field(default_factory=dict)
    boilerplate: tuple[RepeatedLine, ...] = ()
    without_text: int = 0
    window: int = 0

    def has(self, flag: str) -> np.ndarray:
        return (self.flags & BIT[flag]) != 0


class FeatureScanner:
    """Turns pages of chunks into a `FeatureTable`; memory grows with a few numbers per chunk."""

    def __init__(
        self,
        tokenizer: WindowTokenizer,
        settings: ChunkingQualitySettings,
        mapping: MetadataMapping,
        *,
        expected: int = 0,
        resolve: Callable[[str], str] | None = None,
    ):
        self._tok = tokenizer
        self._settings = settings
        self._mapping = mapping
        self._resolve = resolve
        """Recorded source -> the document's name in reports (path rewrites applied)."""
        # A chunk is sampled when the CRC of its text falls below this: the same text is
        # sampled in every run, whatever its id or position.
        rate = min(1.0, settings.sample_size / expected) if expected else 1.0
        self._sample_below = int(rate * 2**32)
        self._doc_index: dict[str, int] = {}
        self._columns: dict[str, list[int]] = {
            k: []
            for k in (
                "document",
                "chars",
                "tokens",
                "embedded",
                "invisible",
                "mojibake",
                "flags",
                "sampled",
                "text_hash",
            )
        }
        self._embedded_at: dict[int, float] = {}
        self._examples: dict[int, tuple[int, int, Example]] = {}
        self._edges: list[tuple[int, str]] = []
        self._vocabulary: set[str] = set()
        self._lines = LineCounter()
        self._minhash = MinHasher()
        self._without_text = 0
        self._seen = 0

    def add(self, page: list[Chunk]) -> None:
        """Compute the features of one page of chunks."""
        texts = [c.text or "" for c in page]
        words = [t.split() for t in texts]
        counted = self._tok.count(texts, words)
        window = self._tok.window
        min_tokens = self._settings.min_useful_tokens
        cols = self._columns
        for i, chunk in enumerate(page):
            text = texts[i]
            number = self._seen + i
            provenance = self._mapping.provenance(chunk)
            source = provenance.source
            if source and self._resolve is not None:
                source = self._resolve(source)
            doc = self._doc_index.setdefault(source or NO_SOURCE, len(self._doc_index))
            if provenance.embedded_at is not None:
                when = provenance.embedded_at.timestamp()
                if when > self._embedded_at.get(doc, -math.inf):
                    self._embedded_at[doc] = when
            tokens = counted.tokens[i]
            flags = 0
            if not text.strip():
                self._without_text += 1
            else:
                if tokens > window:
                    flags |= BIT["truncated"]
                if boundaries.starts_mid_sentence(text):
                    flags |= BIT["mid_sentence_start"]
                    if text.lstrip()[0].islower() and (lead := _LEADING.match(text.lstrip())):
                        self._edges.append((number, lead.group().lower()))
                if boundaries.ends_mid_sentence(text):
                    flags |= BIT["mid_sentence_end"]
                    if trail := _TRAILING.search(text.rstrip()):
                        self._edges.append((number, trail.group().lower()))
                if boundaries.table_row_cut(text):
                    flags |= BIT["table_row_cut"]
                if boundaries.code_block_cut(text):
                    flags |= BIT["code_block_cut"]
                if tokens < min_tokens:
                    flags |= BIT["fragment"]
                if boundaries.heading_only(text):
                    flags |= BIT["heading_only"] | BIT["fragment"]
            invisible = junk.invisible_chars(text)
            mojibake = junk.mojibake_sequences(text)
            if invisible or mojibake:
                flags |= BIT["junk"]
            if number < VOCABULARY_FULL or number % 16 == 0:
                self._vocabulary.update(_WORDS.findall(text.lower())[1:-1])
            cols["document"].append(doc)
            cols["chars"].append(len(text))
            cols["tokens"].append(tokens)
            cols["embedded"].append(counted.embedded_chars[i])
            cols["invisible"].append(invisible)
            cols["mojibake"].append(mojibake)
            cols["flags"].append(flags)
            cols["sampled"].append(zlib.crc32(text.encode("utf-8", "replace")) < self._sample_below)
            cols["text_hash"].append(hash(" ".join(words[i])))
            self._keep_example(doc, number, chunk.id, text, tokens, flags)
        self._lines.add(texts, self._seen)
        self._minhash.add(words)
        self._seen += len(page)

    def _keep_example(
        self, doc: int, number: int, chunk_id: str, text: str, tokens: int, flags: int
    ) -> None:
        score = sum(w for name, w in _WEIGHTS.items() if flags & BIT[name])
        held = self._examples.get(doc)
        if held is not None and held[0] >= score:
            return
        long = len(text) > 2 * EXAMPLE_CHARS
        self._examples[doc] = (
            score,
            number,
            Example(
                chunk_id=chunk_id,
                head=text[:EXAMPLE_CHARS] if long else text,
                tail=text[-EXAMPLE_CHARS:] if long else "",
                chars=len(text),
                tokens=tokens,
                flags=_names(flags),
            ),
        )

    def finish(self) -> FeatureTable:
        """Settle the collection-wide features and return the table."""
        cols = self._columns
        document = np.array(cols["document"], dtype=np.int64)
        flags = np.array(cols["flags"], dtype=np.int64)
        chars = np.array(cols["chars"], dtype=np.int64)
        empty = chars == 0
        for number, word in self._edges:
            if word not in self._vocabulary and not word.isdigit():
                flags[number] |= BIT["cut_in_word"]
        n = len(document)
        min_chunks = max(
            self._settings.boilerplate_min_chunks,
            math.ceil(self._settings.boilerplate_min_share * n),
        )
        lines, holding = self._lines.boilerplate(
            document,
            min_chunks=min_chunks,
            min_documents=self._settings.boilerplate_min_documents,
        )
        flags[holding] |= BIT["boilerplate"]
        hashes = np.array(cols["text_hash"], dtype=np.int64)
        _, first, counts = np.unique(hashes, return_index=True, return_counts=True)
        repeated = np.ones(n, dtype=bool)
        repeated[first] = False  # the first copy of a text is not a duplicate of another
        flags[repeated & ~empty] |= BIT["duplicate_exact"]
        near = self._minhash.near_duplicates(self._settings.near_duplicate_jaccard, empty)
        flags[near & ~repeated_all(hashes, counts, first)] |= BIT["duplicate_near"]
        # Examples carry their final flags, those settled only now included.
        examples = {
            doc: replace(example, flags=_names(int(flags[number])))
            for doc, (_score, number, example) in self._examples.items()
        }
        return FeatureTable(
            documents=tuple(self._doc_index),
            document=document,
            chars=chars,
            tokens=np.array(cols["tokens"], dtype=np.int64),
            embedded_chars=np.array(cols["embedded"], dtype=np.int64),
            invisible_chars=np.array(cols["invisible"], dtype=np.int64),
            mojibake=np.array(cols["mojibake"], dtype=np.int64),
            flags=flags,
            sampled=np.array(cols["sampled"], dtype=bool),
            embedded_at=dict(self._embedded_at),
            examples=examples,
            boilerplate=tuple(lines),
            without_text=self._without_text,
            window=self._tok.window,
        )


def repeated_all(hashes: np.ndarray, counts: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Per chunk: its text occurs more than once (every copy, the first included)."""
    multi = np.zeros(len(hashes), dtype=bool)
    if len(hashes):
        copies = hashes[first[counts > 1]]
        multi = np.isin(hashes, copies)
    return multi


def scan(
    pages: Iterable[list[Chunk]],
    tokenizer: WindowTokenizer,
    settings: ChunkingQualitySettings,
    mapping: MetadataMapping,
    *,
    expected: int = 0,
    resolve: Callable[[str], str] | None = None,
) -> FeatureTable:
    """Stream ``pages`` through a `FeatureScanner`; documents are named by ``resolve``
    of their recorded source (as the freshness audit names them) when given."""
    scanner = FeatureScanner(tokenizer, settings, mapping, expected=expected, resolve=resolve)
    for page in pages:
        scanner.add(page)
    return scanner.finish()


def _names(flags: int) -> tuple[str, ...]:
    return tuple(name for name in FLAGS if flags & BIT[name])
