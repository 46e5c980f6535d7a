"""OpenInference traces (Arize Phoenix's instrumentors) as OTLP JSON lines.

A response is a trace with at least one RETRIEVER span (``openinference.span.kind``; the
OTel span kind is INTERNAL everywhere). The query is the retriever's ``input.value``; the
chunks are ``retrieval.documents.N.document.*`` in rank order. LangChain's instrumentor
(openinference-instrumentation-langchain 0.1.80) records content and metadata there but
no id and no score: the ids are read from the retriever's ``output.value`` JSON
(``{"documents": [{"id", "metadata", "page_content"}]}``), in the same order. The answer
is the root span's ``output.value``, else the last LLM span's output message.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from monitor.errors import LogLineError
from monitor.logs.otlp import Span, TraceLog, json_or_none, root_or_first, trace_labels
from monitor.logs.values import parse_score, parse_time, text_or_none
from monitor.records import ResponseRecord, RetrievedChunk, ScoreKind

KIND = "openinference.span.kind"
_DOC = "retrieval.documents."
_LABELS = ("session.id", "user.id", "llm.model_name")
_NOTHING = (None, None, None, None)
_KEYS: list[tuple[str, str, str, str]] = []


def _doc_keys() -> Iterator[tuple[str, str, str, str]]:
    """The id, score, content and metadata attribute keys of rank 0, 1, 2, ... (made once)."""
    for rank in itertools.count():
        if rank == len(_KEYS):
            key = f"{_DOC}{rank}.document."
            _KEYS.append((f"{key}id", f"{key}score", f"{key}content", f"{key}metadata"))
        yield _KEYS[rank]


class OpenInferenceLog(TraceLog):
    """`ResponseLog` for OpenInference spans in the collector's OTLP JSON file format."""

    format = "openinference"

    def __init__(
        self,
        *,
        score_kind: str = "similarity",
        grounding_attribute: str = "",
        feedback_attribute: str = "",
        now: Any = None,
    ):
        super().__init__(now=now)
        self._kind = ScoreKind(score_kind)
        self._grounding = grounding_attribute
        self._feedback = feedback_attribute

    def build(self, trace: str, spans: list[Span], *, complete: bool) -> ResponseRecord | None:
        spans = sorted(spans, key=lambda s: s.start_ns)
        retrievers = [s for s in spans if s.attributes.get(KIND) == "RETRIEVER"]
        if not retrievers:
            return None
        root = root_or_first(spans)
        chunks: list[RetrievedChunk] = []
        for span in retrievers:
            chunks += self._documents(span)
        answer = root.attributes.get("output.value") if root.is_root else None
        if answer is None:
            answer = _llm_output(spans)
        labels = trace_labels(spans, _LABELS, root, complete=complete)
        return ResponseRecord(
            id=trace,
            time=parse_time(root.start_ns or retrievers[0].start_ns, "startTimeUnixNano"),
            query=text_or_none(retrievers[0].attributes.get("input.value"), "input.value"),
            answer=text_or_none(answer, "output.value"),
            chunks=tuple(chunks),
            grounding=self._attribute_score(spans, self._grounding),
            feedback=_attribute_text(spans, self._feedback),
            labels=labels,
        )

    def _documents(self, span: Span) -> list[RetrievedChunk]:
        attrs = span.attributes
        get = attrs.get
        found: list[tuple[Any, Any, Any, Any]] = []
        # Ranks are 0, 1, 2, ...: look each one's four keys up rather than parse every key.
        for id_key, score_key, content_key, meta_key in _doc_keys():
            doc = (get(id_key), get(score_key), get(content_key), get(meta_key))
            if doc == _NOTHING:
                break
            found.append(doc)
        # Ids missing from the attributes (LangChain's instrumentor): from output.value.
        need_output = not found or any(doc[0] is None for doc in found)
        listed = _output_documents(get("output.value")) if need_output else []
        out = []
        empty: dict[str, Any] = {}
        kind = self._kind
        for rank in range(max(len(found), len(listed))):
            cid, score, text, meta = found[rank] if rank < len(found) else _NOTHING
            extra = listed[rank] if rank < len(listed) else empty
            if cid is None:
                cid = extra.get("id")
            if score is not None:
                score = parse_score(score, f"{_DOC}{rank}.document.score")
            if text is None:
                text = extra.get("page_content")
            source = None
            if cid is None:  # the source helps find the chunk by its text (logs.textmatch)
                meta = json_or_none(meta) or extra.get("metadata") or empty
                if isinstance(meta, dict):
                    source = meta.get("source") or meta.get("file_path")
            out.append(
                RetrievedChunk(
                    None if cid is None else str(cid),
                    score,
                    kind if score is not None else None,
                    text if isinstance(text, str) else None,
                    str(source) if source is not None else None,
                )
            )
        return out

    def _attribute_score(self, spans: list[Span], key: str) -> float | None:
        if not key:
            return None
        for span in reversed(spans):
            if key in span.attributes:
                return parse_score(span.attributes[key], key)
        return None


def _output_documents(value: Any) -> list[dict[str, Any]]:
    parsed = json_or_none(value)
    docs = parsed.get("documents") if isinstance(parsed, dict) else None
    return [d if isinstance(d, dict) else {} for d in docs] if isinstance(docs, list) else []


def _llm_output(spans: list[Span]) -> str | None:
    for span in reversed(spans):
        attrs = span.attributes
        if attrs.get(KIND) == "LLM":
            content = attrs.get("llm.output_messages.0.message.content")
            if isinstance(content, str):
                return content
            out = attrs.get("output.value")
            if isinstance(out, str):
                return out
    return None


def _attribute_text(spans: list[Span], key: str) -> str | None:
    if not key:
        return None
    for span in reversed(spans):
        if key in span.attributes:
            value = span.attributes[key]
            if isinstance(value, bool | int | float | str):
                return str(value).lower() if isinstance(value, bool) else str(value)
            raise LogLineError("wrong_type", f"{key}: expected a label")
    return None
