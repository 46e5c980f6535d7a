"""Systems of record for identifier validators: a CSV column, or a read-only SQL query."""

from __future__ import annotations

import csv
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from monitor.errors import SystemOfRecordError
from monitor.grounding.settings import ValidatorSettings
from monitor.grounding.values import normalise_identifier
from monitor.ports import SystemOfRecord

log = logging.getLogger(__name__)


class CsvRecords:
    """The identifiers in one column of a CSV file with a header, read once."""

    def __init__(self, validator: str, path: Path, column: str):
        self._where = str(path)
        try:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                reader = csv.DictReader(handle)
                if reader.fieldnames is None or column not in reader.fieldnames:
                    found = ", ".join(reader.fieldnames or []) or "none"
                    raise SystemOfRecordError(
                        validator, self._where, f"no column {column!r} (columns: {found})"
                    )
                self._ids = frozenset(
                    normalise_identifier(row[column]) for row in reader if row.get(column)
                )
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise SystemOfRecordError(validator, self._where, str(exc)) from None
        log.debug("%s: %d identifiers in %s", validator, len(self._ids), path)

    def describe(self) -> str:
        return self._where

    def exists(self, identifier: str) -> bool:
        # Both sides normalised: "ORD-7842" in the file matches "#ord7842" in an answer.
        return normalise_identifier(identifier) in self._ids


class SqlRecords:
    """Runs the validator's SELECT with ``:value`` bound, in a read-only transaction."""

    def __init__(self, validator: str, url: str, query: str, *, cache_size: int = 4096):
        from sqlalchemy import create_engine, event, text
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, SQLAlchemyError

        self._validator = validator
        try:
            parsed = make_url(url)
            self._where = parsed.render_as_string(hide_password=True)
            self._engine = create_engine(parsed)
        except (ArgumentError, SQLAlchemyError, ImportError, ValueError) as exc:
            raise SystemOfRecordError(validator, url.split("@")[-1], str(exc)) from None
        if parsed.get_backend_name() == "sqlite":
            # SQLite has no read-only transactions; query_only makes any write fail.
            @event.listens_for(self._engine, "connect")
            def _query_only(dbapi_connection: Any, record: Any) -> None:
                dbapi_connection.execute("PRAGMA query_only = ON")

        self._query = text(query)
        self._exists = lru_cache(maxsize=cache_size)(self._lookup)

    def _lookup(self, identifier: str) -> bool:
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with self._engine.connect() as connection:
                connection = connection.execution_options(postgresql_readonly=True)
                row = connection.execute(self._query, {"value": identifier}).first()
                connection.rollback()
        except SQLAlchemyError as exc:
            raise SystemOfRecordError(
                self._validator, self._where, str(exc).splitlines()[0]
            ) from None
        return row is not None

    def describe(self) -> str:
        return self._where

    def exists(self, identifier: str) -> bool:
        return bool(self._exists(identifier))

    def close(self) -> None:
        self._engine.dispose()


def open_system(settings: ValidatorSettings) -> SystemOfRecord | None:
    """The validator's system of record, or None when it only checks the context."""
    if settings.csv is not None and settings.column is not None:
        return CsvRecords(settings.name, settings.csv, settings.column)
    if settings.url is not None and settings.query is not None:
        return SqlRecords(settings.name, settings.url, settings.query)
    return None
