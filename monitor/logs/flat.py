"""Flat response logs: JSON lines (optionally gzipped) and CSV, through a field mapping.

The mapping (``[logs.mapping]``) names where each field is: a dotted path into the JSON
object (``retrieval.chunks``, ``meta.user.id``) or, for CSV, a column name. Retrieved
chunks are either a list of objects (``chunks`` with ``chunk_id``/``chunk_score``/
``chunk_text`` inside each) or plain ids, or two parallel lists (``chunk_ids`` and
``chunk_scores``). A CSV cell holding several ids is a JSON list or ids joined by
``list_separator``. Fields no key maps are kept as labels when they are scalars.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import orjson

from monitor.errors import LogLineError
from monitor.logs.settings import FieldMapping
from monitor.logs.values import loads, parse_score, parse_time, text_or_none
from monitor.records import ResponseRecord, RetrievedChunk, ScoreKind

Getter = Callable[[Any], Any]
_MISSING = object()


def _getter(path: str, *, flat: bool) -> Getter | None:
    """A function reading ``path`` from a parsed record; None for an unmapped field."""
    if not path:
        return None
    parts = [path] if flat else path.split(".")
    if len(parts) == 1:
        key = parts[0]
        return lambda obj: obj.get(key, _MISSING) if isinstance(obj, dict) else _MISSING

    def get(obj: Any) -> Any:
        for part in parts:
            if isinstance(obj, dict):
                obj = obj.get(part, _MISSING)
            elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
                obj = obj[int(part)]
            else:
                return _MISSING
            if obj is _MISSING:
                return obj
        return obj

    return get


class FlatLog:
    """`ResponseLog` for JSON lines and CSV, one response per line."""

    def __init__(self, mapping: FieldMapping, *, csv_format: bool = False):
        self.mapping = mapping
        self._csv = csv_format
        self._columns: list[str] | None = None
        self._kind = ScoreKind(mapping.score_kind)
        self._range = mapping.score_range
        self._grounding_range = mapping.grounding_range
        flat = csv_format
        m = mapping
        self._id = _getter(m.id, flat=flat)
        self._time = _getter(m.time, flat=flat)
        self._query = _getter(m.query, flat=flat)
        self._answer = _getter(m.answer, flat=flat)
        self._chunks = None if m.chunk_ids else _getter(m.chunks, flat=flat)
        self._chunk_id = _getter(m.chunk_id, flat=False)
        self._chunk_score = _getter(m.chunk_score, flat=False)
        self._chunk_text = _getter(m.chunk_text, flat=False)
        self._chunk_ids = _getter(m.chunk_ids, flat=flat)
        self._chunk_scores = _getter(m.chunk_scores, flat=flat)
        self._context = _getter(m.context, flat=flat)
        self._grounding = _getter(m.grounding, flat=flat)
        self._feedback = _getter(m.feedback, flat=flat)
        self._labels = [(p, g) for p in m.labels if (g := _getter(p, flat=flat)) is not None]
        mapped = [m.id, m.time, m.query, m.answer, m.context, m.grounding, m.feedback, *m.labels]
        mapped += [m.chunk_ids, m.chunk_scores] if m.chunk_ids else [m.chunks]
        self._mapped_tops = {p.split(".")[0] if not flat else p for p in mapped if p}
        self._keep_others = m.other_fields_as_labels

    @property
    def format(self) -> str:
        return "csv" if self._csv else "jsonl"

    def begin(self, file: str, header: bytes | None) -> None:
        if self._csv:
            if header is None:
                raise LogLineError("missing_field", f"{file}: a CSV log needs a header line")
            self._columns = next(csv.reader([header.decode("utf-8-sig").rstrip("\r\n")]), [])

    def parse(self, line: bytes) -> Sequence[ResponseRecord]:
        if self._csv:
            obj: Any = self._csv_row(line)
            if obj is None:  # the header itself, or an empty line
                return ()
        else:
            obj = loads(line)
            if not isinstance(obj, dict):
                raise LogLineError(
                    "wrong_type", f"expected a JSON object, got {type(obj).__name__}"
                )
        return (self.record(obj),)

    def _csv_row(self, line: bytes) -> dict[str, str] | None:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LogLineError("invalid_json", f"not UTF-8 text ({exc.reason})") from None
        cells = next(csv.reader([text.rstrip("\r\n")]), [])
        columns = self._columns or []
        if not cells or cells == columns:
            return None
        if len(cells) != len(columns):
            raise LogLineError(
                "wrong_type", f"{len(cells)} cells where the header has {len(columns)} columns"
            )
        return {c: v for c, v in zip(columns, cells, strict=True) if v != ""}

    def record(self, obj: dict[str, Any]) -> ResponseRecord:
        """The response held by one parsed line (a JSON object, or a CSV row by column)."""
        m = self.mapping
        rid = self._required(obj, self._id, m.id)
        if isinstance(rid, bool) or not isinstance(rid, str | int):
            raise LogLineError("wrong_type", f"{m.id}: expected text, got {type(rid).__name__}")
        when = parse_time(self._required(obj, self._time, m.time), m.time)
        return ResponseRecord(
            id=str(rid),
            time=when,
            query=self._text(obj, self._query, m.query),
            answer=self._text(obj, self._answer, m.answer),
            chunks=self._retrieved(obj),
            context=self._text(obj, self._context, m.context),
            grounding=self._score(obj, self._grounding, m.grounding, self._grounding_range),
            feedback=self._feedback_of(obj),
            labels=self._label_map(obj),
        )

    @staticmethod
    def _required(obj: Any, get: Getter | None, key: str) -> Any:
        value = get(obj) if get is not None else _MISSING
        if value is _MISSING or value is None or value == "":
            raise LogLineError("missing_field", f"{key or '(unmapped)'} is missing")
        return value

    @staticmethod
    def _text(obj: Any, get: Getter | None, key: str) -> str | None:
        if get is None:
            return None
        value = get(obj)
        return None if value is _MISSING else text_or_none(value, key)

    @staticmethod
    def _score(
        obj: Any, get: Getter | None, key: str, bounds: tuple[float, float] | None
    ) -> float | None:
        if get is None:
            return None
        value = get(obj)
        return None if value is _MISSING else parse_score(value, key, bounds)

    def _feedback_of(self, obj: Any) -> str | None:
        if self._feedback is None:
            return None
        value = self._feedback(obj)
        if value is _MISSING or value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and not math.isfinite(value):
            raise LogLineError("bad_score", f"{self.mapping.feedback}: {value!r}")
        return text_or_none(value, self.mapping.feedback)

    def _retrieved(self, obj: Any) -> tuple[RetrievedChunk, ...]:
        m = self.mapping
        kind, bounds = self._kind, self._range
        if self._chunk_ids is not None:
            ids = self._list(self._chunk_ids(obj), m.chunk_ids)
            scores = (
                self._list(self._chunk_scores(obj), m.chunk_scores) if self._chunk_scores else []
            )
            if scores and len(scores) != len(ids):
                raise LogLineError(
                    "wrong_type", f"{m.chunk_scores}: {len(scores)} scores for {len(ids)} ids"
                )
            out = []
            for i, cid in enumerate(ids):
                if not isinstance(cid, str | int) or isinstance(cid, bool):
                    raise LogLineError("wrong_type", f"{m.chunk_ids}[{i}]: expected an id")
                score = parse_score(scores[i], f"{m.chunk_scores}[{i}]", bounds) if scores else None
                out.append(RetrievedChunk(str(cid), score, kind if score is not None else None))
            return tuple(out)
        if self._chunks is None:
            return ()
        items = self._list(self._chunks(obj), m.chunks)
        get_id, get_score, get_text = self._chunk_id, self._chunk_score, self._chunk_text
        out = []
        for i, item in enumerate(items):
            if isinstance(item, str):
                out.append(RetrievedChunk(item))
                continue
            if not isinstance(item, dict):
                raise LogLineError("wrong_type", f"{m.chunks}[{i}]: expected an object or an id")
            cid = get_id(item) if get_id is not None else _MISSING
            if cid is _MISSING or cid is None or isinstance(cid, bool | dict | list):
                raise LogLineError("missing_field", f"{m.chunks}[{i}].{m.chunk_id} is missing")
            raw = get_score(item) if get_score is not None else _MISSING
            score = None if raw is _MISSING else parse_score(raw, f"{m.chunks}[{i}].score", bounds)
            text = get_text(item) if get_text is not None else _MISSING
            out.append(
                RetrievedChunk(
                    str(cid),
                    score,
                    kind if score is not None else None,
                    text if isinstance(text, str) else None,
                )
            )
        return tuple(out)

    def _list(self, value: Any, key: str) -> list[Any]:
        if value is _MISSING or value is None or value == "":
            return []
        if isinstance(value, str):  # a CSV cell
            text = value.strip()
            if text.startswith("["):
                try:
                    value = orjson.loads(text)
                except orjson.JSONDecodeError:
                    raise LogLineError("invalid_json", f"{key}: not a JSON list") from None
            else:
                return [v for v in text.split(self.mapping.list_separator) if v]
        if not isinstance(value, list):
            raise LogLineError("wrong_type", f"{key}: expected a list, got {type(value).__name__}")
        return value

    def _label_map(self, obj: dict[str, Any]) -> dict[str, str]:
        labels: dict[str, str] = {}
        for path, get in self._labels:
            value = get(obj)
            if value is not _MISSING and value is not None:
                labels[path] = value if isinstance(value, str) else orjson.dumps(value).decode()
        if self._keep_others:
            for key, value in obj.items():
                if key in self._mapped_tops or key in labels:
                    continue
                if isinstance(value, str):
                    labels[key] = value
                elif isinstance(value, int | float | bool):
                    labels[key] = orjson.dumps(value).decode()
        return labels

    def expire(self, before: datetime) -> Iterator[ResponseRecord | LogLineError]:
        return iter(())

    def pending(self) -> bytes | None:
        return None

    def restore(self, state: bytes | None) -> None:
        return None
