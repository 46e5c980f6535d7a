"""Layer 1, lexical verification: per claim, the words the context and question do not hold.

A claim is supported when every content word and number of it, normalised (stem, number
and unit forms), occurs somewhere in the retrieved passages or the question. What is
left over are the claim's *novel* words: the evidence a person reads to see why an
answer was judged ungrounded. Counting them over the whole answer keeps what matters on
RAGTruth: an answer is hallucinated when any span of it is, and averages dilute that.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from monitor.grounding.claims import Claim
from monitor.grounding.lexicon import key_set, mask_markers, tokens


@dataclass(frozen=True, kw_only=True, slots=True)
class ClaimCheck:
    """What the lexical layer found in one claim."""

    claim: Claim
    novel_words: tuple[str, ...]
    """Surface forms of the claim's unsupported content words, one per distinct key."""
    novel_keys: tuple[str, ...]
    """Their normalised keys (stems, canonical numbers), in the same order."""
    content_words: int
    supported_words: int
    longest_novel_run: int
    """Most consecutive unsupported content words in the claim."""

    @property
    def supported(self) -> bool:
        return not self.novel_keys

    @property
    def overlap(self) -> float:
        """Share of the claim's content words found in the support (1.0 when it has none)."""
        return self.supported_words / self.content_words if self.content_words else 1.0


def support_keys(contexts: Iterable[str], query: str | None = None) -> frozenset[str]:
    """Every normalised key of the retrieved passages and the question."""
    keys: set[str] = set()
    for text in contexts:
        keys |= key_set(text)
    if query:
        keys |= key_set(query)
    return frozenset(keys)


def check_claims(
    claims: Sequence[Claim],
    support: frozenset[str],
    *,
    numbers: bool = True,
    masked: str | None = None,
) -> list[ClaimCheck]:
    """Check each claim's content words against ``support`` (see `support_keys`).

    With ``numbers=False`` numerals are left to the structural layer, which compares
    them as values. ``masked`` is the answer with spans blanked out that another layer
    judges (values: "March 2nd", "$4,200"), same length as the answer.
    """
    checks = []
    for claim in claims:
        text = claim.text if masked is None else masked[claim.start : claim.end]
        novel: dict[str, str] = {}
        content = supported = run = longest = 0
        for token in tokens(mask_markers(text)):
            if not token.content or (token.number and not numbers):
                continue
            content += 1
            if token.key in support:
                supported += 1
                run = 0
            else:
                novel.setdefault(token.key, token.surface)
                run += 1
                longest = max(longest, run)
        checks.append(
            ClaimCheck(
                claim=claim,
                novel_words=tuple(novel.values()),
                novel_keys=tuple(novel),
                content_words=content,
                supported_words=supported,
                longest_novel_run=longest,
            )
        )
    return checks


def distinct_novel(checks: Iterable[ClaimCheck]) -> int:
    """Distinct novel keys over the whole answer: the untrained layer-1 signal."""
    seen: set[str] = set()
    for check in checks:
        seen.update(check.novel_keys)
    return len(seen)
