"""OpenTelemetry GenAI retrieval spans, as OTLP JSON lines.

Convention read: the *Retrievals* span of the OpenTelemetry GenAI semantic conventions
(``docs/gen-ai/gen-ai-spans.md`` in open-telemetry/semantic-conventions-genai, the
attributes shipped in opentelemetry-semantic-conventions 0.66b2, schema 1.41). Its status
is **Development** (experimental): names may change in a minor release.

- a retrieval span has ``gen_ai.operation.name = "retrieval"``;
- ``gen_ai.retrieval.query.text`` is the query;
- ``gen_ai.retrieval.documents`` is ``[{"id", "score"}, ...]``, structured or as a JSON
  string; ``content`` (or ``text``) is read when present;
- the answer comes from an inference span (``chat``, ``text_completion``,
  ``generate_content``) of the same trace: the text parts of ``gen_ai.output.messages``.
"""

from __future__ import annotations

from typing import Any

from monitor.errors import LogLineError
from monitor.logs.otlp import Span, TraceLog, json_or_none, root_or_first, trace_labels
from monitor.logs.values import parse_score, parse_time, text_or_none
from monitor.records import ResponseRecord, RetrievedChunk, ScoreKind

OPERATION = "gen_ai.operation.name"
QUERY = "gen_ai.retrieval.query.text"
DOCUMENTS = "gen_ai.retrieval.documents"
_INFERENCE = {"chat", "text_completion", "generate_content"}
_LABELS = (
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.conversation.id",
    "gen_ai.data_source.id",
)


class GenAILog(TraceLog):
    """`ResponseLog` for GenAI semantic-convention retrieval spans in OTLP JSON lines."""

    format = "genai"

    def __init__(self, *, score_kind: str = "similarity", now: Any = None):
        super().__init__(now=now)
        self._kind = ScoreKind(score_kind)

    def build(self, trace: str, spans: list[Span], *, complete: bool) -> ResponseRecord | None:
        spans = sorted(spans, key=lambda s: s.start_ns)
        retrievals = [s for s in spans if s.attributes.get(OPERATION) == "retrieval"]
        if not retrievals:
            return None
        chunks: list[RetrievedChunk] = []
        for span in retrievals:
            chunks += self._documents(span)
        root = root_or_first(spans)
        labels = trace_labels(spans, _LABELS, root, complete=complete)
        return ResponseRecord(
            id=trace,
            time=parse_time(root.start_ns or retrievals[0].start_ns, "startTimeUnixNano"),
            query=text_or_none(retrievals[0].attributes.get(QUERY), QUERY),
            answer=_answer(spans),
            chunks=tuple(chunks),
            labels=labels,
        )

    def _documents(self, span: Span) -> list[RetrievedChunk]:
        raw = span.attributes.get(DOCUMENTS)
        docs = json_or_none(raw) if isinstance(raw, str) else raw
        if docs is None:
            return []
        if not isinstance(docs, list):
            raise LogLineError("wrong_type", f"{DOCUMENTS}: expected a list of documents")
        out = []
        for rank, doc in enumerate(docs):
            if not isinstance(doc, dict) or doc.get("id") in (None, ""):
                raise LogLineError("missing_field", f"{DOCUMENTS}[{rank}].id is missing")
            score = parse_score(doc.get("score"), f"{DOCUMENTS}[{rank}].score")
            text = doc.get("content", doc.get("text"))
            out.append(
                RetrievedChunk(
                    str(doc["id"]),
                    score,
                    self._kind if score is not None else None,
                    text if isinstance(text, str) else None,
                )
            )
        return out


def _answer(spans: list[Span]) -> str | None:
    for span in reversed(spans):
        if span.attributes.get(OPERATION) not in _INFERENCE:
            continue
        messages = span.attributes.get("gen_ai.output.messages")
        messages = json_or_none(messages) if isinstance(messages, str) else messages
        if not isinstance(messages, list):
            continue
        texts = [
            part["content"]
            for message in messages
            if isinstance(message, dict)
            for part in message.get("parts") or ()
            if isinstance(part, dict)
            and part.get("type") == "text"
            and isinstance(part.get("content"), str)
        ]
        if texts:
            return "\n".join(texts)
    return None
