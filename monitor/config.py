"""The configuration model (`ragmon.toml`), validated once at the edge.

Each component receives only its own section, already typed. Relative paths are
resolved against the directory of the config file. Secrets are never written in the
file: a key ending in ``_env`` names the environment variable that holds them.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
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

from monitor import validation
from monitor.alerts.builtin import BuiltinRules
from monitor.alerts.settings import AlertsSettings
from monitor.chunking.settings import ChunkingQualitySettings
from monitor.correlation.settings import CorrelationSettings
from monitor.errors import ConfigError
from monitor.grounding.settings import GroundingConfig
from monitor.logs.settings import LogsSettings
from monitor.relevance.settings import RelevanceConfig

DEFAULT_CONFIG_NAME = "ragmon.toml"
DEFAULT_INCLUDE = ["**/*.md", "**/*.txt", "**/*.rst", "**/*.html", "**/*.htm"]
DEFAULT_MAX_FILE_BYTES = 10_000_000
"""Larger files are not read: a source is checked in memory, at about 20 times its size."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChromaStoreConfig(_Section):
    """A Chroma collection. Exactly one of ``path`` (embedded) or ``host`` (server)."""

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
    timeout_seconds: float = Field(default=30, gt=0, le=3600)
    """Each call to a Chroma server gives up after this long; a call that times out or
    loses its connection is tried 3 times in all (with backoff), then the run fails."""

    @model_validator(mode="after")
    def _one_location(self) -> ChromaStoreConfig:
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


StoreConfig = ChromaStoreConfig
"""The ``[store]`` section: one settings model per store kind, chosen by ``kind``. With a
second kind this becomes ``Annotated[A | B, Field(discriminator="kind")]``."""

STORE_KINDS: dict[str, type[BaseModel]] = {"chroma": ChromaStoreConfig}
"""Store kinds by the value of ``[store] kind``; `monitor.stores.open_store` has the adapters."""


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

    # The five keys below are aliases of the freshness job's built-in alert rules (see
    # `jobs.freshness.RULES`): set, they become the rule's threshold or gate, so the exit
    # code and the alert never disagree. Their defaults live with the rules.
    max_stale_share: float | None = Field(default=None, ge=0, le=1)
    """Alias of rule ``stale-share``'s threshold (default 0.05)."""
    max_orphaned: int | None = Field(default=None, ge=0)
    """Alias of rule ``orphans``'s threshold: orphaned and moved chunks (default 0)."""
    max_missing: int | None = Field(default=None, ge=0)
    """Alias of rule ``missing-documents``'s threshold (off unless set)."""
    max_unreadable: int | None = Field(default=None, ge=0)
    """Alias of rule ``unreadable-sources``'s threshold: chunks whose source could not be
    read (default 0)."""
    fail_on_model_mismatch: bool | None = None
    """Alias of whether rule ``model-mismatch`` is a gate (default true)."""
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
    """A relative SQLite path (``sqlite:///state/history.db``) is taken from the config
    file's directory, like every other relative path."""

    @field_validator("url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if not value:
            return value
        from sqlalchemy.engine import make_url

        try:
            url = make_url(value)
            url.get_dialect()
            if url.get_backend_name() == "sqlite" and (url.host or url.port or url.username):
                raise ValueError("a SQLite URL names a file, not a host")
        except Exception as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(
                f"expected a database URL such as 'sqlite:///.ragmon/history.db' or "
                f"'postgresql+psycopg://ragmon@db-host/ragmon', got {value!r} ({reason})"
            ) from None
        return value


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

    @field_validator("store", mode="before")
    @classmethod
    def _known_store_kind(cls, value: Any) -> Any:
        kind = value.get("kind", "chroma") if isinstance(value, dict) else None
        if kind is not None and (not isinstance(kind, str) or kind not in STORE_KINDS):
            raise ValueError(f"key 'kind': expected one of: {', '.join(STORE_KINDS)}; got {kind!r}")
        return value

    mapping: MappingConfig = Field(default_factory=MappingConfig)
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)
    chunking: ChunkingConfig = Field(default_factory=ChunkingConfig)
    index: IndexConfig = Field(default_factory=IndexConfig)
    chunking_quality: ChunkingQualitySettings = Field(default_factory=ChunkingQualitySettings)
    freshness: FreshnessConfig = Field(default_factory=FreshnessConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    history: HistoryConfig = Field(default_factory=HistoryConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    jobs: dict[str, JobConfig] = Field(default_factory=dict)
    # Validated from an empty table when absent, so the built-in rules (which come in
    # through the validation context) are merged in either way.
    alerts: AlertsSettings = Field(default_factory=dict, validate_default=True)
    grounding: GroundingConfig = Field(default_factory=GroundingConfig)
    relevance: RelevanceConfig = Field(default_factory=RelevanceConfig)
    logs: LogsSettings = Field(default_factory=LogsSettings)
    correlation: CorrelationSettings = Field(default_factory=CorrelationSettings)

    base_dir: Path = Field(default=Path("."), exclude=True)
    """Directory of the config file; relative paths were resolved against it."""
    file: Path | None = Field(default=None, exclude=True)

    @property
    def history_url(self) -> str:
        """``history.url`` with a relative SQLite path made absolute from the config's
        directory, so cron and an interactive shell in another directory share one history."""
        if not self.history.url:
            return f"sqlite:///{self.base_dir / '.ragmon' / 'history.db'}"
        from sqlalchemy.engine import make_url

        url = make_url(self.history.url)
        database = url.database
        if (
            url.get_backend_name() != "sqlite"
            or not database
            or database == ":memory:"
            or database.startswith("file:")
            or Path(database).is_absolute()
        ):
            return self.history.url
        return url.set(database=str(self.base_dir / database)).render_as_string(hide_password=False)


BuiltinRuleSource = Callable[[Mapping[str, Any]], BuiltinRules]
"""Given the raw config, the built-in alert rules of the registered jobs (`jobs.registry`)."""


def load_config(path: Path | str, *, builtin_rules: BuiltinRuleSource | None = None) -> Config:
    """Read and validate a config file. Raises `ConfigError` naming the key at fault.

    ``builtin_rules`` supplies the jobs' built-in alert rules; without it the config holds
    only the rules it declares (`jobs.registry.load_config` passes the registered ones).
    """
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
    return config_from_dict(
        data, base_dir=path.resolve().parent, file=path, text=raw_text, builtin_rules=builtin_rules
    )


def config_from_dict(
    data: dict[str, Any],
    *,
    base_dir: Path,
    file: Path | None = None,
    text: str = "",
    builtin_rules: BuiltinRuleSource | None = None,
) -> Config:
    """Validate a parsed config; relative paths are taken from ``base_dir``."""
    label = str(file) if file else "config"
    context = {"builtin_rules": builtin_rules(data) if builtin_rules else None}
    try:
        config = Config.model_validate(
            {**data, "base_dir": base_dir, "file": file}, context=context
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(str(p) for p in error["loc"])
        key = ".".join(loc) if loc else None
        problem = validation.problem(error, _allowed_keys(loc[:-1]))
        raise ConfigError(label, key, problem, line=_line_of(text, loc)) from None
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
    nli = config.grounding.nli
    if nli is not None:
        # Checked here, where the key's line is known; the weights load with the scorer.
        from monitor.errors import NliModelError
        from monitor.grounding.nli import inspect_model

        model = nli.model if nli.model.is_absolute() else base / nli.model
        try:
            inspect_model(model, nli.entailment)
        except NliModelError as exc:
            raise ConfigError(
                label, exc.KEY, exc.problem, line=_line_of(text, ("grounding", "nli", "model"))
            ) from None
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
