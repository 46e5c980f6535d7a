"""OTLP JSON as the OpenTelemetry collector's file exporter writes it: one
``{"resourceSpans": [...]}`` object per line, hex ids, 64-bit integers as strings.

`Span` is what the trace adapters read; `TraceBuffer` holds spans until their trace's
root arrives (instrumentors export spans as they end: children first, the root last,
and a trace may be split over lines and files).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from monitor import clock
from monitor.errors import LogLineError
from monitor.logs.values import epoch_us, hex_id, loads


@dataclass(frozen=True, kw_only=True, slots=True)
class Span:
    """One span with its attributes flattened to plain values."""

    trace_id: str
    span_id: str
    parent_id: str
    name: str
    start_ns: int
    attributes: Mapping[str, Any]
    resource: Mapping[str, Any]

    @property
    def is_root(self) -> bool:
        return not self.parent_id

    def to_json(self) -> list[Any]:
        return [
            self.trace_id,
            self.span_id,
            self.parent_id,
            self.name,
            self.start_ns,
            dict(self.attributes),
            dict(self.resource),
        ]

    @classmethod
    def from_json(cls, raw: list[Any]) -> Span:
        t, s, p, n, start, attrs, res = raw
        return cls(
            trace_id=t,
            span_id=s,
            parent_id=p,
            name=n,
            start_ns=start,
            attributes=attrs,
            resource=res,
        )


def value_of(value: Mapping[str, Any]) -> Any:
    """An OTLP ``AnyValue`` as a plain value (ints arrive as text: 64-bit in JSON)."""
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        raw = value["doubleValue"]
        return float(raw) if not isinstance(raw, float) else raw
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [value_of(v) for v in value["arrayValue"].get("values", ())]
    if "kvlistValue" in value:
        return {
            kv["key"]: value_of(kv.get("value", {}))
            for kv in value["kvlistValue"].get("values", ())
        }
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def attributes(items: Any) -> dict[str, Any]:
    """OTLP ``KeyValue`` list to a dict (most values are strings: that case is inlined)."""
    if not items:
        return {}
    return {
        kv["key"]: v["stringValue"]
        if "stringValue" in (v := kv.get("value") or {})
        else value_of(v)
        for kv in items
    }


def spans_of_line(line: bytes) -> list[Span]:
    """The spans of one line of the collector's file format."""
    obj = loads(line)
    if not isinstance(obj, dict):
        raise LogLineError("wrong_type", f"expected a JSON object, got {type(obj).__name__}")
    resource_spans = obj.get("resourceSpans")
    if resource_spans is None:
        raise LogLineError("missing_field", "resourceSpans is missing (not OTLP trace JSON?)")
    out: list[Span] = []
    try:
        for rs in resource_spans:
            resource = attributes((rs.get("resource") or {}).get("attributes"))
            for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or ():
                for span in ss.get("spans") or ():
                    trace = span.get("traceId")
                    if not trace:
                        raise LogLineError("missing_field", "a span without traceId")
                    out.append(
                        Span(
                            trace_id=hex_id(trace),
                            span_id=hex_id(span.get("spanId")),
                            parent_id=hex_id(span.get("parentSpanId")),
                            name=str(span.get("name", "")),
                            start_ns=int(span.get("startTimeUnixNano") or 0),
                            attributes=attributes(span.get("attributes")),
                            resource=resource,
                        )
                    )
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        raise LogLineError("wrong_type", f"resourceSpans: not OTLP trace JSON ({exc})") from None
    return out


class TraceBuffer:
    """Spans by trace until the trace's root span arrives."""

    def __init__(self) -> None:
        self._waiting: dict[str, tuple[int, list[Span]]] = {}

    def add(self, spans: list[Span], now: datetime) -> Iterator[tuple[str, list[Span]]]:
        """Yield (trace id, spans) of each trace these spans complete."""
        if not spans:
            return
        seen = epoch_us(now)
        roots: list[str] = []
        waiting = self._waiting
        for span in spans:
            entry = waiting.get(span.trace_id)
            if entry is None:
                entry = waiting[span.trace_id] = (seen, [])
            entry[1].append(span)
            if not span.parent_id:
                roots.append(span.trace_id)
        for trace in roots:
            entry = waiting.pop(trace, None)
            if entry is not None:
                yield trace, entry[1]

    def expire(self, before: datetime) -> Iterator[tuple[str, list[Span]]]:
        """Yield, and forget, the traces first seen before ``before``."""
        limit = epoch_us(before)
        for trace in [t for t, (seen, _) in self._waiting.items() if seen < limit]:
            yield trace, self._waiting.pop(trace)[1]

    def __len__(self) -> int:
        return len(self._waiting)

    def dump(self) -> bytes | None:
        if not self._waiting:
            return None
        return orjson.dumps(
            {t: [seen, [s.to_json() for s in spans]] for t, (seen, spans) in self._waiting.items()}
        )

    def load(self, state: bytes | None) -> None:
        self._waiting = {}
        if state:
            for trace, (seen, spans) in orjson.loads(state).items():
                self._waiting[trace] = (int(seen), [Span.from_json(s) for s in spans])


class TraceLog:
    """Base of the trace formats: spans in, one response per completed trace out."""

    format = "otlp"

    def __init__(self, *, now: Any = None) -> None:
        self._buffer = TraceBuffer()
        self._now = now or clock.now

    def begin(self, file: str, header: bytes | None) -> None:
        return None

    def parse(self, line: bytes) -> list[Any]:
        out: list[Any] = []
        for trace, spans in self._buffer.add(spans_of_line(line), self._now()):
            try:
                record = self.build(trace, spans, complete=True)
            except LogLineError as exc:
                out.append(exc)
                continue
            if record is not None:
                out.append(record)
        return out

    def expire(self, before: datetime) -> Iterator[Any]:
        for trace, spans in self._buffer.expire(before):
            try:
                record = self.build(trace, spans, complete=False)
            except LogLineError as exc:
                yield exc
                continue
            yield (
                record
                if record is not None
                else LogLineError(
                    "incomplete_trace",
                    f"trace {trace}: {len(spans)} span(s), no root and no retrieval after the wait",
                )
            )

    def pending(self) -> bytes | None:
        return self._buffer.dump()

    def restore(self, state: bytes | None) -> None:
        self._buffer.load(state)

    @property
    def waiting(self) -> int:
        """Traces whose root has not arrived yet."""
        return len(self._buffer)

    def build(self, trace: str, spans: list[Span], *, complete: bool) -> Any:
        """The response of one trace, or None when it holds no retrieval."""
        raise NotImplementedError


def root_or_first(spans: list[Span]) -> Span:
    """The root span, else the one that started first."""
    for span in spans:
        if span.is_root:
            return span
    return min(spans, key=lambda s: s.start_ns)


def trace_labels(
    spans: list[Span], keys: tuple[str, ...], root: Span, *, complete: bool
) -> dict[str, str]:
    """A response's labels from its trace: ``keys`` found on any span (the last span
    wins), the service name, and ``trace=incomplete`` when the root never arrived."""
    labels = {k: str(v) for s in spans for k in keys if (v := s.attributes.get(k)) is not None}
    if (service := root.resource.get("service.name")) is not None:
        labels["service.name"] = str(service)
    if not complete:
        labels["trace"] = "incomplete"
    return labels


def json_or_none(value: Any) -> Any:
    """A JSON-in-a-string attribute parsed, or None when it is not JSON."""
    if not isinstance(value, str):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
