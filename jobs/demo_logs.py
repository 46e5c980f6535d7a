"""The demo's RAG application: questions, retrieval from the real collection, a simulated
LLM, and the response log it writes (flat JSON Lines, one file per day).

The questions are generated from the corpus as shipped: every sentence that states a
figure becomes a question about its document (also the relevance job's labelled probes).
Retrieval is real (the configured model embeds the question, Chroma answers). The LLM is
simulated, and honest about what it was given only as long as its context is: it answers
with the retrieved sentence closest to the question, and it gets worse the way real ones
do when the context is wrong:

- stale chunk (the source changed since it was embedded): the model mixes in the source's
  current wording and reconciles it with the context by inventing when it changed, so
  the answer states figures the context does not hold;
- chunk of a deleted page: it fills the gap with an invented figure; a badly cut chunk
  (the bad re-ingest): the same, one time in two;
- nothing relevant retrieved (best cosine below `NOTHING_FOUND`, e.g. after the model
  swap): it answers from its own knowledge, an invented figure again;
- otherwise, one answer in eight adds a harmless sentence of its own.

ragmon's lexical grounding scorer sees the unsupported numbers and words. The app also
logs a grounding score of its own (noisy, as an app's judge would be) and the user's
thumbs.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

DEMO_LOGS = """
# Added by `ragmon demo`: the app's responses, one JSON object per line, a file per day.
[logs]
paths = ["logs/responses-*.jsonl"]
format = "jsonl"
"""

NOTHING_FOUND = 0.3
"""Best cosine below which the simulated LLM answers from its own knowledge."""
TOP_K = 3
PER_HOUR = (0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 3, 2, 2, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 0)
"""Questions per hour of the day (UTC): 24 a day, office hours."""

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")
_NUMBER = re.compile(r"\d")
_WORD = re.compile(r"[A-Za-z][A-Za-z-]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "will",
        "with",
        "within",
        "your",
        "you",
        "their",
        "there",
        "than",
    ]
)

INVENTED = (
    "In practice this takes {n} working days, confirmed by the regional office.",
    "The limit was raised to {n} units per site after the last audit.",
    "Most teams report about {n} percent fewer tickets once this is in place.",
    "A surcharge of {n} EUR applies outside the standard service window.",
)
EMBELLISHED = " Your manager can help with the details."
RECONCILED = "This was revised in the update of {day} {month}, which supersedes older copies."
MONTHS = ("January", "February", "March", "April", "May", "June")


@dataclass(frozen=True, slots=True)
class Question:
    """A generated question, the document and sentence it was generated from."""

    id: str
    query: str
    source: str
    sentence: str


def sentences(text: str) -> list[str]:
    """The text's sentences, whitespace collapsed."""
    flat = " ".join(text.split())
    return [s.strip() for s in _SENTENCE.split(flat) if s.strip()]


def _plain(text: str) -> str:
    """Markup dropped (HTML tags, reST/Markdown heading marks), for question generation."""
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"^[#=*\-]+\s*$|^#+\s*", " ", text, flags=re.MULTILINE)


def question_bank(documents: Mapping[str, str]) -> list[Question]:
    """A question for every sentence of 8 to 40 words that states a figure, document by
    document in id order: its words without the figure, asked as a question."""
    bank = []
    for source in sorted(documents):
        for sentence in sentences(_plain(documents[source])):
            words = sentence.split()
            if not (8 <= len(words) <= 40) or not _NUMBER.search(sentence):
                continue
            kept = [w for w in words if not _NUMBER.search(w)]
            query = "What does the documentation say: " + " ".join(kept).rstrip(".:;,") + "?"
            digest = hashlib.blake2b(f"{source}|{sentence}".encode(), digest_size=4).hexdigest()
            bank.append(Question(id=f"q-{digest}", query=query, source=source, sentence=sentence))
    return bank


def write_probes(bank: Sequence[Question], path: Path) -> None:
    """The bank as the relevance job's labelled probes (expected source: its document)."""
    with path.open("w", encoding="utf-8") as out:
        for q in bank:
            out.write(
                json.dumps({"id": q.id, "query": q.query, "expected_sources": [q.source]}) + "\n"
            )


