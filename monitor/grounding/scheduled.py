"""Scoring the ingested responses incrementally, and the figures the `grounding` job keeps.

Each response is scored from the context the application logged: the retrieved chunks'
text, else the whole context string; when neither was logged, from the text the vector
store holds for the retrieved chunk ids (a chunk re-embedded since may have changed, so
this is the next best thing); with none of these it is counted as ``no_context``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

import orjson

from monitor.grounding.calibration import (
    Calibration,
    cross_fitted,
    expected_calibration_error,
    fit_calibration,
    reliability_bins,
)
from monitor.grounding.feedback import grounded_label
from monitor.grounding.results import Band, GroundingResult, SupportedClaim, UnsupportedClaim
from monitor.grounding.runresult import (
    ClaimEvidence,
    GroundingRunResult,
    ScoreCalibration,
    ViolationEvidence,
    WorstAnswer,
)
from monitor.grounding.scorer import Scorer
from monitor.grounding.settings import GroundingConfig
from monitor.grounding.stored import (
    NO_ANSWER,
    NO_CONTEXT,
    SCORED,
    GroundingRow,
    PendingResponse,
    StoredScore,
    day_of,
    labelled_scores,
    pending,
    worst_scored,
    write_rows,
)
from monitor.history.store import HistoryStore

log = logging.getLogger(__name__)

ChunkText = Callable[[Sequence[str]], dict[str, str] | None]
"""Chunk ids -> their text in the vector store (missing ids left out); None when the
store cannot be read, so the responses that needed it are retried by the next run."""


def scorer_version(scorer: Scorer | GroundingConfig) -> str:
    """ragmon's version and a hash of the scoring settings: a changed weight is a new scorer."""
    from monitor import __version__

    settings = scorer.settings if isinstance(scorer, Scorer) else scorer
    # The pointer changes no score, and settings without an NLI model hash as they did
    # before it existed: neither makes a new scorer (nor orphans a calibration).
    leave_out = {"nearest_passage"} | ({"nli"} if settings.nli is None else set())
    digest = hashlib.sha256(settings.model_dump_json(exclude=leave_out).encode()).hexdigest()[:10]
    return f"{__version__}+{digest}"


@dataclass(kw_only=True, slots=True)
class ScoringRun:
    """What one pass over the unscored responses did."""

    scored: int = 0
    no_context: int = 0
    no_answer: int = 0
    from_store: int = 0
    deferred: int = 0
    """Responses that needed the store while it could not be read: left for the next run."""
    days: set[date] = field(default_factory=set)
    escalated: list[tuple[PendingResponse, GroundingResult]] = field(default_factory=list)
    """This run's responses in the escalate band (the findings)."""


def score_pending(
    history: HistoryStore,
    scorer: Scorer,
    *,
    chunk_text: ChunkText | None = None,
    batch: int = 500,
) -> ScoringRun:
    """Score every response without a grounding row, ``batch`` at a time, and store them."""
    run = ScoringRun()
    version = scorer_version(scorer)
    after = 0
    while True:
        todo = pending(history, after_rid=after, limit=batch)
        if not todo:
            return run
        after = todo[-1].rid
        stored = _store_texts(todo, chunk_text)
        rows = []
        for response in todo:
            row = _score_one(response, scorer, stored, run)
            if row is not None:
                rows.append(row)
        write_rows(history, rows, scorer=version)
        log.info("scored %d responses up to rid %d", len(rows), after)


def _store_texts(
    todo: Sequence[PendingResponse], chunk_text: ChunkText | None
) -> dict[str, str] | None:
    if chunk_text is None:
        return {}
    wanted = sorted(
        {
            cid
            for r in todo
            if r.answer and not _logged_context(r)
            for cid, _ in r.chunks
            if cid is not None
        }
    )
    return chunk_text(wanted) if wanted else {}


def _logged_context(response: PendingResponse) -> list[str]:
    texts = [text for _, text in response.chunks if text]
    if texts:
        return texts
    return [response.context] if response.context else []


def _score_one(
    response: PendingResponse, scorer: Scorer, stored: dict[str, str] | None, run: ScoringRun
) -> GroundingRow | None:
    if not response.answer:
        run.no_answer += 1
        return _status_row(response, NO_ANSWER)
    contexts = _logged_context(response)
    if not contexts and stored is None and any(cid for cid, _ in response.chunks):
        run.deferred += 1
        return None
    if not contexts and stored:
        contexts = [stored[cid] for cid, _ in response.chunks if cid in stored]
        if contexts:
            run.from_store += 1
    if not contexts:
        run.no_context += 1
        return _status_row(response, NO_CONTEXT)
    result = scorer.score(response.answer, contexts, response.query)
    run.scored += 1
    run.days.add(day_of(response.at_us))
    if result.band is Band.ESCALATE:
        run.escalated.append((response, result))
    evidence: dict[str, object] = {
        "unsupported_claims": [_claim_evidence(c) for c in result.unsupported_claims],
        "violations": [
            {"kind": v.kind.value, "text": v.text, "reason": v.reason} for v in result.violations
        ],
    }
    if result.supported_claims:
        evidence["supported_claims"] = [_claim_evidence(c) for c in result.supported_claims]
    if result.calibrated is not None:
        evidence["calibrated"] = round(result.calibrated, 6)
        evidence["calibration"] = result.calibration
    return GroundingRow(
        rid=response.rid,
        at_us=response.at_us,
        score=round(result.score, 6),
        band=result.band.value,
        status=SCORED,
        evidence=orjson.dumps(evidence).decode(),
    )


