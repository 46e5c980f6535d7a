"""The demo's response log: what a RAG app over the demo collection would have logged."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

DEMO_LOGS = """
# Added by `ragmon demo`: the app's responses, one JSON object per line.
[logs]
paths = ["logs/responses.jsonl*"]
format = "jsonl"
"""


FABRICATED = "Order #ORD-7842 was shipped on March 2nd via FedEx tracking #7891234567."
"""The answer no context backs: every tenth response (the grounding job escalates it)."""
EMBELLISHED = " It also covers contractors, interns and seasonal staff in every regional office."
INVENTED = (
    " Managers may waive this after a quarterly review, and exceptions are logged by the"
    " payroll team in Lisbon within three weeks of approval, unless a regional director"
    " objects in writing."
)


def _answer(n: int, words: list[str]) -> tuple[str, str]:
    """The ``n``th answer and the user's feedback on it: most are the chunk's own words,
    some add a sentence of their own, some add more, one in ten is made up."""
    grounded = " ".join(words[:20])
    kind = n % 10
    if kind == 9:
        return FABRICATED, "thumbs_down"
    if kind == 8:
        return grounded + INVENTED, "thumbs_down" if n % 3 else "thumbs_up"
    if kind in (6, 7):
        return grounded + EMBELLISHED, "thumbs_up" if n % 2 else "thumbs_down"
    return grounded, "thumbs_down" if n % 7 == 0 else "thumbs_up"


def write_demo_log(store: Any, path: Path, *, responses: int = 120) -> int:
    """Write ``responses`` logged answers over chunks of ``store`` (a `VectorStore`): three
    chunks each, a few retrieved far more often than the rest, one id the store never
    held; answers from grounded to made up, with thumbs up or down. Chunk text is not
    logged (the grounding job reads it from the store). Returns how many lines were
    written."""
    rng = random.Random(13)
    chunks = [c for page in islice(store.pages(include_text=True), 5) for c in page]
    popular = chunks[: max(1, len(chunks) // 10)]
    now = datetime.now(UTC)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for n in range(responses):
            picked = rng.sample(popular, min(2, len(popular))) + rng.sample(chunks, 1)
            words = (picked[0].text or "").split()
            hits = [
                {"id": c.id, "score": round(0.9 - 0.1 * rank, 3)} for rank, c in enumerate(picked)
            ]
            if n == responses - 1:
                hits.append({"id": "deleted-long-ago", "score": 0.4})
            answer, feedback = _answer(n, words)
            out.write(
                json.dumps(
                    {
                        "id": f"demo-{n:04d}",
                        "timestamp": (now - timedelta(minutes=5 * (responses - n))).isoformat(),
                        "query": " ".join(words[:8]) + "?",
                        "answer": answer,
                        "chunks": hits,
                        "grounding": round(rng.uniform(0.4, 1.0), 2),
                        "feedback": feedback,
                        "user": f"user-{rng.randrange(20)}",
                    }
                )
                + "\n"
            )
    return responses
