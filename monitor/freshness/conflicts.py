"""Conflicting duplicates: near-identical chunks from different sources that disagree on a value.

"Full-time employees receive 20 days of paid vacation" in the policy and "... 15 days ..."
in an outdated FAQ both get retrieved for the same question; the model picks one. Candidates
come from the store's own vector index (each chunk's nearest neighbours), never from an
all-pairs scan, so the cost grows with the number of chunks times ``neighbours``.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rapidfuzz import fuzz

from monitor.ports import VectorStore
from monitor.records import Chunk
from monitor.text import normalise

log = logging.getLogger(__name__)

_QUERY_BATCH = 256
_PLACEHOLDER = "<V>"

# Capitalised only: "may" the verb must not turn "you may 3 times" into a date.
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\b\.?"
)
_NUMBER = r"\d+(?:[.,]\d+)*"
_CURRENCY = r"(?:[$€£¥₹]|\b(?:USD|EUR|GBP|CHF|JPY|CAD|AUD|INR|CNY|SEK|NOK|DKK|PLN)\b)"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?(?!\d)"
# Longest forms first: a date or an amount is one value, not two or three numbers.
_VALUE = re.compile(
    rf"""(?<![\w.,])(?:
        \d{{4}}-\d{{2}}-\d{{2}}(?!\d)                      # 2024-05-01
      | {_DAY}\s+{_MONTH}(?:,?\s+\d{{4}}(?!\d))?         # 14 June 2022
      | {_MONTH}\s+(?:{_DAY}(?:,?\s+\d{{4}}(?!\d))?|\d{{4}}(?!\d))  # June 14, 2022 / June 2022
      | {_CURRENCY}\s?{_NUMBER}                          # $1,200 / EUR 300
      | {_NUMBER}\s?(?:{_CURRENCY}|%|percent\b)          # 300 EUR / 4.5%
      | {_NUMBER}
    )""",
    re.VERBOSE,
)
_MONTH_NAME = re.compile(_MONTH)
_ID_PLACEHOLDER = "<ID>"
# Identifiers, not quantities: two sentences that name different ones talk about
# different things (acme-6.1.0 vs acme-6.2.5, issue #12 vs #13), so they never conflict.
_IDENTIFIER = re.compile(
    r"""(?:
        (?:https?|ftp|file)://\S+ | www\.\S+                         # URLs
      | `[^`\n]+`                                                   # inline code
      | :[a-z]+:`[^`]+`                                             # rst roles
      | \b[\w.+-]*\d+(?:\.\d+){1,}(?:[-.+]?[0-9A-Za-z]+)*            # versions 6.1.0, acme-6.2.5
      | \bv\d+(?:\.\d+)*\b                                          # v2, v2.3
      | (?<![\w&])\#\d+\b | \b(?:GH|gh|PR|pr)[-\s]?\#?\d+\b            # issues: #123, GH-12
      | \b[A-Z][A-Z0-9]+-\d+\b                                       # tickets: PROJ-123
      | \b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b          # commit hashes
      | \blines?\s+\d+(?:\s*[-–]\s*\d+)?\b | \b[\w/.-]+\.\w+:\d+\b    # line numbers
    )""",
    re.VERBOSE,
)
_CODE_FENCE = re.compile(r"(?ms)^[ \t]*(```|~~~).*?(?:^[ \t]*\1[^\n]*$|\Z)")
_CONSOLE_LINE = re.compile(
    r"(?m)^(?:[ \t]*(?:\$|>>>|\.\.\.|%|#!|C:\\>)[ \t].*|(?: {4}|\t).*|.*(?:={3,}|-{3,}).*)$"
)
_WORD = re.compile(r"[^\W\d_]{2,}")
MIN_OWN_WORDS = 4
"""Words (two letters or more, values and identifiers aside) a sentence needs to state a fact."""
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


@dataclass(frozen=True, kw_only=True, slots=True)
class Conflict:
    """Two near-identical chunks from different sources whose sentences disagree on a value."""

    chunk_ids: tuple[str, str]
    """Ordered so ``chunk_ids[0] < chunk_ids[1]``; the other fields follow the same order."""
    source_ids: tuple[str, str]
    sentences: tuple[str, str]
    """The conflicting sentence as it appears in each chunk (outer whitespace stripped)."""
    values: tuple[tuple[str, ...], tuple[str, ...]]
    """The numbers, dates and amounts that differ, per side, in order of appearance."""
    similarity: float
    """Cosine similarity of the two chunks' stored vectors."""
    templates: tuple[str, str] = ("", "")
    """Each sentence with its values masked (``<V>``): what groups pairs into one finding."""


