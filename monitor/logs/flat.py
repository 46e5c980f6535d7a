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
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import orjson

from monitor.errors import LogLineError
from monitor.logs.settings import FieldMapping
from monitor.logs.values import loads, parse_score, parse_time, text_or_none
from monitor.records import ResponseRecord, RetrievedChunk, ScoreKind

Path = str | tuple[str, ...]
"""A top-level key, or the parts of a dotted path."""
_INF = (math.inf, -math.inf)
_MAX = sys.float_info.max


def _path(path: str, *, flat: bool) -> Path | None:
    if not path:
        return None
    parts = tuple(path.split("."))
    return path if flat or len(parts) == 1 else parts


def _get(obj: Any, path: Path | None) -> Any:
    """The value at ``path``; None when any step is missing (JSON null counts as missing)."""
    if path is None:
        return None
    if path.__class__ is str:
        return obj.get(path) if obj.__class__ is dict else None
    for part in path:
        if obj.__class__ is dict:
            obj = obj.get(part)
        elif obj.__class__ is list and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return None
        if obj is None:
            return None
    return obj


def _score(value: Any, key: str, bounds: tuple[float, float] | None) -> float | None:
    if value.__class__ is float:  # the common case, checked inline
        if value != value or value in _INF:
            raise LogLineError("bad_score", f"{key}: {value!r} is not a finite number")
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            raise LogLineError("bad_score", f"{key}: {value} is outside [{bounds[0]}, {bounds[1]}]")
        return value
    return parse_score(value, key, bounds)


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
        self._id = _path(m.id, flat=flat)
        self._time = _path(m.time, flat=flat)
        self._query = _path(m.query, flat=flat)
        self._answer = _path(m.answer, flat=flat)
        self._chunks = None if m.chunk_ids else _path(m.chunks, flat=flat)
        self._chunk_id = _path(m.chunk_id, flat=False)
        self._chunk_score = _path(m.chunk_score, flat=False)
        self._chunk_text = _path(m.chunk_text, flat=False)
        self._simple_chunks = all(
            p is None or p.__class__ is str
            for p in (self._chunk_id, self._chunk_score, self._chunk_text)
        )
        self._chunk_ids = _path(m.chunk_ids, flat=flat)
        self._chunk_scores = _path(m.chunk_scores, flat=flat)
        self._context = _path(m.context, flat=flat)
        self._grounding = _path(m.grounding, flat=flat)
        self._feedback = _path(m.feedback, flat=flat)
        self._labels = [(p, _path(p, flat=flat)) for p in m.labels if p]
        mapped = [m.id, m.time, m.query, m.answer, m.context, m.grounding, m.feedback, *m.labels]
        mapped += [m.chunk_ids, m.chunk_scores] if m.chunk_ids else [m.chunks]
        self._mapped_tops = frozenset(p.split(".")[0] if not flat else p for p in mapped if p)
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
        rid = _get(obj, self._id)
        if rid is None or rid == "":
            raise LogLineError("missing_field", f"{m.id or '(unmapped id)'} is missing")
        if rid.__class__ is not str:
            if isinstance(rid, bool) or not isinstance(rid, int):
                raise LogLineError("wrong_type", f"{m.id}: expected text, got {type(rid).__name__}")
            rid = str(rid)
        moment = _get(obj, self._time)
        if moment is None or moment == "":
            raise LogLineError("missing_field", f"{m.time or '(unmapped time)'} is missing")
        when = parse_time(moment, m.time)
        query = _get(obj, self._query)
        if query is not None and query.__class__ is not str:
            query = text_or_none(query, m.query)
        answer = _get(obj, self._answer)
        if answer is not None and answer.__class__ is not str:
            answer = text_or_none(answer, m.answer)
        context = _get(obj, self._context)
        if context is not None and context.__class__ is not str:
            context = text_or_none(context, m.context)
        grounding = _get(obj, self._grounding)
        if grounding is not None:
            grounding = _score(grounding, m.grounding, m.grounding_range)
        feedback = _get(obj, self._feedback)
        if feedback is not None and feedback.__class__ is not str:
            feedback = self._feedback_text(feedback)
        return ResponseRecord(
            id=rid,
            time=when,
            query=query,
            answer=answer,
            chunks=self._retrieved(obj),
            context=context,
            grounding=grounding,
            feedback=feedback,
            labels=self._label_map(obj),
        )

    def _feedback_text(self, value: Any) -> str | None:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and not math.isfinite(value):
            raise LogLineError("bad_score", f"{self.mapping.feedback}: {value!r}")
        return text_or_none(value, self.mapping.feedback)

    def _retrieved(self, obj: Any) -> tuple[RetrievedChunk, ...]:
        m = self.mapping
        kind, bounds = self._kind, self._range
        if self._chunk_ids is not None:
            ids = self._list(_get(obj, self._chunk_ids), m.chunk_ids)
            scores = self._list(_get(obj, self._chunk_scores), m.chunk_scores)
            if scores and len(scores) != len(ids):
                raise LogLineError(
                    "wrong_type", f"{m.chunk_scores}: {len(scores)} scores for {len(ids)} ids"
                )
            out = []
            for i, cid in enumerate(ids):
                if not isinstance(cid, str | int) or isinstance(cid, bool):
                    raise LogLineError("wrong_type", f"{m.chunk_ids}[{i}]: expected an id")
                score = _score(scores[i], f"{m.chunk_scores}[{i}]", bounds) if scores else None
                out.append(RetrievedChunk(str(cid), score, kind if score is not None else None))
            return tuple(out)
        items = self._list(_get(obj, self._chunks), m.chunks)
        id_path, score_path, text_path = self._chunk_id, self._chunk_score, self._chunk_text
        simple = self._simple_chunks
        lo, hi = bounds if bounds is not None else (-_MAX, _MAX)  # infinities fail
        make = tuple.__new__  # RetrievedChunk(...) without NamedTuple's Python-level __new__
        out = []
        for i, item in enumerate(items):
            if item.__class__ is not dict:
                if item.__class__ is str:
                    out.append(RetrievedChunk(item))
                    continue
                raise LogLineError("wrong_type", f"{m.chunks}[{i}]: expected an object or an id")
            if simple:
                cid, score, text = item.get(id_path), item.get(score_path), item.get(text_path)
            else:
                cid, score = _get(item, id_path), _get(item, score_path)
                text = _get(item, text_path)
            if cid.__class__ is not str:
                if cid is None or isinstance(cid, bool) or not isinstance(cid, int | float):
                    raise LogLineError(
                        "missing_field" if cid is None else "wrong_type",
                        f"{m.chunks}[{i}].{m.chunk_id}: expected an id",
                    )
                cid = str(cid)
            if score is not None:
                # Checked inline for plain floats; the key is only spelled out for an error.
                if score.__class__ is not float or score != score or not lo <= score <= hi:
                    score = _score(score, f"{m.chunks}[{i}].{m.chunk_score}", bounds)
                out.append(
                    make(
                        RetrievedChunk,
                        (cid, score, kind, text if text.__class__ is str else None, None),
                    )
                )
            else:
                out.append(
                    make(
                        RetrievedChunk,
                        (cid, None, None, text if text.__class__ is str else None, None),
                    )
                )
        return tuple(out)

    def _list(self, value: Any, key: str) -> list[Any]:
        if value.__class__ is list:
            return value
        if value is None or value == "":
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
        for name, path in self._labels:
            value = _get(obj, path)
            if value is not None:
                labels[name] = value if value.__class__ is str else orjson.dumps(value).decode()
        if self._keep_others:
            mapped = self._mapped_tops
            for key, value in obj.items():
                if key in mapped or key in labels or value is None:
                    continue
                if value.__class__ is str:
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
