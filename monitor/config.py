"""The configuration model (`ragmon.toml`), validated once at the edge.

Each component receives only its own section, already typed. Relative paths are
resolved against the directory of the config file. Secrets are never written in the
file: a key ending in ``_env`` names the environment variable that holds them.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor.alerts.settings import AlertsSettings
from monitor.errors import ConfigError

DEFAULT_CONFIG_NAME = "ragmon.toml"
DEFAULT_INCLUDE = ["**/*.md", "**/*.txt", "**/*.rst", "**/*.html", "**/*.htm"]
DEFAULT_MAX_FILE_BYTES = 10_000_000
"""Larger files are not read: a source is checked in memory, at about 20 times its size."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(_Section):
    """Where the vector store is. Exactly one of ``path`` (embedded) or ``host`` (server)."""

    kind: Literal["chroma"] = "chroma"
    path: Path | None = None
    host: str | None = None
    port: int = Field(default=8000, ge=1, le=65535)
    ssl: bool = False
    auth_token_env: str | None = None
    """Name of the environment variable holding a bearer token for a Chroma server."""
    collection: str = Field(default="docs", min_length=1)
    page_size: int = Field(default=1000, ge=1, le=100_000)
    snapshot: bool = False
    """Audit a copy of an embedded store, so its files stay byte-identical."""

    @model_validator(mode="after")
    def _one_location(self) -> StoreConfig:
        if (self.path is None) == (self.host is None):
            raise ValueError(
                "set exactly one of store.path (embedded Chroma) or store.host (Chroma server)"
            )
        return self

    def auth_token(self) -> str | None:
        """The bearer token from the environment, or None when none is configured."""
        if self.auth_token_env is None:
            return None
        token = os.environ.get(self.auth_token_env)
        if not token:
            raise ConfigError(
                "environment",
                "store.auth_token_env",
                f"environment variable {self.auth_token_env} is not set",
            )
        return token


