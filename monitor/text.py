"""Text normalisation shared by hashing and matching, so both agree on what "same" means."""

from __future__ import annotations

import hashlib
import unicodedata


def normalise(text: str) -> str:
    """Return ``text`` in NFC with every run of whitespace folded to one space.

    A whitespace-only edit (re-indentation, re-wrapped lines, trailing spaces, CRLF)
    leaves the normalised text, and so its hash, unchanged.
    """
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    # str.split() splits on exactly the characters re's \s matches, and is 3x faster.
    return " ".join(text.split())


def sha256_text(text: str) -> str:
    """Hex sha256 of the normalised text."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()
