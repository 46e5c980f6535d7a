"""What `ragmon init` and `ragmon index` do, between the CLI and the library."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from importlib import resources
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor import clock
from monitor.config import Config, StoreConfig
from monitor.freshness.rewrites import RewriteChoice
from monitor.history import HistoryStore
from monitor.provenance import MappingProposal, propose_mapping

if TYPE_CHECKING:
    from monitor.freshness.fixqueue import FixItem

SAMPLE_SIZE = 200
"""Grounding bands of a low answer when the config has no ``[correlation] low_bands``."""


def render_config(
    *,
    store_path: str | None,
    host: str | None,
    port: int,
    collection: str,
    sources_root: str,
    preset: str,
    path_rewrite: str | None = None,
) -> str:
    """The starter config: the commented example with the given values set through
    tomlkit, so any text (backslashes, quotes, newlines) is escaped as TOML and reads back;
    ``path_rewrite`` (a ``path_rewrites = [...]`` line) replaces the commented example."""
    import tomlkit

    template = resources.files("jobs").joinpath("ragmon.example.toml").read_text("utf-8")
    doc = tomlkit.parse(template)
    store: Any = doc["store"]
    if host:
        store.remove("path")
        store["host"] = host
        store["port"] = port
    else:
        store["path"] = store_path or "chroma"
    store["collection"] = collection
    sources: Any = doc["sources"]
    sources["root"] = sources_root
    mapping: Any = doc["mapping"]
    mapping["preset"] = preset
    if path_rewrite:
        rewrites = tomlkit.parse(path_rewrite)["path_rewrites"]
        mapping["path_rewrites"] = rewrites
        mapping["path_rewrites"].comment("proposed by ragmon init --inspect")
    return tomlkit.dumps(doc)


@dataclass(frozen=True)
class InspectReport:
    proposal: MappingProposal
    collection: str
    count: int
    rewrite: RewriteChoice | None = None
    """A path rewrite that resolves more sampled chunks than the recorded paths do."""
    sources_root: str = ""

    @property
    def preset(self) -> str | None:
        return self.proposal.preset

    def describe(self) -> str:
        p = self.proposal
        lines = [
            f"Sampled {p.sampled} of {self.count} chunks in {self.collection!r}.",
            "Conventions: " + ", ".join(f"{name} {n}" for name, n in sorted(p.conventions.items())),
            "Metadata keys: "
            + ", ".join(f"{k} ({n})" for k, n in sorted(p.key_counts.items(), key=lambda x: -x[1])),
        ]
        if p.preset:
            lines.append(f"Proposed mapping: preset = {p.preset!r}")
        else:
            lines.append(
                "No known convention found: set [mapping] source_key to the metadata key "
                "that holds each chunk's source path or id."
            )
        choice = self.rewrite
        if choice is not None:
            lines.append(
                f"Source paths: as recorded, {choice.as_is} of {choice.total} sampled chunks "
                f"name a file under {self.sources_root}; rewriting the prefix {choice.from_!r} "
                f"to {choice.to!r} resolves {choice.resolves} of {choice.total}."
            )
            lines.append(f"Proposed: {choice.toml}")
        return "\n".join(lines)


def sample_mapping(
    store_path: str | None,
    host: str | None,
    port: int,
    collection: str,
    sources_root: Path | None = None,
) -> InspectReport:
    """Sample up to 200 chunks of a collection and propose a metadata mapping, and, given
    the sources directory, a path rewrite when the recorded paths resolve only with one."""
    from monitor.config import MappingConfig
    from monitor.freshness.rewrites import best_rewrite
    from monitor.provenance import MetadataMapping
    from monitor.stores import open_store

    config = StoreConfig(
        path=Path(store_path) if store_path else None,
        host=host,
        port=port,
        collection=collection,
        page_size=SAMPLE_SIZE,
    )
    with open_store(config) as store:
        pages = store.pages(include_text=False)
        chunks = list(islice((c for page in pages for c in page), SAMPLE_SIZE))
        count = store.count()
    proposal = propose_mapping(chunks)
    report = InspectReport(proposal, collection, count)
    if sources_root is None or not sources_root.is_dir():
        return report
    mapping = MetadataMapping(MappingConfig.model_validate({"preset": proposal.preset or "auto"}))
    recorded = Counter(s for c in chunks if (s := mapping.provenance(c).source) is not None)
    ids = {p.relative_to(sources_root).as_posix() for p in sources_root.rglob("*") if p.is_file()}
    choice = best_rewrite(recorded, ids, sources_root)
    if choice is None or choice.resolves <= choice.as_is:
        return report
    return InspectReport(
        proposal, collection, count, rewrite=choice, sources_root=str(sources_root)
    )


def run_index(
    config: Config,
    source_dir: Path | None,
    *,
    dry_run: bool,
    quiet: bool,
    allow_mass_delete: bool = False,
) -> bool:
    """Index (or, dry, compare) the sources; return whether the store was behind them.

    Raises `MassDeleteError` when the run would delete more than ``index.max_delete_share``
    of the collection and ``allow_mass_delete`` is not set; nothing is written then.
    """
    from jobs.ui import console, literal, progress_bar
    from monitor.embedding.sbert import SentenceTransformerEmbedder
    from monitor.ingest import index_sources, plan_index
    from monitor.sources.directory import DirectoryCatalog
    from monitor.stores import open_index_target, open_store

    sources = config.sources
    if source_dir is not None:
        sources = sources.model_copy(update={"root": source_dir})
    catalog = DirectoryCatalog.from_config(sources)
    out = console(quiet)
    if dry_run:
        with open_store(config.store) as store:
            plan = plan_index(catalog, store)
        out.print(plan.describe(config.index.max_delete_share), markup=False)
        return plan.behind
    target = open_index_target(config.store)
    embedder = SentenceTransformerEmbedder.from_config(config.embedding)
    with progress_bar(quiet) as bar:
        task = bar.add_task("indexing", total=None)
        report = index_sources(
            catalog,
            target,
            embedder,
            config.chunking,
            max_delete_share=config.index.max_delete_share,
            allow_mass_delete=allow_mass_delete,
            progress=lambda _d: bar.advance(task),
        )
    out.print(
        f"Indexed {len(report.indexed)} of {report.documents} documents into "
        f"{config.store.collection!r} ({report.chunks_written} chunks written, "
        f"{report.chunks_deleted} deleted, {report.unchanged} unchanged, "
        f"{len(report.removed)} removed).",
        markup=False,
    )
    for problem in report.problems:
        out.print(f"[yellow]skipped[/] {literal(problem.path)}: {literal(problem.reason)}")
    return report.wrote_anything


def last_details(history: HistoryStore, job: str) -> dict[str, Any] | None:
    """The machine-readable result of the last completed run of ``job``.

    Raises `HistoryUnreadableError` when that run's stored result is no JSON object: every
    completed run stores one, so the database itself is damaged.
    """
    from monitor.errors import HistoryUnreadableError

    run = history.last_success(job)
    if run is None:
        return None
    details = history.details(run.id)
    if not isinstance(details, dict):
        raise HistoryUnreadableError(
            history.url,
            f"the stored result of run {run.id} is malformed ({type(details).__name__})",
        )
    return details


def queue_with_retrievals(history: HistoryStore, details: Any, config: Config) -> list[FixItem]:
    """The stored fix queue with retrievals over the last ``[logs] window_days`` filled in."""
    from datetime import timedelta

    from monitor.freshness.fixqueue import with_retrievals
    from monitor.freshness.results import FreshnessResult
    from monitor.history.response_reads import document_retrievals, low_grounding_by_document
    from monitor.logs.values import epoch_us

    since = epoch_us(clock.now() - timedelta(days=config.logs.window_days))
    counts = document_retrievals(history, since_us=since)
    low = low_grounding_by_document(
        history,
        since_us=since,
        low_bands=low_bands(config),
        low_below=config.grounding.bands.cite,
    )
    return with_retrievals(FreshnessResult.from_json(details).fix_queue, counts, low)


def low_bands(config: Config) -> tuple[str, ...]:
    """The grounding bands that make an answer low (``[correlation] low_bands``)."""
    return tuple(config.correlation.low_bands)
