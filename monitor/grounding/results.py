"""The grounding score record of one response, its band, and the features behind it."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, fields
from typing import Any

from monitor.grounding.structural import Violation
from monitor.grounding.values import ValueKind


class Band(enum.StrEnum):
    """What the application should do with an answer, from its grounding score."""

    CITE = "cite"
    """Serve with citations (default: score >= 0.8)."""
    DISCLAIM = "disclaim"
    """Serve with a disclaimer (0.5 <= score < 0.8)."""
    PARTIAL = "partial"
    """Give a partial answer and offer escalation (0.3 <= score < 0.5)."""
    ESCALATE = "escalate"
    """Hand over to a person (score < 0.3)."""


BANDS: tuple[Band, ...] = tuple(Band)


@dataclass(frozen=True, kw_only=True, slots=True)
class UnsupportedClaim:
    """A sentence of the answer with content words that neither context nor question hold."""

    text: str
    start: int
    end: int
    """Character offsets into the answer."""
    novel_words: tuple[str, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class GroundingFeatures:
    """The layer-1 and layer-2 figures a score is made of; `fit` learns from these."""

    novel_words: int
    """Distinct content-word stems (and numbers, when values are not checked) found in
    neither the context nor the question: the score's main input."""
    longest_novel_run: int
    worst_claim_overlap: float
    """Lowest share of a claim's content words that the context holds."""
    word_overlap: float
    """Share of all the answer's content words that the context holds (the baseline)."""
    claims: int
    unsupported_claims: int
    content_words: int
    number_violations: int
    """Plain numbers the context does not hold; each counts like one novel word."""
    value_violations: int
    """Amounts, percentages, dates and identifiers not backed (each weighs more)."""

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Feature names in vector order."""
        return tuple(f.name for f in fields(cls))

    def vector(self) -> list[float]:
        """The features as numbers, in `names` order."""
        return [float(getattr(self, name)) for name in self.names()]


@dataclass(frozen=True, kw_only=True, slots=True)
class GroundingResult:
    """How well one answer is grounded in its context, and the evidence why not."""

    score: float
    """0-1, higher is better grounded."""
    band: Band
    unsupported_claims: tuple[UnsupportedClaim, ...]
    violations: tuple[Violation, ...]
    features: GroundingFeatures

    @property
    def grounded(self) -> bool:
        """No unsupported claim and no structural violation."""
        return not self.unsupported_claims and not self.violations

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; `from_json` reads it back."""
        return {
            "score": round(self.score, 6),
            "band": self.band.value,
            "unsupported_claims": [
                {**asdict(c), "novel_words": list(c.novel_words)} for c in self.unsupported_claims
            ],
            "violations": [{**asdict(v), "kind": v.kind.value} for v in self.violations],
            "features": asdict(self.features),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GroundingResult:
        """Inverse of `to_json`."""
        return cls(
            score=float(data["score"]),
            band=Band(data["band"]),
            unsupported_claims=tuple(
                UnsupportedClaim(**{**c, "novel_words": tuple(c["novel_words"])})
                for c in data["unsupported_claims"]
            ),
            violations=tuple(
                Violation(**{**v, "kind": ValueKind(v["kind"])}) for v in data["violations"]
            ),
            features=GroundingFeatures(**data["features"]),
        )
