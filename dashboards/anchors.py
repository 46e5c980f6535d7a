"""Element ids other sections link to, so one section can point at another's rows."""

from __future__ import annotations

import hashlib


def fix_row_id(document: str) -> str:
    """The id of ``document``'s row in the freshness section's fix queue.

    A hash, not the path: document ids hold any character (spaces, quotes, ``<``), and an
    HTML id must be one token that needs no escaping in a ``href="#..."``.
    """
    digest = hashlib.sha1(document.encode("utf-8", "surrogatepass"), usedforsecurity=False)
    return f"fix-{digest.hexdigest()[:16]}"