class SourcesConfig(_Section):
    """The directory of source documents and which files in it count."""

    root: Path
    include: list[str] = Field(default_factory=lambda: list(DEFAULT_INCLUDE))
    exclude: list[str] = Field(default_factory=list)
    max_file_bytes: int = Field(default=DEFAULT_MAX_FILE_BYTES, ge=1)
    """A larger file is not read: it is reported, and its chunks are `unreadable`."""

    @field_validator("include")
    @classmethod
    def _some_include(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError(
                "must name at least one glob: with none, no file is a source and every "
                "chunk would look orphaned"
            )
        return value


class PathRewrite(_Section):
    """Replace the prefix ``from`` of a recorded source path by ``to``."""

    from_: str = Field(alias="from", min_length=1)
    to: str = ""


class MappingConfig(_Section):
    """How chunk metadata names its source. A preset fills the keys not given explicitly."""

    preset: Literal["auto", "ragmon", "langchain", "llamaindex"] = "auto"
    source_key: str | None = None
    source_sha256_key: str | None = None
    chunk_sha256_key: str | None = None
    chunk_index_key: str | None = None
    embedded_at_key: str | None = None
    embedding_model_key: str | None = None
    path_rewrites: list[PathRewrite] = Field(default_factory=list)
    """Prefix rewrites from the paths the store recorded to catalog ids, tried in order."""


class EmbeddingConfig(_Section):
    """The embedding model: empty means the packaged all-MiniLM-L6-v2."""

    model: str = ""
    device: str = "cpu"
    batch_size: int = Field(default=64, ge=1, le=4096)


class ChunkingConfig(_Section):
    """How `ragmon index` cuts documents, in model tokens."""

    max_tokens: int = Field(default=200, ge=8, le=8192)
    overlap_tokens: int = Field(default=20, ge=0)

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkingConfig:
        if self.overlap_tokens >= self.max_tokens:
            raise ValueError("chunking.overlap_tokens must be smaller than chunking.max_tokens")
        return self


class IndexConfig(_Section):
    """Safety limits of `ragmon index`."""

    max_delete_share: float = Field(default=0.2, ge=0, le=1)
    """Refuse (without --allow-mass-delete) a run that would delete more than this share of
    the collection's chunks: vanished sources are more often an unmounted share."""


class FreshnessConfig(_Section):
    """Thresholds and sampling of the freshness audit."""

    max_stale_share: float = Field(default=0.05, ge=0, le=1)
    """Exit 1 when more than this share of chunks is stale."""
    max_orphaned: int = Field(default=0, ge=0)
    """Exit 1 when more chunks than this are orphaned (source deleted)."""
    max_missing: int | None = Field(default=None, ge=0)
    """Exit 1 when more documents than this were never indexed (unset: no threshold)."""
    max_unreadable: int = Field(default=0, ge=0)
    """Exit 1 when more chunks than this have a source that could not be read."""
    fail_on_model_mismatch: bool = True
    """Exit 1 when the collection's vectors do not come from the configured model."""
    fuzzy_threshold: float = Field(default=95.0, ge=50, le=100)
    """rapidfuzz partial-ratio (0-100) at which a chunk counts as still present."""
    min_coverage: float = Field(default=0.9, ge=0, le=1)
    """A document whose text its chunks cover for less than this share is partially indexed."""
    embedding_sample: int = Field(default=200, ge=0)
    """Chunks re-embedded to check their stored vectors (0 turns the check off)."""
    embedding_min_cosine: float = Field(default=0.98, ge=-1, le=1)
    duplicates_sample: int = Field(default=1000, ge=0)
    """Chunks checked for conflicting duplicates per run; a different slice each run."""
    duplicate_min_cosine: float = Field(default=0.6, ge=-1, le=1)
    """Cosine of two chunks for their sentences to be compared (candidates only)."""
    duplicate_neighbours: int = Field(default=5, ge=1, le=100)


class ReportConfig(_Section):
    """The HTML report (`ragmon report` and the `report` job)."""

    out_dir: Path = Path(".ragmon/report")
    since_days: int = Field(default=30, ge=1, le=3650)
    title: str = "ragmon report"


class HistoryConfig(_Section):
    """Where run history lives: any SQLAlchemy URL; default SQLite under ``.ragmon/``."""

    url: str | None = None


class SchedulerConfig(_Section):
    """How `ragmon schedule` and the per-job locks behave."""

    misfire_grace_seconds: int = Field(default=600, ge=1)
    """Slots missed while `ragmon schedule` was stopped run once on its start, if the last
    of them is at most this many seconds ago."""
    lock_ttl_seconds: int = Field(default=600, ge=1)
    """A job's lock lasts this long unless renewed (every third of it while the job runs),
    so the lock of a killed run frees itself after at most this long."""
    stop_timeout_seconds: int = Field(default=60, ge=0)
    """On SIGTERM or SIGINT, how long `ragmon schedule` waits for running jobs to finish
    before it records them as interrupted and exits."""


class JobConfig(_Section):
    """Per-job settings; every field has the job's registered default."""

    schedule: str | None = None
    """Five-field cron expression (UTC); `ragmon schedule` also takes six fields, seconds
    first. Empty means the job's default schedule."""
    enabled: bool = True


class Config(_Section):
    """The whole configuration."""

    store: StoreConfig
    sources: SourcesConfig
    mapping: MappingConfig = Field(default_factory=MappingConfig)
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)
    chunking: ChunkingConfig = Field(default_factory=ChunkingConfig)
    index: IndexConfig = Field(default_factory=IndexConfig)
    freshness: FreshnessConfig = Field(default_factory=FreshnessConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    history: HistoryConfig = Field(default_factory=HistoryConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    jobs: dict[str, JobConfig] = Field(default_factory=dict)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)

    base_dir: Path = Field(default=Path("."), exclude=True)
    """Directory of the config file; relative paths were resolved against it."""
    file: Path | None = Field(default=None, exclude=True)

    @property
    def history_url(self) -> str:
        if self.history.url:
            return self.history.url
        return f"sqlite:///{self.base_dir / '.ragmon' / 'history.db'}"


def load_config(path: Path | str) -> Config:
    """Read and validate a config file. Raises `ConfigError` naming the key at fault."""
    path = Path(path)
    try:
        raw_text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            path, None, "no such file. Write a starter config with `ragmon init`."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, f"cannot be read ({exc})") from None
    try:
        data = tomllib.loads(raw_text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+)", str(exc))
        line = getattr(exc, "lineno", None) or (int(found.group(1)) if found else None)
        raise ConfigError(path, None, f"is not valid TOML: {exc}", line=line) from None
    return config_from_dict(data, base_dir=path.resolve().parent, file=path, text=raw_text)


