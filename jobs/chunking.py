"""The `chunking` job: chunk quality against the model's window, and its drift."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from jobs.registry import register
from monitor.alerts.builtin import BuiltinRule
from monitor.config import Config
from monitor.history import HistoryStore
from monitor.records import RunResult

if TYPE_CHECKING:
    from collections.abc import Iterator

    from monitor.chunking.snapshot import Snapshot
    from monitor.chunking.tokens import WindowTokenizer
    from monitor.history.pins import Pin
    from monitor.records import Chunk

log = logging.getLogger(__name__)
JOB = "chunking"


RULES = (
    BuiltinRule(
        name="chunking-truncated",
        metric="chunking_truncated_share",
        threshold=0.01,
        gate=True,
        threshold_key="chunking_quality.max_truncated_share",
        finding_kinds=("text_not_embedded", "drift"),
        description="More than 1% of chunks are longer than the embedding model's window: "
        "their tail is never embedded and cannot be retrieved. Re-chunk them smaller.",
    ),
    BuiltinRule(
        name="chunking-text-not-embedded",
        metric="chunking_text_not_embedded_share",
        threshold=0.01,
        gate=True,
        threshold_key="chunking_quality.max_text_not_embedded_share",
        finding_kinds=("text_not_embedded",),
        description="More than 1% of all chunk text lies beyond the model's window and was "
        "never embedded.",
    ),
    BuiltinRule(
        name="chunking-drift",
        metric="chunking_drifted_features",
        threshold=0,
        gate=True,
        gate_key="chunking_quality.fail_on_drift",
        finding_kinds=("drift", "document_changed"),
        description="How the corpus is cut changed against the reference run: a new splitter, "
        "parser or template.",
    ),
    BuiltinRule(
        name="chunking-mid-sentence",
        metric="chunking_mid_sentence_share",
        op=">=",
        threshold=0.10,
        change="rise",
        baseline={"rolling_runs": 1},
        finding_kinds=("drift", "document_changed"),
        description="The share of chunks cut mid-sentence rose by 10 points or more since "
        "the previous run: a new splitter, parser or template cuts worse.",
    ),
)
"""The chunking signal's built-in alert rules; the gates set `ragmon run chunking`'s exit code."""


@register(JOB, schedule="15 3 * * *", signal=True, rules=RULES)
def run(config: Config, history: HistoryStore, *, full: bool = False) -> RunResult:
    """Chunk quality: length against the model's window, cuts, junk, duplicates; drift."""
    return run_chunking(config, history)


def run_chunking(config: Config, history: HistoryStore, *, quiet: bool = False) -> RunResult:
    """Stream the collection, compute every chunk's features, compare with the reference."""
    from jobs.ui import progress_bar
    from monitor.chunking.aggregate import snapshot
    from monitor.chunking.compare import compare
    from monitor.chunking.features import scan
    from monitor.chunking.results import to_run_result
    from monitor.chunking.snapshot import ChunkingResult
    from monitor.chunking.stored import save_quality
    from monitor.freshness.matching import SourceResolver
    from monitor.history.store import utcnow
    from monitor.logs.values import epoch_us
    from monitor.provenance import MetadataMapping
    from monitor.stores import describe_store, open_store
    from monitor.stores.prefetch import prefetched

    settings = config.chunking_quality
    tokenizer = _tokenizer(config)
    ids: list[str] = []
    with open_store(config.store) as store, progress_bar(quiet) as bar:
        total = store.count()
        task = bar.add_task("measuring chunks", total=total)

        def pages() -> Iterator[list[Chunk]]:
            for page in prefetched(store.pages()):
                ids.extend(c.id for c in page)
                yield page
                bar.advance(task, len(page))

        # Documents named as the freshness audit names them: path rewrites applied, paths
        # made relative to the sources root.
        names = SourceResolver((), config.sources.root, config.mapping.path_rewrites)
        table = scan(
            pages(),
            tokenizer,
            settings,
            MetadataMapping(config.mapping),
            expected=total,
            resolve=names.resolve,
        )
    saved = save_quality(history, ids, table, run_id=_running(history), now_us=epoch_us(utcnow()))
    log.info("chunk flags of %d chunks stored for correlation", saved)
    current = snapshot(
        table,
        settings,
        collection=config.store.collection,
        store=describe_store(config.store),
        tokenizer=tokenizer.name,
        max_seq_length=tokenizer.max_seq_length,
    )
    reference, run_id, kind, note, pin = _reference(history, settings.reference)
    comparison = (
        compare(current, reference, settings, reference_run=run_id, reference_kind=kind)
        if reference is not None
        else None
    )
    result = ChunkingResult(
        snapshot=current,
        comparison=comparison,
        reference_note=note,
    )
    return to_run_result(result, settings, pin=pin)


def _running(history: HistoryStore) -> int | None:
    """The id of this job's run in progress (the runner records it before the job starts);
    None when the job is called outside the runner."""
    from monitor.records import RunStatus

    newest = history.runs(JOB, limit=1)
    return newest[0].id if newest and newest[0].status == RunStatus.RUNNING else None


def _tokenizer(config: Config) -> WindowTokenizer:
    from monitor.chunking.tokens import WindowTokenizer
    from monitor.errors import ConfigError

    settings = config.chunking_quality
    model_dir = settings.model_dir
    if not model_dir and config.embedding.model:
        if not Path(config.embedding.model).is_dir():
            raise ConfigError(
                config.file or "config",
                "chunking_quality.model_dir",
                f"embedding.model is {config.embedding.model!r}, not a local directory: set "
                "chunking_quality.model_dir to the directory holding its tokenizer.json",
            )
        model_dir = config.embedding.model
    return WindowTokenizer.from_model_dir(model_dir, max_seq_length=settings.max_tokens)


def _reference(
    history: HistoryStore, wanted: Literal["baseline", "previous"]
) -> tuple[Snapshot | None, int, Literal["baseline", "previous"], str, Pin | None]:
    """The reference snapshot: the pinned run's, else the previous completed run's."""
    from monitor.chunking.snapshot import ChunkingResult
    from monitor.errors import ResultSchemaError
    from monitor.history.pins import pinned
    from monitor.history.queries import latest_details

    pin = pinned(history, JOB) if wanted == "baseline" else None
    candidates: list[tuple[int, Any, Literal["baseline", "previous"]]] = []
    notes = []
    if pin is not None:
        candidates.append((pin.run_id, history.details(pin.run_id), "baseline"))
    found = latest_details(history, JOB)
    if found is not None:
        candidates.append((found[0].id, found[1], "previous"))
    for run_id, details, kind in candidates:
        try:
            reference = ChunkingResult.from_json(details).snapshot
        except ResultSchemaError as exc:
            notes.append(f"run {run_id} cannot be a reference: {exc}")
            continue
        what = "pinned baseline" if kind == "baseline" else "previous run"
        note = f"against the {what}, run {run_id}"
        return reference, run_id, kind, "; ".join([note, *notes]), pin
    notes.append("no earlier completed chunking run to compare with")
    return None, 0, "previous", "; ".join(notes), pin
