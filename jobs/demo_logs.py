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


def write_demo_log(store: Any, path: Path, *, responses: int = 120) -> int:
    """Write ``responses`` logged answers over chunks of ``store`` (a `VectorStore`): three
    chunks each, a few retrieved far more often than the rest, one id the store never
    held. Returns how many lines were written."""
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
            out.write(
                json.dumps(
                    {
                        "id": f"demo-{n:04d}",
                        "timestamp": (now - timedelta(minutes=5 * (responses - n))).isoformat(),
                        "query": " ".join(words[:8]) + "?",
                        "answer": " ".join(words[:20]),
                        "chunks": hits,
                        "grounding": round(rng.uniform(0.4, 1.0), 2),
                        "user": f"user-{rng.randrange(20)}",
                    }
                )
                + "\n"
            )
    return responses