def config_from_dict(
    data: dict[str, Any], *, base_dir: Path, file: Path | None = None, text: str = ""
) -> Config:
    """Validate a parsed config; relative paths are taken from ``base_dir``."""
    label = str(file) if file else "config"
    try:
        config = Config.model_validate({**data, "base_dir": base_dir, "file": file})
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(str(p) for p in error["loc"])
        key = ".".join(loc) if loc else None
        raise ConfigError(label, key, _describe(error, loc), line=_line_of(text, loc)) from None
    return _resolve_paths(config, label, text)


def _resolve_paths(config: Config, label: str, text: str) -> Config:
    base = config.base_dir
    root = config.sources.root if config.sources.root.is_absolute() else base / config.sources.root
    if not root.is_dir():
        raise ConfigError(
            label,
            "sources.root",
            f"expected an existing directory of source documents, but {root} "
            + ("is not a directory" if root.exists() else "does not exist"),
            line=_line_of(text, ("sources", "root")),
        )
    report = config.report
    if not report.out_dir.is_absolute():
        report = report.model_copy(update={"out_dir": base / report.out_dir})
    store = config.store
    if store.path is not None and not store.path.is_absolute():
        store = store.model_copy(update={"path": base / store.path})
    return config.model_copy(
        update={
            "sources": config.sources.model_copy(update={"root": root}),
            "store": store,
            "report": report,
        }
    )


_EXPECTED = {
    "int_parsing": "expected an integer",
    "int_type": "expected an integer",
    "int_from_float": "expected a whole number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "list_type": "expected a list",
    "dict_type": "expected a table",
    "model_type": "expected a table",
    "path_type": "expected a path (a string)",
}


def _describe(error: Any, loc: tuple[str, ...]) -> str:
    kind = error["type"]
    given = error.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        hint = f" (expected one of: {', '.join(allowed)})" if allowed else ""
        return f"unknown key{hint}"
    if kind == "missing":
        return "is required but missing"
    if kind == "literal_error":
        return f"expected {error['ctx']['expected']}, got {given!r}"
    if kind in _EXPECTED:
        return f"{_EXPECTED[kind]}, got {given!r}"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    return f"{error['msg'].lower()}, got {given!r}"


def _allowed_keys(parent: tuple[str, ...]) -> list[str]:
    """The keys a table accepts, for the "unknown key" message."""
    model: type[BaseModel] = Config
    parts = list(parent)
    while parts:
        part = parts.pop(0)
        field = model.model_fields.get(part)
        if field is None:
            return []
        if model is Config and part == "jobs":
            if not parts:
                return []
            parts.pop(0)  # the job name
            model = JobConfig
            continue
        annotation = field.annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return [name for name, f in model.model_fields.items() if not f.exclude]


def _line_of(text: str, loc: tuple[str, ...]) -> int | None:
    """Best-effort line number of ``loc`` (a table path then a key) in the TOML text."""
    if not text or not loc:
        return None
    *tables, key = loc
    section = ".".join(tables)
    current = ""
    header = re.compile(r"^\s*\[([^\]]+)\]\s*(#.*)?$")
    for number, line in enumerate(text.splitlines(), start=1):
        match = header.match(line)
        if match:
            current = match.group(1).strip()
            if not section and current == key:
                return number
            if current == ".".join(loc):
                return number
            continue
        if current == section and re.match(rf"^\s*{re.escape(key)}\s*=", line):
            return number
    return None
