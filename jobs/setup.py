"""What `ragmon init` and `ragmon index` do, between the CLI and the library."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from itertools import islice
from pathlib import Path
from string import Template
from typing import Any

from monitor.config import Config, StoreConfig
from monitor.freshness.rewrites import RewriteChoice
from monitor.history import HistoryStore
from monitor.provenance import MappingProposal, propose_mapping

SAMPLE_SIZE = 200


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
    """The starter config, with the given values filled in (and a ``path_rewrites`` line)."""
    template = resources.files("jobs").joinpath("ragmon.example.toml").read_text("utf-8")
    if host:
        location = f'# path = "chroma"\nhost = {json.dumps(host)}\nport = {port}'
    else:
        location = (
            f'path = {json.dumps(store_path or "chroma")}\n# host = "localhost"\n# port = 8000'
        )
    text = Template(template).substitute(
        store_location=location,
        collection=collection,
        sources_root=sources_root,
        preset=preset,
    )
    if path_rewrite:
        example = '# path_rewrites = [{ from = "/srv/app/docs/", to = "" }]'
        text = text.replace(example, f"{path_rewrite}  # proposed by ragmon init --inspect", 1)
    return text


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
    from monitor.stores.chroma import ChromaStore

    config = StoreConfig(
        path=Path(store_path) if store_path else None,
        host=host,
        port=port,
        collection=collection,
        page_size=SAMPLE_SIZE,
    )
    store = ChromaStore.from_config(config)
    chunks = list(
        islice((c for page in store.pages(include_text=False) for c in page), SAMPLE_SIZE)
    )
    proposal = propose_mapping(chunks)
    report = InspectReport(proposal, collection, store.count())
    if sources_root is None or not sources_root.is_dir():
        return report
    mapping = MetadataMapping(MappingConfig(preset=proposal.preset or "auto"))
    recorded = Counter(s for c in chunks if (s := mapping.provenance(c).source) is not None)
    ids = {p.relative_to(sources_root).as_posix() for p in sources_root.rglob("*") if p.is_file()}
    choice = best_rewrite(recorded, ids, sources_root)
    if choice is None or choice.resolves <= choice.as_is:
        return report
    return InspectReport(
        proposal, collection, report.count, rewrite=choice, sources_root=str(sources_root)
    )


def run_index(config: Config, source_dir: Path | None, *, dry_run: bool, quiet: bool) -> bool:
    """Index (or, dry, compare) the sources; return whether the store was behind them."""
    from jobs.ui import console, progress_bar
    from monitor.embedding.sbert import SentenceTransformerEmbedder
    from monitor.ingest import index_sources, plan_index
    from monitor.sources.directory import DirectoryCatalog
    from monitor.stores.chroma import ChromaIndexTarget, ChromaStore

    sources = config.sources
    if source_dir is not None:
        sources = sources.model_copy(update={"root": source_dir})
    catalog = DirectoryCatalog.from_config(sources)
    out = console(quiet)
    if dry_run:
        plan = plan_index(catalog, ChromaStore.from_config(config.store))
        out.print(plan.describe())
        return plan.behind
    target = ChromaIndexTarget.from_config(config.store)
    embedder = SentenceTransformerEmbedder.from_config(config.embedding)
    with progress_bar(quiet) as bar:
        task = bar.add_task("indexing", total=None)
        report = index_sources(
            catalog, target, embedder, config.chunking, progress=lambda _d: bar.advance(task)
        )
    out.print(
        f"Indexed {len(report.indexed)} of {report.documents} documents into "
        f"{config.store.collection!r} ({report.chunks_written} chunks written, "
        f"{report.chunks_deleted} deleted, {report.unchanged} unchanged, "
        f"{len(report.removed)} removed)."
    )
    for problem in report.problems:
        out.print(f"[yellow]skipped[/] {problem.path}: {problem.reason}")
    return report.wrote_anything


def last_details(history: HistoryStore, job: str) -> dict[str, Any] | None:
    """The machine-readable result of the last completed run of ``job``."""
    run = history.last_success(job)
    return history.details(run.id) if run is not None else None
