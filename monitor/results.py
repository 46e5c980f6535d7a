"""Typed results: what each analysis hands back, as a frozen record that knows its JSON.

A job stores its analysis' result as JSON with the run (`RunResult.details`); the report,
`ragmon fix-queue` and the demo read it back through the same record, so a field is
named once. Every result carries a schema tag (``ragmon.freshness/1``); `from_json`
refuses another one rather than guess. Conversion is pydantic's (`TypeAdapter`), which
knows dataclasses, enums, datetimes and nested records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

from monitor.errors import ResultSchemaError


class ResultRecord:
    """Mixin for a frozen dataclass: ``SCHEMA`` plus `to_json` / `from_json`."""

    __slots__ = ()
    SCHEMA: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-ready data, its schema tag first."""
        body = _adapter(type(self)).dump_python(self, mode="json")
        return {"schema": self.SCHEMA, **body}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """The record stored as ``data``; raises `ResultSchemaError` for another schema."""
        from pydantic import ValidationError

        found = data.get("schema") if isinstance(data, Mapping) else None
        if found != cls.SCHEMA:
            raise ResultSchemaError(cls.SCHEMA, found)
        body = {k: v for k, v in data.items() if k != "schema"}
        try:
            record: Self = _adapter(cls).validate_python(body)
        except ValidationError as exc:
            raise ResultSchemaError(cls.SCHEMA, found, str(exc.errors()[0])) from None
        return record


_ADAPTERS: dict[type, Any] = {}


def _adapter(cls: type) -> Any:
    if cls not in _ADAPTERS:
        from pydantic import TypeAdapter

        _ADAPTERS[cls] = TypeAdapter(cls)
    return _ADAPTERS[cls]