@dataclass(frozen=True, kw_only=True, slots=True)
class _Sentence:
    text: str
    masked: str
    values: tuple[str, ...]
    keys: tuple[str, ...]
    """Canonical form of each value, so "300 EUR" and "300EUR" compare equal."""
    identifiers: tuple[str, ...] = ()


def find_conflicts(
    store: VectorStore,
    chunks: Sequence[Chunk],
    source_of: Callable[[Mapping[str, Any]], str | None],
    *,
    neighbours: int = 5,
    min_cosine: float = 0.8,
    min_sentence_similarity: float = 90.0,
) -> list[Conflict]:
    """Find pairs of chunks from different sources that say the same thing with other values.

    Each chunk (it needs ``text`` and its stored ``embedding``, as
    ``store.pages(include_embeddings=True)`` gives them) is looked up in ``store`` for its
    ``neighbours`` nearest chunks; a neighbour from another source (``source_of`` its
    metadata; None means untraceable and is skipped) whose stored vector has cosine
    >= ``min_cosine`` with the chunk's is a candidate. Two sentences conflict when, with
    every number, date and amount masked, their `rapidfuzz.fuzz.ratio` is
    >= ``min_sentence_similarity`` and their values differ. At most one `Conflict` per
    pair (the most similar sentences), sorted by ``(source_ids, chunk_ids)``.
    """
    if neighbours < 1:
        raise ValueError(f"neighbours must be at least 1, got {neighbours}")
    import pysbd

    segmenter = pysbd.Segmenter(language="en", clean=False)
    sentences: dict[str, list[_Sentence]] = {}
    seen: set[tuple[str, str]] = set()
    conflicts: list[Conflict] = []
    queryable = [
        (chunk, source)
        for chunk in chunks
        if chunk.text and chunk.embedding is not None and (source := source_of(chunk.metadata))
    ]
    log.debug("conflicts: querying %d of %d chunks", len(queryable), len(chunks))
    # In a cosine space the distance is 1 - cosine: no need to fetch the neighbours' vectors.
    by_distance = store.space == "cosine"
    for start in range(0, len(queryable), _QUERY_BATCH):
        batch = queryable[start : start + _QUERY_BATCH]
        hits = store.query(
            [c.embedding for c, _ in batch], neighbours + 1, include_embeddings=not by_distance
        )
        for (chunk, source), found in zip(batch, hits, strict=True):
            for hit in found:
                pair = (chunk.id, hit.id) if chunk.id < hit.id else (hit.id, chunk.id)
                if hit.id == chunk.id or pair in seen or not hit.text:
                    continue
                if not by_distance and hit.embedding is None:
                    continue
                other = source_of(hit.metadata)
                if other is None or other == source:
                    continue
                cosine = (
                    1.0 - hit.distance if by_distance else _cosine(chunk.embedding, hit.embedding)
                )
                if cosine < min_cosine:
                    continue
                seen.add(pair)
                if chunk.id not in sentences:
                    sentences[chunk.id] = _split(segmenter, chunk.text or "")
                if hit.id not in sentences:
                    sentences[hit.id] = _split(segmenter, hit.text)
                best = _best_pair(sentences[chunk.id], sentences[hit.id], min_sentence_similarity)
                if best is None:
                    continue
                mine, theirs = (chunk.id, source, best[0]), (hit.id, other, best[1])
                a, b = (mine, theirs) if chunk.id < hit.id else (theirs, mine)
                conflicts.append(
                    Conflict(
                        chunk_ids=(a[0], b[0]),
                        source_ids=(a[1], b[1]),
                        sentences=(a[2].text, b[2].text),
                        values=_differing(a[2], b[2]),
                        similarity=cosine,
                        templates=(a[2].masked, b[2].masked),
                    )
                )
    log.debug("conflicts: %d candidate pairs, %d conflicts", len(seen), len(conflicts))
    return sorted(conflicts, key=lambda c: (c.source_ids, c.chunk_ids))


