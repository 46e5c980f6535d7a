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
class NearestPassage:
    """The passage a claim is closest to, by cosine of sentence embeddings."""

    index: int
    """Position of the passage in the contexts given (0-based)."""
    cosine: float


@dataclass(frozen=True, kw_only=True, slots=True)
class UnsupportedClaim:
    """A sentence of the answer that the context does not back: content words that neither
    context nor question hold, or (with an NLI model) a claim the model does not entail."""

    text: str
    start: int
    end: int
    """Character offsets into the answer."""
    novel_words: tuple[str, ...]
    entailment: float | None = None
    """The NLI model's best P(entailment) for the claim; None without a model."""
    nearest_passage: NearestPassage | None = None
    """With ``nearest_passage`` on: where in the context to compare the claim."""

    @property
    def reason(self) -> str:
        """Why the claim is unsupported, for a person."""
        if self.novel_words:
            return "not in the context: " + ", ".join(self.novel_words)
        if self.entailment is not None:
            return f"nli: not entailed (p={self.entailment:.2f})"
        return "not in the context"


@dataclass(frozen=True, kw_only=True, slots=True)
class SupportedClaim:
    """A sentence of the answer the context backs, with what the optional layers found."""

    text: str
    start: int
    end: int
    entailment: float | None = None
    nearest_passage: NearestPassage | None = None
    """The passage to cite for it."""


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
    """Layers 1 and 2 only: what `fit` learns from; the NLI model's verdicts are not in it."""
    supported_claims: tuple[SupportedClaim, ...] = ()
    """Filled only when an optional layer ran (``nearest_passage`` or ``nli``)."""
    not_entailed: int = 0
    """Claims the lexical layer supports but the NLI model does not entail."""
    calibrated: float | None = None
    """P(grounded) from the scorer's calibration curve (`Calibration.apply` of ``score``);
    None without one. The band stays the raw score's."""
    calibration: str | None = None
    """Version of the calibration curve behind ``calibrated``."""

    @property
    def grounded(self) -> bool:
        """No unsupported claim and no structural violation."""
        return not self.unsupported_claims and not self.violations

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; `from_json` reads it back."""
        out: dict[str, Any] = {
            "score": round(self.score, 6),
            "band": self.band.value,
            "unsupported_claims": [
                {**_claim_json(c), "novel_words": list(c.novel_words)}
                for c in self.unsupported_claims
            ],
            "violations": [{**asdict(v), "kind": v.kind.value} for v in self.violations],
            "features": asdict(self.features),
        }
        # The optional layers' keys appear only when they ran: the default output is unchanged.
        if self.supported_claims:
            out["supported_claims"] = [_claim_json(c) for c in self.supported_claims]
        if self.not_entailed:
            out["not_entailed"] = self.not_entailed
        if self.calibrated is not None:
            out["calibrated"] = round(self.calibrated, 6)
            out["calibration"] = self.calibration
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GroundingResult:
        """Inverse of `to_json`."""
        calibrated = data.get("calibrated")
        return cls(
            score=float(data["score"]),
            band=Band(data["band"]),
            unsupported_claims=tuple(
                UnsupportedClaim(
                    **{
                        **c,
                        "novel_words": tuple(c["novel_words"]),
                        "nearest_passage": _nearest(c.get("nearest_passage")),
                    }
                )
                for c in data["unsupported_claims"]
            ),
            violations=tuple(
                Violation(**{**v, "kind": ValueKind(v["kind"])}) for v in data["violations"]
            ),
            features=GroundingFeatures(**data["features"]),
            supported_claims=tuple(
                SupportedClaim(**{**c, "nearest_passage": _nearest(c.get("nearest_passage"))})
                for c in data.get("supported_claims", ())
            ),
            not_entailed=int(data.get("not_entailed", 0)),
            calibrated=float(calibrated) if calibrated is not None else None,
            calibration=data.get("calibration"),
        )


def _claim_json(claim: UnsupportedClaim | SupportedClaim) -> dict[str, Any]:
    """A claim as JSON, without the optional layers' keys when they did not run."""
    out: dict[str, Any] = {"text": claim.text, "start": claim.start, "end": claim.end}
    if claim.entailment is not None:
        out["entailment"] = round(claim.entailment, 6)
    if claim.nearest_passage is not None:
        out["nearest_passage"] = {
            "index": claim.nearest_passage.index,
            "cosine": round(claim.nearest_passage.cosine, 6),
        }
    return out


def _nearest(data: dict[str, Any] | None) -> NearestPassage | None:
    return NearestPassage(index=int(data["index"]), cosine=float(data["cosine"])) if data else None
