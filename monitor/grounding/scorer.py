"""The grounding score of one answer: layers 1 and 2 combined, mapped to 0-1, banded.

score = exp(-(novel_word_weight x (novel words + unbacked numbers)
             + violation_weight x unbacked amounts, percentages, dates and identifiers))

Higher is better grounded: 1.0 when every content word and value of the answer is in
the context (or the question). Monotone in both counts, so ranking (AUROC) is that of
the counts; the weights only place the bands.

Optional layers, each off unless configured: an NLI model on disk (``grounding.nli``)
can only take support away: a claim the lexical layer supports (and that has a content
word) but whose best entailment probability is below ``nli.threshold`` becomes an
unsupported claim, and the score is multiplied by exp(-nli.weight) per such claim; a
claim the lexical layer rejects stays rejected whatever the model says. The embedding
pointer (``nearest_passage``) changes no score. A calibration curve handed to the
scorer adds ``calibrated`` = curve(score) and leaves score and band as they are.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from threading import Lock
from typing import TYPE_CHECKING

from monitor.errors import GroundingError
from monitor.grounding.claims import split_claims
from monitor.grounding.lexical import ClaimCheck, check_claims, distinct_novel, support_keys
from monitor.grounding.lexicon import mask_markers
from monitor.grounding.results import (
    Band,
    GroundingFeatures,
    GroundingResult,
    NearestPassage,
    SupportedClaim,
    UnsupportedClaim,
)
from monitor.grounding.settings import BandSettings, GroundingConfig
from monitor.grounding.structural import Violation, check_values, context_values
from monitor.grounding.systems import open_system
from monitor.grounding.values import IdentifierPattern, ValueKind, find_values
from monitor.ports import SystemOfRecord

if TYPE_CHECKING:
    from monitor.grounding.calibration import Calibration
    from monitor.grounding.fitting import FittedModel
    from monitor.grounding.nli import NliModel
    from monitor.ports import Embedder


def band_for(score: float, bands: BandSettings | None = None) -> Band:
    """The band of ``score`` under ``bands`` (default thresholds 0.8 / 0.5 / 0.3)."""
    bands = bands or BandSettings()
    if score >= bands.cite:
        return Band.CITE
    if score >= bands.disclaim:
        return Band.DISCLAIM
    if score >= bands.partial:
        return Band.PARTIAL
    return Band.ESCALATE


class Scorer:
    """Scores answers under one `GroundingConfig`; compiles patterns and opens systems of
    record once, so it is cheap to call per request. Safe to share between threads.

    ``embedder`` serves the nearest-passage pointer (default: the packaged
    all-MiniLM-L6-v2, loaded on first use); ``calibration`` (a curve from
    `monitor.grounding.calibration`) adds the calibrated probability to each result.
    Raises `NliModelError` when ``settings.nli`` names no usable model.
    """

    def __init__(
        self,
        settings: GroundingConfig | None = None,
        *,
        embedder: Embedder | None = None,
        calibration: Calibration | None = None,
    ):
        self.settings = settings or GroundingConfig()
        self.calibration = calibration
        self._embedder = embedder
        self._embedder_lock = Lock()
        self._nli: NliModel | None = None
        if self.settings.nli is not None:
            from monitor.grounding.nli import NliModel

            self._nli = NliModel(self.settings.nli)
        self._patterns = [
            IdentifierPattern(name=v.name, pattern=re.compile(v.pattern))
            for v in self.settings.validators
        ]
        self._model = load_model(self.settings.model) if self.settings.model else None
        self._systems: dict[str, SystemOfRecord] = {}
        for validator in self.settings.validators:
            system = open_system(validator)
            if system is not None:
                self._systems[validator.name] = system

    def score(
        self, answer: str, contexts: Sequence[str] | str, query: str | None = None
    ) -> GroundingResult:
        """Score ``answer`` against the passages it was given (and the question)."""
        if isinstance(contexts, str):
            contexts = [contexts]
        settings = self.settings
        claims = split_claims(answer, settings.language)
        texts = [*contexts, query] if query else list(contexts)
        support = support_keys(texts)
        violations: list[Violation] = []
        masked = None
        if settings.check_values:
            found = find_values(mask_markers(answer), self._patterns)
            if found:
                violations = check_values(
                    found, context_values(texts, self._patterns, support), self._systems
                )
                # The words of a value ("March" of "March 2nd") are judged as the value.
                chars = list(answer)
                for item in found:
                    chars[item.start : item.end] = " " * (item.end - item.start)
                masked = "".join(chars)
        # With values checked, numerals are compared as values, not as words.
        checks = check_claims(
            claims,
            support,
            numbers=not settings.check_values,
            masked=masked,
        )
        novel = distinct_novel(checks)
        content = sum(c.content_words for c in checks)
        supported = sum(c.supported_words for c in checks)
        texts_of_claims = [c.claim.text for c in checks]
        entailment: list[float | None] = [None] * len(checks)
        if self._nli is not None:
            entailment = list(self._nli.best_entailment(texts_of_claims, contexts))
        nearest: list[NearestPassage | None] = [None] * len(checks)
        if settings.nearest_passage:
            from monitor.grounding.passages import nearest_passages

            nearest = list(nearest_passages(self._passage_embedder(), texts_of_claims, contexts))
            nearest += [None] * (len(checks) - len(nearest))
        unsupported, backed, not_entailed = _judge_claims(
            checks,
            entailment,
            nearest,
            threshold=settings.nli.threshold if settings.nli is not None else 0.0,
            list_supported=self._nli is not None or settings.nearest_passage,
        )
        features = GroundingFeatures(
            novel_words=novel,
            longest_novel_run=max((c.longest_novel_run for c in checks), default=0),
            worst_claim_overlap=min((c.overlap for c in checks), default=1.0),
            word_overlap=supported / content if content else 1.0,
            claims=len(checks),
            unsupported_claims=sum(not c.supported for c in checks),
            content_words=content,
            number_violations=sum(v.kind is ValueKind.NUMBER for v in violations),
            value_violations=sum(v.kind is not ValueKind.NUMBER for v in violations),
        )
        if self._model is not None and self._model.adopted:
            value = self._model.score(features)
        else:
            value = raw_score(features, settings)
        if not_entailed and settings.nli is not None:
            value *= math.exp(-settings.nli.weight * not_entailed)
        calibrated = None
        if self.calibration is not None:
            calibrated = float(self.calibration.apply(value))
        return GroundingResult(
            score=value,
            band=band_for(value, settings.bands),
            unsupported_claims=unsupported,
            violations=tuple(violations),
            features=features,
            supported_claims=backed,
            not_entailed=not_entailed,
            calibrated=calibrated,
            calibration=self.calibration.version if self.calibration is not None else None,
        )

    def _passage_embedder(self) -> Embedder:
        with self._embedder_lock:
            if self._embedder is None:
                from monitor.embedding.sbert import SentenceTransformerEmbedder

                self._embedder = SentenceTransformerEmbedder()
            return self._embedder


def _judge_claims(
    checks: Sequence[ClaimCheck],
    entailment: Sequence[float | None],
    nearest: Sequence[NearestPassage | None],
    *,
    threshold: float,
    list_supported: bool,
) -> tuple[tuple[UnsupportedClaim, ...], tuple[SupportedClaim, ...], int]:
    """Unsupported claims, supported ones (when ``list_supported``) and how many the NLI
    model turned: a lexically unsupported claim stays unsupported; a supported one with a
    content word and an entailment below ``threshold`` becomes unsupported."""
    unsupported: list[UnsupportedClaim] = []
    supported: list[SupportedClaim] = []
    not_entailed = 0
    for check, p, near in zip(checks, entailment, nearest, strict=True):
        claim = check.claim
        refuted = p is not None and check.content_words > 0 and p < threshold
        if check.supported and refuted:
            not_entailed += 1
        if not check.supported or refuted:
            unsupported.append(
                UnsupportedClaim(
                    text=claim.text,
                    start=claim.start,
                    end=claim.end,
                    novel_words=check.novel_words,
                    entailment=p,
                    nearest_passage=near,
                )
            )
        elif list_supported:
            supported.append(
                SupportedClaim(
                    text=claim.text,
                    start=claim.start,
                    end=claim.end,
                    entailment=p,
                    nearest_passage=near,
                )
            )
    return tuple(unsupported), tuple(supported), not_entailed


def load_model(path: Path) -> FittedModel:
    """Read a model written by `ragmon grounding fit`."""
    from monitor.grounding.fitting import FittedModel

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GroundingError(f"cannot read the fitted grounding model {path}: {exc}") from None
    return FittedModel.from_json(data)


def raw_score(features: GroundingFeatures, settings: GroundingConfig) -> float:
    """The untrained score of a response from its features."""
    penalty = (
        settings.novel_word_weight * (features.novel_words + features.number_violations)
        + settings.violation_weight * features.value_violations
    )
    return math.exp(-penalty)


_lock = Lock()
_scorers: dict[int, tuple[GroundingConfig | None, Scorer]] = {}


def score(
    answer: str,
    contexts: Sequence[str] | str,
    query: str | None = None,
    *,
    settings: GroundingConfig | None = None,
) -> GroundingResult:
    """Score how well ``answer`` is grounded in ``contexts`` (passages, or one string).

    The first call with a given ``settings`` object builds a `Scorer` (patterns compiled,
    systems of record opened) and later calls reuse it; hold a `Scorer` yourself to
    control that.

    >>> from monitor.grounding import score
    >>> result = score("Paris is the capital of France.",
    ...                ["Paris is the capital and largest city of France."])
    >>> result.score, result.band.value
    (1.0, 'cite')
    """
    key = id(settings)
    with _lock:
        cached = _scorers.get(key)
        if cached is None or cached[0] is not settings:
            if len(_scorers) >= 16:
                _scorers.clear()
            cached = (settings, Scorer(settings))
            _scorers[key] = cached
    return cached[1].score(answer, contexts, query)
