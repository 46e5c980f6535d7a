"""`ragmon demo`: a month of a RAG application in a few minutes, on a simulated clock.

The bundled corpus is indexed into an embedded Chroma collection, then day by day: the
sources drift (`PLANTED`, spread over the span), the application answers questions from
the real collection with the real model and writes its response log (`jobs.demo_logs`),
and every registered job runs at the slots of its schedule with `monitor.clock` held
there. The history, alerts and report that come out are a month's.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.demo_planted import MORNING, MOVED, MOVED_TO, PLANTED, Planted, World, day_of
from jobs.demo_summary import correlation_lines, planted_findings, summary_lines
from jobs.ui import console
from monitor import clock

if TYPE_CHECKING:
    from jobs.demo_logs import Question
    from monitor.config import Config
    from monitor.history import HistoryStore

DAY = timedelta(days=1)
MIN_DAYS = 3


DEMO_SCHEDULES = {
    "freshness": "0 */6 * * *",
    "ingest-logs": "5 */6 * * *",
    "grounding": "10 */6 * * *",
    "alerts": "50 */6 * * *",
}
"""The demo's coarser schedules for the jobs that run every few minutes or hourly by
default (to fit a month in minutes); every other job keeps its registered schedule."""

DEMO_ALERTS = """
# Added by `ragmon demo`: alerts on the console and in a JSON Lines file.
[alerts.channels.console]
kind = "console"

[alerts.channels.file]
kind = "jsonl"
path = ".ragmon/alerts.jsonl"