def _cosine(a: Any, b: Any) -> float:
    va = np.asarray(a, dtype=np.float64)
    vb = np.asarray(b, dtype=np.float64)
    norm = float(np.linalg.norm(va) * np.linalg.norm(vb))
    return float(va @ vb) / norm if norm else 0.0


def claims_text(text: str) -> str:
    """``text`` without what states no claim: code blocks and console lines."""
    return _CONSOLE_LINE.sub("", _CODE_FENCE.sub("", text))


def _split(segmenter: Any, text: str) -> list[_Sentence]:
    """The sentences of ``text`` that state a value, with identifiers and values masked.

    Code blocks and console output are dropped first; identifiers (URLs, versions, issue
    and ticket references, hashes, line numbers) are masked, kept for comparison, and are
    no values; a sentence needs `MIN_OWN_WORDS` words of its own around its values.
    """
    result = []
    for raw in segmenter.segment(claims_text(text)):
        sentence = raw.strip()
        identifiers = tuple(m.group() for m in _IDENTIFIER.finditer(sentence))
        without_ids = _IDENTIFIER.sub(_ID_PLACEHOLDER, sentence)
        values = tuple(m.group() for m in _VALUE.finditer(without_ids))
        if not values:
            continue
        # Whitespace is folded so re-wrapped copies of one sentence still match.
        masked = normalise(_VALUE.sub(_PLACEHOLDER, without_ids))
        own = _WORD.findall(masked.replace(_PLACEHOLDER, " ").replace(_ID_PLACEHOLDER, " "))
        if len(own) < MIN_OWN_WORDS:
            continue
        keys = tuple(_canonical(v) for v in values)
        result.append(
            _Sentence(
                text=sentence, masked=masked, values=values, keys=keys, identifiers=identifiers
            )
        )
    return result


def _canonical(value: str) -> str:
    """``value`` without spacing; dates as yyyy-mm-dd, so "1 March 2024" equals "2024-03-01"."""
    month = _MONTH_NAME.search(value)
    if month is None:
        return re.sub(r"\s+", "", value).casefold()
    number = _MONTHS.index(month.group()[:3].lower()) + 1
    digits = re.findall(r"\d+", value)
    year = next((d for d in digits if len(d) == 4), "????")
    day = next((int(d) for d in digits if len(d) <= 2), 0)
    return f"{year}-{number:02d}-{day:02d}"


def _best_pair(
    a: Sequence[_Sentence], b: Sequence[_Sentence], cutoff: float
) -> tuple[_Sentence, _Sentence] | None:
    """The most similar pair of sentences (masked) whose values differ, or None."""
    best: tuple[_Sentence, _Sentence] | None = None
    best_score = -1.0
    for left in a:
        for right in b:
            if left.keys == right.keys or left.identifiers != right.identifiers:
                continue
            # With a cutoff, ratio returns 0 early for pairs that cannot reach it.
            score = fuzz.ratio(left.masked, right.masked, score_cutoff=cutoff)
            if score >= cutoff and score > best_score:
                best, best_score = (left, right), score
    return best


def _differing(a: _Sentence, b: _Sentence) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The values of each side outside the runs both sides share, in order of appearance."""
    left: list[str] = []
    right: list[str] = []
    matcher = difflib.SequenceMatcher(a=a.keys, b=b.keys, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "equal":
            left.extend(a.values[i1:i2])
            right.extend(b.values[j1:j2])
    return tuple(left), tuple(right)
