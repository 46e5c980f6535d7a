"""The toy job: streams the store through the analysis and stores one figure."""

from __future__ import annotations

from jobs.registry import register
from monitor.alerts.builtin import BuiltinRule
from monitor.config import Config
from monitor.history import HistoryStore
from monitor.records import Metric, RunResult, RunStatus
from monitor.stores import open_store
from tests.toysignal.analysis import tiny_chunks

RULES = (
    BuiltinRule(
        name="tiny-chunks",
        metric="tiny_chunks",
        threshold=0,
        gate=True,
        description="Chunks too short to say anything.",
    ),
)


@register("tiny", schedule="20 4 * * *", signal=True, rules=RULES)
def run(config: Config, history: HistoryStore, *, full: bool = False) -> RunResult:
    """Count the chunks too short to say anything."""
    with open_store(config.store) as store:
        result = tiny_chunks(c for page in store.pages() for c in page)
    return RunResult(
        status=RunStatus.OK,
        summary=f"{len(result.tiny)} of {result.chunks} chunks are tiny",
        metrics=(Metric(name="tiny_chunks", value=len(result.tiny)),),
        details=result.to_json(),
    )