# Staleness is counted per chunk: the demo's two changed numbers are 2 of 63 chunks.
[[alerts.rules]]
name = "stale-share"
threshold = 0.02
"""


@dataclass
class Tally:
    """What happened, for the daily lines and the closing summary."""

    answers: Counter[str] = field(default_factory=Counter)
    runs: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    worst: int = 0


def run_demo(
    workdir: Path,
    *,
    days: int = 30,
    seed: int = 0,
    quiet: bool = False,
    end: datetime | None = None,
) -> int:
    """Simulate ``days`` days in ``workdir`` (recreated); return the worst exit code of its
    jobs' runs. ``end``: the midnight (UTC) that ends the simulated span; by default the
    latest midnight whose next morning (07:00, when the simulation stops) has passed, so
    no stored run lies in the future of the real clock the user reads the results on."""
    from monitor.embedding.sbert import forget_vectors, remember_vectors

    if days < MIN_DAYS:
        raise ValueError(f"the demo needs at least {MIN_DAYS} days, got {days}")
    remember_vectors()
    try:
        return _run(workdir, days=days, seed=seed, quiet=quiet, end=end)
    finally:
        forget_vectors()


def _run(workdir: Path, *, days: int, seed: int, quiet: bool, end: datetime | None) -> int:
    from jobs import registry
    from jobs.demo_logs import DEMO_LOGS, question_bank, write_probes
    from jobs.setup import render_config, run_index
    from monitor.history import HistoryStore

    out = console(quiet)
    if end is None:
        end = (datetime.now(UTC) - MORNING).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - days * DAY
    if workdir.exists():
        shutil.rmtree(workdir)
    docs = workdir / "docs"
    _copy_corpus(docs, start - 60 * DAY)
    original = {
        str(p.relative_to(docs)): p.read_text(encoding="utf-8")
        for p in sorted(docs.rglob("*"))
        if p.is_file() and p.name != "README.md"
    }
    bank = question_bank(original)
    write_probes(bank, workdir / "probes.jsonl")
    config_path = workdir / "ragmon.toml"
    config_path.write_text(_config_text(render_config) + DEMO_ALERTS + DEMO_LOGS, "utf-8")
    config = registry.load_config(config_path)
    world = World(workdir=workdir, docs=docs, config=config, seed=seed)
    (workdir / "logs").mkdir()

    out.rule(f"1. Index the sample corpus ({start - DAY:%Y-%m-%d} 22:00, the evening before day 1)")
    with clock.simulated(start - timedelta(hours=2)):
        run_index(config, None, dry_run=False, quiet=True)
    history = HistoryStore.open(config.history_url)
    out.print(
        f"  {len(original)} documents; {len(bank)} generated questions (also the relevance "
        f"probes, probes.jsonl); simulated span {start:%Y-%m-%d} to {end:%Y-%m-%d}",
        markup=False,
    )

    out.rule(f"2. {days} days: the corpus drifts, the app answers, the jobs run on schedule")
    tally = Tally()
    app = _App(world, bank, random.Random(seed), start, original)
    truth = (workdir / "demo-truth.jsonl").open("w", encoding="utf-8")
    try:
        for day in range(days + 1):
            midnight = start + day * DAY
            planted = [p for p in PLANTED if day < days and day_of(p, days) == day]
            lines = _simulate_day(
                world, history, app, truth, tally, midnight, planted, last=day == days
            )
            if day == 0:
                with clock.simulated(midnight + DAY - timedelta(minutes=1)):
                    _pin_baselines(history)
            if not quiet and lines:
                for line in lines:
                    out.print(line, markup=False)
    finally:
        truth.close()
    return _close(world, history, tally, days, out, quiet)


def _config_text(render: Callable[..., str]) -> str:
    import tomlkit

    doc = tomlkit.parse(
        render(
            store_path="chroma",
            host=None,
            port=8000,
            collection="handbook",
            sources_root="docs",
            preset="auto",
        )
    )
    relevance = doc.setdefault("relevance", tomlkit.table())
    relevance["probes"] = "probes.jsonl"
    jobs = tomlkit.table(is_super_table=True)
    for name, schedule in DEMO_SCHEDULES.items():
        table = tomlkit.table()
        table["schedule"] = schedule
        jobs[name] = table
    doc["jobs"] = jobs
    return (
        tomlkit.dumps(doc).rstrip()
        + "\n\n# The [jobs.*] schedules above are the demo's: coarser than the defaults for\n"
        "# the jobs that run every few minutes or hourly, to fit a month in minutes.\n"
    )


def _pin_baselines(history: HistoryStore) -> None:
    """What a user does after the first day: pin the first runs as the references of the
    jobs that compare against one (`ragmon baseline set JOB`)."""
    from monitor.history.pins import pin_run

    for job in ("chunking", "relevance"):
        found = history.runs(job, limit=100)
        done = [r for r in found if r.status in ("ok", "findings")]
        if done:
            pin_run(history, job, min(r.id for r in done))


def _slots(config: Config, since: datetime, until: datetime) -> Iterator[tuple[datetime, str]]:
    """Every registered, enabled job's slots in [since, until), in time then registry order."""
    from jobs import registry
    from jobs.schedules import next_fire

    found = []
    for order, (name, spec) in enumerate(registry.all_jobs().items()):
        if not registry.is_enabled(spec, config):
            continue
        expression = registry.schedule_of(spec, config)
        slot = next_fire(expression, since - timedelta(microseconds=1))
        while slot is not None and slot < until:
            found.append((slot, order, name))
            slot = next_fire(expression, slot)
    for slot, _, name in sorted(found):
        yield slot, name


