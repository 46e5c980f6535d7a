"""Where a chunk's words are in its current source, and what changed when they are not.

A chunk is *verbatim* when its text, normalised, occurs in the normalised source. The
normalisation absorbs only what loaders change without changing content: whitespace
(all of it, so re-wrapped lines and the spaces a tag stripper leaves or removes match),
Unicode compatibility forms (NFKC), soft hyphens and zero-width characters, and, on the
tag-stripped rendering, HTML tags. Words, links and identifiers are never absorbed.

A chunk that is not verbatim is located with an anchor index of word 3-grams (shingles)
of the source: the shingles it shares vote for an offset, and the chunk is aligned word
by word (difflib on word lists) only inside a window around it. The alignment
gives the evidence: the words removed and added, and the share of text changed.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import accumulate

from rapidfuzz import fuzz

_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)
"""Soft hyphen and zero-width characters: typesetting, not content."""
TAG = re.compile(r"<!--.*?-->|</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?>", re.S)
_TOKEN = re.compile(r"\w+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
SHINGLE = 3
_MAX_POSITIONS = 64
"""A shingle found more often than this (boilerplate) casts no vote."""
MIN_ALIGNED = 0.5
"""Below this share of its words found in order, a chunk's text is gone, not edited."""
_DIFF_CHARS = 240

VERBATIM, ALIGNED, GONE = "verbatim", "aligned", "gone"


