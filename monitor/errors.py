"""Errors raised by the library. Each class builds its own message from its fields."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path


class MonitorError(Exception):
    """Base class of every error ragmon raises on purpose."""


class ConfigError(MonitorError):
    """The configuration file is missing, unreadable or does not validate."""

    def __init__(self, file: Path | str, key: str | None, problem: str, line: int | None = None):
        self.file = str(file)
        self.key = key
        self.problem = problem
        self.line = line
        where = self.file + (f", line {line}" if line else "")
        what = f"key '{key}': " if key else ""
        super().__init__(f"{where}: {what}{problem}")


class StoreError(MonitorError):
    """The vector store cannot be reached or does not hold what the config names."""


class CollectionNotFoundError(StoreError):
    """The configured collection does not exist in the store."""

    def __init__(self, name: str, where: str, available: list[str]):
        self.name = name
        listing = ", ".join(repr(n) for n in sorted(available)) or "none"
        super().__init__(
            f"No collection named {name!r} in {where} (collections there: {listing}). "
            "Set store.collection in the config, or build one with `ragmon index`."
        )


class SourceError(MonitorError):
    """The source catalog cannot be read."""


class SourceFileError(SourceError):
    """One source file cannot be used."""

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class MassDeleteError(SourceError):
    """`ragmon index` would delete more of the collection than ``index.max_delete_share``.

    Sources that all vanish at once are more often an unmounted share or a wrong path than
    a deliberate purge, so the run deletes nothing and writes nothing.
    """

    def __init__(self, *, deleting: int, total: int, documents: int, limit: float):
        self.deleting = deleting
        self.total = total
        self.documents = documents
        self.limit = limit
        share = deleting / total if total else 1.0
        super().__init__(
            f"ragmon index would delete {deleting} of {total} chunks ({share:.0%}) in one run, "
            f"more than index.max_delete_share ({limit:.0%}): {documents} "
            f"document{'' if documents == 1 else 's'} {'is' if documents == 1 else 'are'} gone "
            "from the sources. If they were really removed, run again with "
            "--allow-mass-delete; if the sources are on a share, check that it is mounted."
        )


class EmbedderError(MonitorError):
    """The embedding model cannot be loaded or used."""

    def __init__(self, model: str, reason: str):
        self.model = model
        super().__init__(
            f"Cannot load embedding model {model!r}: {reason}. "
            "ragmon never downloads weights: give embedding.model a local directory, "
            "or leave it empty for the packaged all-MiniLM-L6-v2."
        )


class HistoryError(MonitorError):
    """The history database cannot be used."""


class HistoryUnreadableError(HistoryError):
    """The history database answered with an error: damaged, locked, gone or refused."""

    def __init__(self, url: str, reason: str):
        self.url = url
        self.reason = reason
        super().__init__(
            f"The history database {url} cannot be used: {reason}. If the file is damaged, "
            "restore it from a backup or move it aside (a new history starts on the next run)."
        )


class OutputError(MonitorError):
    """A file ragmon was asked to write (report, textfile, log) cannot be written there."""

    def __init__(self, what: str, path: Path | str, reason: str):
        self.what = what
        self.path = str(path)
        self.reason = reason
        super().__init__(f"Cannot write {what} {path}: {reason}")


class UnknownSchemaError(HistoryError):
    """The history database was written by a ragmon this one does not know."""

    def __init__(self, url: str, revision: str):
        self.revision = revision
        super().__init__(
            f"The history database {url} is at schema revision {revision!r}, which this "
            "version of ragmon does not know. It was written by a newer ragmon: upgrade "
            "ragmon, or point history.url at another database."
        )


class ResultSchemaError(MonitorError):
    """A stored result is not of the schema its reader expects (written by another ragmon)."""

    def __init__(self, expected: str, found: object, problem: str | None = None):
        self.expected = expected
        self.found = found
        what = f"is {found!r}" if problem is None else f"does not validate ({problem})"
        super().__init__(
            f"Stored result {what}, expected {expected!r}. It was written by another version "
            "of ragmon: run the job again to store a current result."
        )


class JobNotFoundError(MonitorError):
    """A job name that no module registered."""

    def __init__(self, name: str, known: list[str]):
        self.name = name
        super().__init__(f"No job named {name!r}. Known jobs: {', '.join(sorted(known))}.")


class JobLockedError(MonitorError):
    """Another run of the job holds its lock; this run did not start."""

    def __init__(self, job: str, holder: str, since: datetime, expires_at: datetime):
        self.job = job
        self.holder = holder
        self.since = since
        self.expires_at = expires_at
        super().__init__(
            f"{job} is already running since {since:%Y-%m-%d %H:%M} UTC ({holder}); "
            "this run was skipped. If that process is gone, its lock expires at "
            f"{expires_at:%Y-%m-%d %H:%M:%S} UTC and the next run proceeds."
        )


class SlotServedError(MonitorError):
    """A scheduled slot that a run started at or after it already served (another
    scheduler on the same history, or a `ragmon run`); this run did not start."""

    def __init__(self, job: str, slot: datetime, run_id: int, started_at: datetime):
        self.job = job
        self.slot = slot
        self.run_id = run_id
        super().__init__(
            f"{job}: the {slot:%Y-%m-%d %H:%M:%S} UTC slot was already served by run "
            f"{run_id} (started {started_at:%H:%M:%S} UTC); this run was skipped."
        )


class DeliveryError(MonitorError):
    """An alert channel could not deliver a notification.

    ``retryable`` says whether trying again soon may help (timeout, refused connection,
    HTTP 5xx or 429, SMTP 4xx); a permanent failure waits for the next run. The reason
    never holds a secret: adapters redact webhook URLs and passwords before raising.
    """

    def __init__(self, channel: str, reason: str, *, retryable: bool = True):
        self.channel = channel
        self.reason = reason
        self.retryable = retryable
        super().__init__(f"Alert channel {channel!r} could not deliver: {reason}")


class AlertNotFoundError(MonitorError):
    """No alert, or more than one, matches what the user typed."""

    def __init__(self, wanted: str, matches: list[str]):
        self.wanted = wanted
        self.matches = matches
        if matches:
            listing = ", ".join(sorted(matches))
            message = (
                f"{wanted!r} matches several alerts ({listing}). "
                "Give more characters of the fingerprint."
            )
        else:
            message = (
                f"No firing alert has a fingerprint starting with {wanted!r}. "
                "See the firing alerts with `ragmon alerts list`."
            )
        super().__init__(message)


class GroundingError(MonitorError):
    """Grounding cannot be scored, calibrated or fitted as asked."""


class SystemOfRecordError(GroundingError):
    """A grounding validator's system of record (CSV file, database) cannot be read."""

    def __init__(self, validator: str, where: str, reason: str):
        self.validator = validator
        self.where = where
        self.reason = reason
        super().__init__(
            f"Grounding validator {validator!r}: cannot read its system of record {where}: "
            f"{reason}. Fix grounding.validators in the config."
        )