@dataclass(frozen=True, slots=True)
class Retrieved:
    """One retrieved chunk as the app saw it, with the demo's knowledge of its state."""

    id: str
    score: float
    text: str
    source: str
    badly_cut: bool


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    kind: str
    """grounded, embellished, stale, invented_cut, invented_orphan, own_knowledge"""


def _overlap(a: str, b: str) -> int:
    words = {w.lower() for w in _WORD.findall(a)} - _STOP
    return len(words & ({w.lower() for w in _WORD.findall(b)} - _STOP))


def simulate_llm(
    question: Question,
    hits: Sequence[Retrieved],
    current: Mapping[str, str],
    rng: random.Random,
    *,
    indexed: Mapping[str, str],
) -> Answer:
    """The simulated LLM's answer to ``question`` from ``hits``; ``current``: the current
    text of every source document (the world the LLM also knows about); ``indexed``: each
    source's text when the store was built. A chunk is stale when its text was in the
    indexed source and is not in the current one (a loader's rewriting of HTML is not an
    edit, and neither is a re-chunked copy: those are other answer kinds)."""
    invented = rng.choice(INVENTED).format(n=rng.randrange(2, 97))
    if not hits or hits[0].score < NOTHING_FOUND:
        return Answer(invented, "own_knowledge")
    top = hits[0]
    said = max(sentences(top.text), key=lambda s: _overlap(s, question.query), default="")
    source_now = current.get(top.source)
    if source_now is None:
        return Answer(f"{said} {invented}", "invented_orphan")
    if top.badly_cut and rng.random() < 0.5:
        return Answer(f"{said} {invented}", "invented_cut")
    for hit in hits:
        # Stale: a chunk of the context contradicts what the LLM knows of its source now;
        # it states the current version and reconciles the two with an invented date.
        changed = _stale_edits(hit, current, indexed)
        if changed:
            when = RECONCILED.format(day=rng.randrange(1, 29), month=rng.choice(MONTHS))
            return Answer(f"{said} {changed[0]} {when}", "stale")
    if rng.random() < 0.125:
        return Answer(said + EMBELLISHED, "embellished")
    return Answer(said, "grounded")


def _stale_edits(
    hit: Retrieved, current: Mapping[str, str], indexed: Mapping[str, str]
) -> list[str]:
    """The current sentences that edit ``hit``'s text, when the chunk was cut from the
    indexed source and the source no longer holds it (else none)."""
    now = current.get(hit.source)
    if now is None:
        return []
    flat_now = " ".join(now.split())
    flat_chunk = " ".join(hit.text.split())
    if flat_chunk in flat_now or flat_chunk not in " ".join(indexed.get(hit.source, "").split()):
        return []
    return _changed_sentences(hit.text, flat_now)


def _changed_sentences(chunk: str, source_now: str) -> list[str]:
    """Sentences of the current source that are edits of a sentence of ``chunk``."""
    old = sentences(chunk)
    found = []
    for sentence in sentences(source_now):
        if sentence in old:
            continue
        best = max((difflib.SequenceMatcher(None, sentence, o).ratio() for o in old), default=0)
        if best > 0.7:
            found.append(sentence)
    return found


def app_score(answer: Answer, rng: random.Random) -> float:
    """The app's own grounding score: an LLM judge's, noisy, somewhat lower for the bad."""
    base = 0.88 if answer.kind in ("grounded", "embellished") else 0.62
    return round(min(1.0, max(0.0, rng.gauss(base, 0.1))), 2)


def log_line(
    n: str,
    at: datetime,
    question: Question,
    hits: Sequence[Retrieved],
    answer: Answer,
    rng: random.Random,
    user: str,
) -> dict[str, Any]:
    score = app_score(answer, rng)
    good = rng.random() < (0.9 if answer.kind in ("grounded", "embellished") else 0.45)
    return {
        "id": n,
        "timestamp": at.isoformat(),
        "query": question.query,
        "answer": answer.text,
        "chunks": [{"id": h.id, "score": round(h.score, 4)} for h in hits],
        "grounding": score,
        "feedback": "thumbs_up" if good else "thumbs_down",
        "user": user,
    }


def hour_times(day: datetime, hour: int, rng: random.Random) -> list[datetime]:
    """The times of the questions asked in ``hour`` of ``day``, in order."""
    count = PER_HOUR[hour]
    return sorted(day + timedelta(hours=hour, seconds=rng.randrange(3600)) for _ in range(count))