def match_words(text: str, *, strip_tags: bool = False) -> list[str]:
    """The words of ``text`` after the normalisation matching uses (see the module doc)."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    if strip_tags and "<" in text:
        text = TAG.sub(" ", text)
    return text.split()


def has_tags(text: str) -> bool:
    return "<" in text and TAG.search(text) is not None


@dataclass(frozen=True, kw_only=True, slots=True)
class Located:
    """Where a chunk is in a source and how it differs; ``span`` in compact characters."""

    kind: str
    """``verbatim``, ``aligned`` (found with edits) or ``gone``."""
    span: tuple[int, int] | None = None
    changed_share: float = 0.0
    """Share of words that differ: 1 - 2 * words in common / (chunk words + source words)."""
    diff: str = ""
    """The words removed (``-``) and added (``+``), hunk by hunk, shortened."""
    content_diff: str = ""
    """The hunks that change more than punctuation or markup (what a tolerant reader sees)."""
    tolerant: bool = False
    """The words without punctuation or markup are the same (or near, numbers equal)."""

    def to_json(self) -> list[object]:
        span = list(self.span) if self.span else None
        share = round(self.changed_share, 4)
        return [self.kind, span, share, self.diff, self.content_diff, self.tolerant]

    @classmethod
    def from_json(cls, data: list[object]) -> Located:
        kind, span, share, diff, content_diff, tolerant = data
        return cls(
            kind=str(kind),
            span=(int(span[0]), int(span[1])) if isinstance(span, list) else None,
            changed_share=float(share),  # type: ignore[arg-type]
            diff=str(diff),
            content_diff=str(content_diff),
            tolerant=bool(tolerant),
        )


class SourceText:
    """One rendering of a source document, ready to locate chunks in."""

    def __init__(self, words: list[str]):
        self.words = words
        self.compact = "".join(words)
        self._offsets: list[int] | None = None
        self._index: dict[tuple[str, ...], list[int]] | None = None
        self._word_keys: list[str] | None = None

    @property
    def length(self) -> int:
        return len(self.compact)

    def locate(self, chunk: list[str], *, threshold: float) -> Located:
        """Find the chunk (its `match_words`) verbatim, else align it near its anchors."""
        compact = "".join(chunk)
        if not compact:
            return Located(kind=VERBATIM)
        start = self.compact.find(compact)
        if start >= 0:
            return Located(kind=VERBATIM, span=(start, start + len(compact)))
        chunk_keys = keys(chunk)
        offset = self._anchor(chunk_keys)
        if offset is None:
            return Located(kind=GONE, changed_share=1.0)
        slack = 8 + len(chunk) // 4
        lo = max(0, offset - slack)
        window = self.words[lo : offset + len(chunk) + slack]
        # Aligned on word keys, so markup does not pull words apart; hunks show the words.
        ops = _opcodes(chunk_keys, self._keys()[lo : offset + len(chunk) + slack])
        if not ops:
            return Located(kind=GONE, changed_share=1.0)
        first, last = ops[0][3], ops[-1][4]
        region = window[first:last]
        hunks = _hunks(chunk, window, ops)
        same = sum(i2 - i1 for tag, i1, i2, _, _ in ops if tag == "equal")
        if same < MIN_ALIGNED * len(chunk):
            return Located(kind=GONE, changed_share=1.0)
        same -= sum(len(removed) for removed, _, markup in hunks if markup)
        share = 1 - 2 * same / (len(chunk) + len(region))
        offsets = self._word_offsets()
        content = [h for h in hunks if not h[2]]
        return Located(
            kind=ALIGNED,
            span=(offsets[lo + first], offsets[lo + last]),
            changed_share=share,
            diff=_render(hunks),
            content_diff=_render(content),
            tolerant=not content or _tolerant(chunk, region, threshold),
        )

    def _keys(self) -> list[str]:
        if self._word_keys is None:
            self._word_keys = keys(self.words)
        return self._word_keys

    def _word_offsets(self) -> list[int]:
        if self._offsets is None:
            self._offsets = [0, *accumulate(len(w) for w in self.words)]
        return self._offsets

    def _anchor(self, chunk: list[str]) -> int | None:
        """The source word where the chunk (its word keys) most likely starts, by votes."""
        if self._index is None:
            index: dict[tuple[str, ...], list[int]] = {}
            for i, shingle in enumerate(_shingles(self._keys())):
                index.setdefault(shingle, []).append(i)
            self._index = index
        votes: Counter[int] = Counter()
        get = self._index.get
        for i, shingle in enumerate(_shingles(chunk)):
            found = get(shingle)
            if found and len(found) <= _MAX_POSITIONS:
                for p in found:
                    votes[p - i] += 1
        if not votes:
            return None
        return votes.most_common(1)[0][0]


def _shingles(words: list[str]) -> Iterator[tuple[str, ...]]:
    """Every run of `SHINGLE` consecutive words, in order."""
    return zip(*(words[k:] for k in range(SHINGLE)), strict=False)


_Op = tuple[str, int, int, int, int]


def _opcodes(chunk: list[str], window: list[str]) -> list[_Op]:
    """Word opcodes of the chunk against the part of ``window`` it was cut from.

    difflib's longest-block matching keeps runs of words together (an edit distance
    would happily match a stray "the" far away). Source words beyond the chunk's ends are
    not edits: leading and trailing insertions are dropped, and a replacement at either
    end keeps only as many source words as it replaces.
    """
    ops: list[_Op] = list(SequenceMatcher(a=chunk, b=window, autojunk=False).get_opcodes())
    while ops and ops[0][0] == "insert":
        ops.pop(0)
    while ops and ops[-1][0] == "insert":
        ops.pop()
    if ops and ops[0][0] == "replace":
        tag, i1, i2, j1, j2 = ops[0]
        ops[0] = (tag, i1, i2, max(j1, j2 - (i2 - i1)), j2)
    if ops and ops[-1][0] == "replace":
        tag, i1, i2, j1, j2 = ops[-1]
        ops[-1] = (tag, i1, i2, j1, min(j2, j1 + (i2 - i1)))
    return ops


def _key(word: str) -> str:
    """A word without its punctuation and markup, case folded (``**1.0**:`` -> ``10``)."""
    return "".join(_TOKEN.findall(word)).casefold() or word


_NOT_WORD = re.compile(r"[^\w\n]+")


def keys(words: list[str]) -> list[str]:
    """`_key` of each word, in one pass over their text (words hold no whitespace)."""
    if not words:
        return []
    folded = _NOT_WORD.sub("", "\n".join(words)).casefold().split("\n")
    return [k or w for k, w in zip(folded, words, strict=True)]


_Hunk = tuple[list[str], list[str], bool]


def _hunks(chunk: list[str], window: list[str], ops: list[_Op]) -> list[_Hunk]:
    """(removed, added, markup only) per change, in order; key-equal runs are checked word
    by word, so a change of punctuation or markup alone is a hunk too (flagged)."""
    hunks: list[_Hunk] = []
    run_end = -1  # chunk index just after the last markup-only hunk
    for tag, i1, i2, j1, j2 in ops:
        if tag != "equal":
            hunks.append((chunk[i1:i2], window[j1:j2], False))
            continue
        for offset in range(i2 - i1):
            i, old, new = i1 + offset, chunk[i1 + offset], window[j1 + offset]
            if old == new:
                continue
            if i == run_end and hunks and hunks[-1][2]:
                hunks[-1][0].append(old)
                hunks[-1][1].append(new)
            else:
                hunks.append(([old], [new], True))
            run_end = i + 1
    return hunks


def _render(hunks: list[_Hunk]) -> str:
    parts = []
    for removed, added, _ in hunks:
        minus = f"- {' '.join(removed)}" if removed else ""
        plus = f"+ {' '.join(added)}" if added else ""
        parts.append(" ".join(p for p in (minus, plus) if p))
    text = " | ".join(parts)
    return text if len(text) <= _DIFF_CHARS else text[: _DIFF_CHARS - 1] + "…"


def _tolerant(chunk: list[str], region: list[str], threshold: float) -> bool:
    """Same words once punctuation and markup are set aside (or near, with equal numbers)."""
    a = " ".join(_TOKEN.findall(" ".join(chunk))).casefold()
    b = " ".join(_TOKEN.findall(" ".join(region))).casefold()
    if a == b:
        return True
    return _NUMBER.findall(a) == _NUMBER.findall(b) and fuzz.ratio(a, b) >= threshold


def coverage(spans: list[tuple[int, int]], length: int) -> float:
    """Share of ``length`` characters covered by the union of ``spans``."""
    if length <= 0:
        return 1.0
    covered, end = 0, 0
    for start, stop in sorted(spans):
        start = max(start, end)
        if stop > start:
            covered += stop - start
            end = stop
    return min(1.0, covered / length)


def largest_gap(spans: list[tuple[int, int]], length: int) -> int:
    """The longest stretch of ``length`` characters that no span covers."""
    gap, end = 0, 0
    for start, stop in sorted(spans):
        gap = max(gap, start - end)
        end = max(end, stop)
    return max(gap, length - end)
