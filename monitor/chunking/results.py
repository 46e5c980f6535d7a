"""A `ChunkingResult` as a run: figures, findings and summary."""

from __future__ import annotations

from monitor.chunking.settings import ChunkingQualitySettings
from monitor.chunking.snapshot import ChunkingResult
from monitor.history.pins import Pin, pin_memo
from monitor.records import Finding, Metric, RunResult, RunStatus, Severity

SHARE_METRICS = {
    "truncated": ("chunking_truncated_share", {}),
    "mid_sentence_start": ("chunking_mid_sentence_share", {"edge": "start"}),
    "mid_sentence_end": ("chunking_mid_sentence_share", {"edge": "end"}),
    "cut_in_word": ("chunking_cut_in_word_share", {}),
    "table_row_cut": ("chunking_table_row_cut_share", {}),
    "code_block_cut": ("chunking_code_block_cut_share", {}),
    "fragment": ("chunking_fragment_share", {}),
    "heading_only": ("chunking_heading_only_share", {}),
    "junk": ("chunking_junk_share", {}),
    "junk_chars": ("chunking_junk_chars_share", {}),
    "boilerplate": ("chunking_boilerplate_share", {}),
    "duplicate_exact": ("chunking_duplicate_share", {"kind": "exact"}),
    "duplicate_near": ("chunking_duplicate_share", {"kind": "near"}),
    "text_not_embedded": ("chunking_text_not_embedded_share", {}),
}
"""Snapshot share -> (figure name, extra labels)."""


def to_run_result(
    result: ChunkingResult, settings: ChunkingQualitySettings, *, pin: Pin | None = None
) -> RunResult:
    """Figures, findings and summary of one chunking run; details are ``result.to_json()``.

    The status is ``ok``: the thresholds are the job's gate rules, applied by the runner.
    """
    return RunResult(
        status=RunStatus.OK,
        summary=summary(result),
        metrics=tuple(metrics(result)),
        findings=tuple(findings(result, settings)),
        details=result.to_json(),
        memos=pin_memo(pin) if pin is not None else None,
    )


def summary(result: ChunkingResult) -> str:
    s = result.snapshot
    window = s.lengths.window
    text = (
        f"{s.chunks} chunks from {s.documents} documents: "
        f"{_pct(s.shares['text_not_embedded'])} of their text never embedded, "
        f"{_pct(s.shares['truncated'])} of chunks over the {window}-token window; "
        f"mid-sentence ends {_pct(s.shares['mid_sentence_end'])}, "
        f"fragments {_pct(s.shares['fragment'])}, junk {_pct(s.shares['junk'])}"
    )
    c = result.comparison
    if c is not None:
        drifted = ", ".join(c.drifted) or "nothing"
        text += f"; drift since run {c.reference_run} ({c.reference_kind}): {drifted}"
    return text


def metrics(result: ChunkingResult) -> list[Metric]:
    s = result.snapshot
    labels = {"collection": s.collection}
    out = [
        Metric(name="chunking_chunks", value=s.chunks, labels=labels),
        Metric(name="chunking_documents", value=s.documents, labels=labels),
    ]
    for share, (name, extra) in SHARE_METRICS.items():
        out.append(Metric(name=name, value=s.shares.get(share, 0.0), labels={**labels, **extra}))
    out += [
        Metric(
            name="chunking_tokens", value=s.lengths.tokens[stat], labels={**labels, "stat": stat}
        )
        for stat in ("p50", "p95", "max")
    ]
    out.append(Metric(name="chunking_boilerplate_lines", value=len(s.boilerplate), labels=labels))
    c = result.comparison
    if c is not None:
        out += [
            Metric(
                name="chunking_drift",
                value=float(f.drifted),
                labels={**labels, "feature": f.feature},
            )
            for f in c.features
        ]
        out.append(Metric(name="chunking_drifted_features", value=len(c.drifted), labels=labels))
        out.append(
            Metric(name="chunking_documents_changed", value=c.documents_changed, labels=labels)
        )
    return out


def findings(result: ChunkingResult, settings: ChunkingQualitySettings) -> list[Finding]:
    s = result.snapshot
    out: list[Finding] = []
    warn = s.shares["truncated"] > 0 or s.shares["text_not_embedded"] > 0
    for worst in s.worst[: settings.top_documents]:
        example = worst.example
        if worst.text_not_embedded_share > 0:
            message = (
                f"{_pct(worst.text_not_embedded_share)} of its text is never "
                f"embedded ({_pct(worst.shares.get('truncated', 0.0))} of its {worst.chunks} "
                f"chunks exceed the {s.lengths.window}-token window)"
            )
            kind = "text_not_embedded"
        else:
            problems = ", ".join(f"{k} {_pct(v)}" for k, v in worst.shares.items())
            message = (
                f"{_pct(worst.problem_share)} of its {worst.chunks} chunks "
                f"are badly cut or hold junk ({problems})"
            )
            kind = "chunking_problem"
        out.append(
            Finding(
                kind=kind,
                severity=Severity.WARNING if warn else Severity.INFO,
                message=message,
                source_id=worst.document,
                chunk_ids=(example.chunk_id,) if example else (),
                evidence={
                    "shares": dict(worst.shares),
                    "example": {
                        "head": example.head,
                        "tail": example.tail,
                        "flags": list(example.flags),
                    }
                    if example
                    else None,
                },
            )
        )
    for line in s.boilerplate[:10]:
        out.append(
            Finding(
                kind="boilerplate",
                severity=Severity.INFO,
                message=(
                    f"boilerplate line in {line.chunks} chunks of {line.documents} documents: "
                    f"{line.text[:120]}"
                ),
                evidence={"line": line.text, "chunks": line.chunks, "documents": line.documents},
            )
        )
    c = result.comparison
    if c is not None:
        for f in c.features:
            if not f.drifted:
                continue
            p = f"p = {f.p_value:.2g}" if f.p_value is not None else "no test"
            out.append(
                Finding(
                    kind="drift",
                    severity=Severity.WARNING,
                    message=(
                        f"{f.feature} drifted since run {c.reference_run}: "
                        f"{_fmt(f.reference, f.kind)} -> {_fmt(f.current, f.kind)} "
                        f"({f.test}, statistic {f.statistic}, {p})"
                    ),
                    evidence={
                        "feature": f.feature,
                        "test": f.test,
                        "statistic": f.statistic,
                        "p_value": f.p_value,
                        "reference": f.reference,
                        "current": f.current,
                        "delta": f.delta,
                    },
                )
            )
        for change in c.documents[: settings.top_documents]:
            out.append(
                Finding(
                    kind="document_changed",
                    severity=Severity.INFO,
                    message=(
                        f"{change.status}: {change.chunks_before} -> "
                        f"{change.chunks_after} chunks; text never embedded "
                        f"{_pct(change.shares_before.get('text_not_embedded', 0.0))} -> "
                        f"{_pct(change.shares_after.get('text_not_embedded', 0.0))}, "
                        "mid-sentence ends "
                        f"{_pct(change.shares_before.get('mid_sentence_end', 0.0))} -> "
                        f"{_pct(change.shares_after.get('mid_sentence_end', 0.0))}"
                    ),
                    source_id=change.document,
                    evidence={"score": change.score},
                )
            )
    return out


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%" if share < 0.1 else f"{share * 100:.0f}%"


def _fmt(value: float, kind: str) -> str:
    return _pct(value) if kind == "share" else f"mean {value:.1f}"