def _claim_evidence(claim: UnsupportedClaim | SupportedClaim) -> dict[str, object]:
    out: dict[str, object] = {"text": claim.text}
    if isinstance(claim, UnsupportedClaim):
        out["novel_words"] = list(claim.novel_words)
        out["reason"] = claim.reason
    if claim.entailment is not None:
        out["entailment"] = round(claim.entailment, 6)
    if claim.nearest_passage is not None:
        out["nearest_passage"] = claim.nearest_passage.index
        out["cosine"] = round(claim.nearest_passage.cosine, 6)
    return out


def _status_row(response: PendingResponse, status: str) -> GroundingRow:
    return GroundingRow(
        rid=response.rid, at_us=response.at_us, score=None, band=None, status=status, evidence=None
    )


def worst_answer(stored: StoredScore) -> WorstAnswer:
    """A stored score as the record the report and findings show."""
    evidence = stored.evidence
    claims = evidence.get("unsupported_claims") or []
    violations = evidence.get("violations") or []
    assert isinstance(claims, list) and isinstance(violations, list)
    calibrated = evidence.get("calibrated")
    return WorstAnswer(
        id=stored.id,
        at_us=stored.at_us,
        query=stored.query,
        answer=stored.answer,
        score=stored.score,
        band=stored.band,
        unsupported_claims=tuple(
            ClaimEvidence(
                text=c["text"],
                novel_words=tuple(c["novel_words"]),
                reason=c.get("reason", ""),
                nearest_passage=c.get("nearest_passage"),
            )
            for c in claims
        ),
        violations=tuple(
            ViolationEvidence(kind=v["kind"], text=v["text"], reason=v["reason"])
            for v in violations
        ),
        calibrated=float(calibrated) if isinstance(calibrated, int | float) else None,
    )


def worst_answers(history: HistoryStore, *, since_us: int, n: int) -> tuple[WorstAnswer, ...]:
    """The ``n`` lowest-scoring stored responses since ``since_us``, with their evidence."""
    return tuple(worst_answer(s) for s in worst_scored(history, since_us=since_us, n=n))


def calibrate_scores(
    history: HistoryStore, *, since_us: int
) -> tuple[tuple[ScoreCalibration, ...], str]:
    """ragmon's score and the application's logged score against the feedback labels.

    Returns the calibrations (ragmon's first, the app's when it logged a score for enough
    labelled responses) and, when there is none, why.
    """
    from monitor.errors import LabelError

    labelled = [
        (s, label)
        for s in labelled_scores(history, since_us=since_us)
        if (label := grounded_label(s.feedback)) is not None
    ]
    if not labelled:
        return (), "no response with a feedback label (correct / incorrect, up / down, ...)"
    out = []
    notes = []
    for source, pairs in (
        ("ragmon", [(s.score, label, s.query or s.id) for s, label in labelled]),
        (
            "app",
            [
                (s.app_score, label, s.query or s.id)
                for s, label in labelled
                if s.app_score is not None
            ],
        ),
    ):
        if source == "app" and not pairs:
            continue
        try:
            out.append(_calibration(source, pairs))
        except LabelError as exc:
            notes.append(f"{source}: {exc}")
    return tuple(out), "; ".join(notes)


def _calibration(source: str, pairs: Sequence[tuple[float | None, bool, str]]) -> ScoreCalibration:
    from monitor.errors import LabelError

    scores = [float(p[0] or 0.0) for p in pairs]
    grounded = [p[1] for p in pairs]
    groups = [p[2] for p in pairs]
    curve = fit_calibration(scores, grounded, source=source)
    try:
        calibrated = cross_fitted(scores, grounded, groups)
        honest = True
    except LabelError:
        calibrated = curve.apply(scores)
        honest = False
    ece_raw = round(expected_calibration_error(scores, grounded), 6)
    ece_calibrated = round(expected_calibration_error(list(calibrated), grounded), 6)
    return ScoreCalibration(
        source=source,
        n=len(scores),
        grounded=sum(grounded),
        ece_raw=ece_raw,
        ece_calibrated=ece_calibrated,
        cross_fitted=honest,
        adopted=honest and ece_calibrated < ece_raw,
        bins_raw=tuple(reliability_bins(scores, grounded)),
        bins_calibrated=tuple(reliability_bins(list(calibrated), grounded)),
        curve_version=curve.version,
        curve=curve.to_json(),
    )


def adopted_calibration(history: HistoryStore, job: str, scorer: str) -> Calibration | None:
    """The calibration curve of ragmon's score that new scores get, or None.

    It is the curve stored by ``job``'s last completed run when that run was made by the
    same scorer (version and settings: a curve fitted on another scorer's scores means
    nothing for this one's) and the curve was adopted (it lowered the error on questions
    it did not see).
    """
    from monitor.errors import LabelError, ResultSchemaError
    from monitor.history.queries import latest_details

    found = latest_details(history, job)
    if found is None or not found[1]:
        return None
    try:
        result = GroundingRunResult.from_json(found[1])
    except ResultSchemaError:
        return None
    if result.scorer != scorer:
        log.info("no calibration applied: the last one was fitted by scorer %s", result.scorer)
        return None
    for cal in result.calibration:
        if cal.source == "ragmon" and cal.adopted:
            try:
                return Calibration.from_json(dict(cal.curve))
            except LabelError as exc:
                log.warning("no calibration applied: %s", exc)
                return None
    return None
