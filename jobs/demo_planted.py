"""The demo's world and the problems it plants in it, day by day (`PLANTED`)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from monitor import clock

if TYPE_CHECKING:
    from monitor.config import Config


@dataclass
class World:
    """The demo's sources, config and the app's state, as the planted changes see them."""

    workdir: Path
    docs: Path
    config: Config
    seed: int
    cut_documents: set[str] = field(default_factory=set)

    def touch(self, path: Path) -> None:
        """Give ``path`` the simulated time as its modification time."""
        stamp = clock.now().timestamp()
        os.utime(path, (stamp, stamp))


MORNING = timedelta(hours=7)
"""The simulation stops at 07:00 the morning after its last day (the daily jobs ran)."""


@dataclass(frozen=True)
class Planted:
    """One problem the demo plants, when, and where the report shows it."""

    key: str
    at: float
    """When, as a share of the span (0: first day, 1: last day)."""
    what: str
    section: str
    """The report section (and what in it) that shows the problem."""
    apply: Callable[[World], list[str]]


def _edit(path: str, old: str, new: str) -> Callable[[World], list[str]]:
    def apply(world: World) -> list[str]:
        file = world.docs / path
        text = file.read_text(encoding="utf-8")
        if old not in text:
            raise RuntimeError(f"demo corpus changed: {old!r} not found in {file}")
        file.write_text(text.replace(old, new, 1), encoding="utf-8")
        world.touch(file)
        return [f"{path}: {old!r} -> {new!r}"]

    return apply


def _append(path: str, section: str) -> Callable[[World], list[str]]:
    def apply(world: World) -> list[str]:
        file = world.docs / path
        with file.open("a", encoding="utf-8") as handle:
            handle.write(section)
        world.touch(file)
        return [f"{path}: new section appended (never embedded)"]

    return apply


def _delete(path: str) -> Callable[[World], list[str]]:
    def apply(world: World) -> list[str]:
        (world.docs / path).unlink()
        return [f"{path}: deleted from the sources"]

    return apply


def _move(paths: tuple[str, ...], folder: str) -> Callable[[World], list[str]]:
    def apply(world: World) -> list[str]:
        (world.docs / folder).mkdir(parents=True, exist_ok=True)
        lines = []
        for path in paths:
            to = f"{folder}/{Path(path).name}"
            (world.docs / path).rename(world.docs / to)  # a move keeps the file's mtime
            lines.append(f"{path} -> {to}")
        return lines

    return apply


def _new(path: str, text: str) -> Callable[[World], list[str]]:
    def apply(world: World) -> list[str]:
        file = world.docs / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
        world.touch(file)
        return [f"{path}: new page (never indexed)"]

    return apply


def _reflow(path: str) -> Callable[[World], list[str]]:
    def apply(world: World) -> list[str]:
        file = world.docs / path
        text = file.read_text(encoding="utf-8")
        file.write_text(re.sub(r"(?<=\w) (?=\w)", "\n", text, count=40), encoding="utf-8")
        world.touch(file)
        return [f"{path}: lines re-wrapped only (must not count as a change)"]

    return apply


def _rechunk(world: World) -> list[str]:
    from jobs.demo_rechunk import BAD_DOCUMENTS, rechunk_badly

    world.cut_documents.update(BAD_DOCUMENTS)
    return [line.strip() for line in rechunk_badly(world.config)]


def _swap(world: World) -> list[str]:
    from jobs.demo_rechunk import swap_model

    return [line.strip() for line in swap_model(world.config, world.seed)]


NEW_DOCUMENT = """# Parental leave

Northwind Robotics offers 16 weeks of fully paid parental leave to every employee who
becomes a parent through birth, adoption or foster placement, regardless of gender.
Leave can be taken in up to three blocks within the first 18 months.

Tell your manager and People Operations at least eight weeks before the first block.
"""

NEW_SECTION = """
## Travel booked through the portal

From January, every trip over 300 EUR must be booked through the travel portal. Receipts
for portal bookings are attached automatically; claims for trips booked elsewhere will be
returned unpaid unless Finance approved an exception in writing beforehand.
"""

MOVED = ("handbook/remote-work.md", "handbook/onboarding.md")
MOVED_TO = "handbook/policies"

PLANTED = (
    Planted(
        "vacation-edit",
        0.1,
        "policy changed: 20 -> 25 days of vacation; nobody re-indexed",
        "Freshness: stale chunk with the word diff '- 20 + 25'; fix queue; Grounding: "
        "answers citing it state 25 (unsupported)",
        _edit(
            "handbook/vacation-policy.md", "20 days of paid vacation", "25 days of paid vacation"
        ),
    ),
    Planted(
        "new-section",
        0.2,
        "a new section appended to handbook/expenses.md",
        "Freshness: document partially indexed (text never embedded)",
        _append("handbook/expenses.md", NEW_SECTION),
    ),
    Planted(
        "warranty-edit",
        0.27,
        "warranty period changed: 24 -> 36 months",
        "Freshness: stale chunk '- 24 + 36'; Grounding: answers state 36 months (unsupported)",
        _edit("products/warranty.txt", "24 months", "36 months"),
    ),
    Planted(
        "folder-moved",
        0.33,
        f"folder reorganised: {', '.join(MOVED)} moved to {MOVED_TO}/",
        "Freshness: moved documents with a path-rewrite proposal",
        _move(MOVED, MOVED_TO),
    ),
    Planted(
        "page-deleted",
        0.4,
        "faq/it-faq.md deleted from the sources; its chunks stay in the store",
        "Freshness: orphaned chunks; Grounding: answers from them invent figures",
        _delete("faq/it-faq.md"),
    ),
    Planted(
        "new-page",
        0.47,
        "handbook/parental-leave.md added, never indexed",
        "Freshness: missing document (coverage)",
        _new("handbook/parental-leave.md", NEW_DOCUMENT),
    ),
    Planted(
        "bad-rechunk",
        0.53,
        "a new pipeline re-ingests 3 product pages: 1,600-character windows, zero-width "
        "spaces, a footer on every chunk",
        "Chunking: truncated chunks, mid-sentence cuts, boilerplate, drift against the "
        "baseline naming the 3 documents; Grounding: answers from them invent figures",
        _rechunk,
    ),
    Planted(
        "model-swap",
        0.67,
        "2 documents re-embedded with another model (simulated: a fixed random rotation "
        "of MiniLM's vectors, recorded as demo/e5-small-v2-simulated)",
        "Freshness/embeddings: mixed models and vector mismatches; Relevance: recall drop "
        "and regressed probes; Grounding: answers with nothing relevant retrieved",
        _swap,
    ),
    Planted(
        "reflow",
        0.73,
        "handbook/security-basics.md re-wrapped (whitespace only)",
        "Freshness: stays fresh (a control, not a problem)",
        _reflow("handbook/security-basics.md"),
    ),
)


def day_of(planted: Planted, days: int) -> int:
    """The day (0-based) ``planted`` happens on in a span of ``days``: never the first."""
    return min(days - 1, 1 + int(planted.at * (days - 1)))