class NliModelError(GroundingError):
    """The NLI / cross-encoder model named in ``grounding.nli.model`` cannot be used."""

    KEY = "grounding.nli.model"

    def __init__(self, path: Path | str, reason: str):
        self.path = str(path)
        self.reason = reason
        self.problem = (
            f"{path} {reason}. ragmon never downloads weights: name a local directory "
            "holding a sequence-classification (NLI or cross-encoder) model, or leave "
            "grounding.nli out"
        )
        super().__init__(f"key '{self.KEY}': {self.problem}")


class LabelError(GroundingError):
    """Labelled responses are missing or unusable for calibration or fitting."""

    def __init__(self, problem: str):
        self.problem = problem
        super().__init__(problem)


class RelevanceError(MonitorError):
    """The relevance probes or production queries cannot be used as given."""


class RelevanceInputError(RelevanceError):
    """A probe or query file is missing or has a bad line."""

    def __init__(self, path: Path | str, line: int | None, problem: str):
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{path}, line {line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}")


class LogLineError(MonitorError):
    """One line (or trace) of a response log cannot be used; it goes to the quarantine.

    ``reason`` is one of `LOG_LINE_REASONS`; ``detail`` names the key at fault.
    """

    def __init__(self, reason: str, detail: str):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


LOG_LINE_REASONS = (
    "invalid_json",
    "missing_field",
    "wrong_type",
    "bad_time",
    "bad_score",
    "incomplete_trace",
)
"""Why a log line is quarantined: not JSON (or CSV), a required field missing, a field of
the wrong type, a time that does not parse, a score that is NaN, infinite or out of range,
a trace whose root span never arrived within the wait and that holds no retrieval."""