def _simulate_day(
    world: World,
    history: HistoryStore,
    app: _App,
    truth: Any,
    tally: Tally,
    midnight: datetime,
    planted: list[Planted],
    *,
    last: bool,
) -> list[str] | None:
    """One simulated day (on ``last``, the morning after the span: jobs only, to 07:00)."""
    from jobs import registry
    from jobs.demo_logs import PER_HOUR
    from jobs.runner import execute, standard_hooks

    actions: list[tuple[datetime, int, str, Any]] = []
    if not last:
        for i, problem in enumerate(planted):
            actions.append((midnight + timedelta(hours=9, minutes=i), 0, "plant", problem))
        for hour, count in enumerate(PER_HOUR):
            if count:  # the hour's answers reach the log file at the end of the hour
                actions.append((midnight + timedelta(hours=hour + 1), 1, "app", hour))
    until = midnight + (MORNING if last else DAY)
    for slot, name in _slots(world.config, midnight, until):
        actions.append((slot, 2, "job", name))
    actions.sort(key=lambda a: (a[0], a[1]))

    lines = [f"day {(midnight - app.start).days + 1:>2} {midnight:%Y-%m-%d}"]
    before = Counter(tally.answers)
    runs = findings = 0
    for at, _, kind, what in actions:
        with clock.simulated(at):
            if kind == "plant":
                lines += [f"  planted: {line}" for line in what.apply(world)]
            elif kind == "app":
                app.answer_hour(midnight, what, truth, tally)
            else:
                outcome = execute(registry.get(what), world.config, history, hooks=standard_hooks())
                runs += 1
                tally.runs[what] += 1
                tally.statuses[str(outcome.status)] += 1
                findings += outcome.status == "findings"
                code = 3 if outcome.error else int(outcome.status == "findings")
                tally.worst = max(tally.worst, code)
                if outcome.error:
                    lines.append(f"  {what} failed: {outcome.error}")
    answered = tally.answers - before
    bad = sum(n for k, n in answered.items() if k not in ("grounded", "embellished"))
    lines[0] += (
        f": {sum(answered.values())} answers ({bad} from stale, cut or missing context), "
        f"{runs} job runs ({findings} with findings)"
    )
    return lines


class _App:
    """The demo's RAG application: real retrieval, simulated LLM, a log file per day."""

    def __init__(
        self,
        world: World,
        bank: list[Question],
        rng: random.Random,
        start: datetime,
        indexed: dict[str, str],
    ):
        from monitor.embedding.sbert import SentenceTransformerEmbedder

        self.world = world
        self.indexed = indexed
        """The text of every source as it was indexed (what the store's chunks were cut
        from): a chunk is stale to the simulated LLM when it came from this text and the
        source no longer holds it."""
        self.bank = bank
        self.rng = rng
        self.embedder = SentenceTransformerEmbedder.from_config(world.config.embedding)
        self.start = start
        weights = [1.0 / (1 + i) ** 0.6 for i in range(len(bank))]
        order = list(range(len(bank)))
        random.Random(rng.random()).shuffle(order)
        self.weights = [weights[order[i]] for i in range(len(bank))]
        self.count = 0

    def answer_hour(self, midnight: datetime, hour: int, truth: Any, tally: Tally) -> None:
        from jobs.demo_logs import hour_times, log_line, simulate_llm
        from monitor.stores import open_store

        times = hour_times(midnight, hour, self.rng)
        asked = self.rng.choices(self.bank, weights=self.weights, k=len(times))
        current = self._current_sources()
        vectors = self.embedder.embed([q.query for q in asked])
        with open_store(self.world.config.store) as store:
            found = store.query(vectors, 3, include_embeddings=True)
        path = self.world.workdir / "logs" / f"responses-{midnight:%Y-%m-%d}.jsonl"
        with path.open("a", encoding="utf-8") as log:
            for at, question, vector, neighbours in zip(times, asked, vectors, found, strict=True):
                hits = self._retrieved(vector, neighbours)
                answer = simulate_llm(question, hits, current, self.rng, indexed=self.indexed)
                rid = f"demo-{self.count:05d}"
                self.count += 1
                user = f"user-{self.rng.randrange(40):02d}"
                line = log_line(rid, at, question, hits, answer, self.rng, user)
                log.write(json.dumps(line) + "\n")
                truth.write(
                    json.dumps(
                        {
                            "id": rid,
                            "kind": answer.kind,
                            "question": question.id,
                            "top_source": hits[0].source if hits else None,
                        }
                    )
                    + "\n"
                )
                tally.answers[answer.kind] += 1
        self.world.touch(path)

    def _retrieved(self, vector: Any, neighbours: list[Any]) -> list[Any]:
        import numpy as np

        from jobs.demo_logs import Retrieved
        from monitor.provenance import RAGMON_KEYS

        out = []
        for n in neighbours:
            source = str(n.metadata.get(RAGMON_KEYS["source_key"], ""))
            score = float(np.dot(vector, np.asarray(n.embedding, dtype=np.float32)))
            out.append(
                Retrieved(
                    id=n.id,
                    score=score,
                    text=n.text or "",
                    source=source,
                    badly_cut=n.metadata.get("ragmon_chunker") == "fixed-window",
                )
            )
        return out

    def _current_sources(self) -> dict[str, str]:
        """The current text of every source, by the id chunks record: a moved document
        is still known under its old id (the LLM knows the facts, not the paths)."""
        docs = self.world.docs
        current = {
            str(p.relative_to(docs)): p.read_text(encoding="utf-8")
            for p in docs.rglob("*")
            if p.is_file()
        }
        for old in MOVED:
            moved = f"{MOVED_TO}/{Path(old).name}"
            if moved in current:
                current[old] = current[moved]
        return current


