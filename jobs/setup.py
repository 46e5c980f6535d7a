"""What `ragmon init` and `ragmon index` do, between the CLI and the library."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from itertools import islice
from pathlib import Path
from string import Template
from typing import Any

from monitor.config import Config, StoreConfig
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
) -> str:
    """The starter config, with the given values filled in."""
    template = resources.files("jobs").joinpath("ragmon.example.toml").read_text("utf-8")
    if host:
        location = f'# path = "chroma"\nhost = {json.dumps(host)}\nport = {port}'
    else:
        location = (
            f'path = {json.dumps(store_path or "chroma")}\n# host = "localhost"\n# port = 8000'
        )
    return Template(template).substitute(
        store_location=location,
        collection=collection,
        sources_root=sources_root,
        preset=preset,
    )


@dataclass(frozen=True)
class InspectReport:
    proposal: MappingProposal
    collection: str
    count: int

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
        return "\n".join(lines)


def sample_mapping(
    store_path: str | None, host: str | None, port: int, collection: str
) -> InspectReport:
    """Sample up to 200 chunks of a collection and propose a metadata mapping."""
    from monitor.stores.chroma import ChromaStore

    config = StoreConfig(
        path=Path(store_path) if store_path else None,
        host=host,
        port=port,
        collection=collection,
        page_size=SAMPLE_SIZE,
    )
    store = ChromaStore.from_config(config)
    chunks = islice((c for page in store.pages(include_text=False) for c in page), SAMPLE_SIZE)
    return InspectReport(propose_mapping(chunks), collection, store.count())


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
    from monitor.stores.chroma import ChromaIndexTarget, ChromaStore

    sources = config.sources
    if source_dir is not None:
        sources = sources.model_copy(update={"root": source_dir})
    catalog = DirectoryCatalog.from_config(sources)
    out = console(quiet)
    if dry_run:
        plan = plan_index(catalog, ChromaStore.from_config(config.store))
        out.print(plan.describe(config.index.max_delete_share), markup=False)
        return plan.behind
    target = ChromaIndexTarget.from_config(config.store)
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
    """The machine-readable result of the last completed run of ``job``."""
    run = history.last_success(job)
    return history.details(run.id) if run is not None else None
