"""Feedback labels of a response log as "grounded or not", for calibration.

Applications log feedback in many spellings (thumbs, stars, words); the common ones
are read here, anything else is not a label and is left out of the calibration.
"""

from __future__ import annotations

GROUNDED = frozenset(
    {
        "1",
        "true",
        "yes",
        "up",
        "thumbs_up",
        "thumbsup",
        "+1",
        "positive",
        "good",
        "correct",
        "grounded",
        "helpful",
        "accurate",
        "like",
        "liked",
        "👍",
    }
)
UNGROUNDED = frozenset(
    {
        "0",
        "false",
        "no",
        "down",
        "thumbs_down",
        "thumbsdown",
        "-1",
        "negative",
        "bad",
        "incorrect",
        "wrong",
        "hallucinated",
        "hallucination",
        "ungrounded",
        "unhelpful",
        "inaccurate",
        "dislike",
        "disliked",
        "👎",
    }
)


def grounded_label(feedback: str | None) -> bool | None:
    """True when ``feedback`` says the answer was right, False when wrong, else None."""
    if feedback is None:
        return None
    key = feedback.strip().lower().replace("-", "_").replace(" ", "_")
    if key in GROUNDED:
        return True
    if key in UNGROUNDED:
        return False
    return None