def _close(
    world: World, history: HistoryStore, tally: Tally, days: int, out: Any, quiet: bool
) -> int:
    from jobs.setup import last_details, queue_with_retrievals
    from jobs.status import job_statuses
    from jobs.ui import render_fix_queue, render_status

    config = world.config
    config_path = world.workdir / "ragmon.toml"
    out.rule("ragmon status (at the end of the simulated span)")
    with clock.simulated(clock_end(history)):
        render_status(job_statuses(config, history), quiet=quiet)
        details = last_details(history, "freshness")
        if details is not None and not quiet:
            out.rule("ragmon fix-queue")
            render_fix_queue(queue_with_retrievals(history, details, config), "table")
    found = planted_findings(history)
    summary = summary_lines(found, days)
    (world.workdir / "demo-summary.txt").write_text(
        "\n".join([*summary, *correlation_lines(history)]) + "\n", encoding="utf-8"
    )
    out.rule("What the demo planted, and where the report shows it")
    for line in summary:
        out.print(line, markup=False)
    out.rule("Which problems the low-grounding answers came from (Correlation section)")
    for line in correlation_lines(history):
        out.print(line, markup=False)
    answers = ", ".join(f"{k} {n}" for k, n in sorted(tally.answers.items()))
    out.print(
        f"\n{sum(tally.answers.values())} answers logged ({answers}); "
        f"{sum(tally.runs.values())} job runs "
        f"({', '.join(f'{k} {n}' for k, n in sorted(tally.statuses.items()))}).",
        markup=False,
    )
    report = config.report.out_dir / "index.html"
    if report.is_file():
        out.print(f"HTML report: {report.resolve()}", markup=False)
    alerts = world.workdir / ".ragmon" / "alerts.jsonl"
    if alerts.is_file():
        out.print(f"Alerts (one JSON object per line): {alerts.resolve()}", markup=False)
    out.print(
        f"\nThe demo store, sources, logs and config are in {world.workdir}/. Try:\n"
        f"  ragmon -c {config_path} status\n"
        f"  ragmon -c {config_path} alerts list\n"
        f"  ragmon -c {config_path} trace demo-00000\n"
        f"  ragmon -c {config_path} report --serve",
        markup=False,
    )
    return tally.worst


def clock_end(history: HistoryStore) -> datetime:
    """The newest run's start: the simulated end (status is read there, not in real time)."""
    newest = max(
        (r.started_at for job in _registered() for r in history.runs(job, limit=1)),
        default=clock.now(),
    )
    return newest if newest.tzinfo else newest.replace(tzinfo=UTC)


def _registered() -> list[str]:
    from jobs import registry

    return list(registry.all_jobs())


def _copy_corpus(target: Path, written: datetime) -> None:
    corpus = resources.files("jobs").joinpath("demo_corpus")
    with resources.as_file(corpus) as source:
        shutil.copytree(source, target)
    stamp = written.timestamp()
    for path in target.rglob("*"):
        os.utime(path, (stamp, stamp))
