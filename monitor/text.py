"""Text normalisation shared by hashing and matching, so both agree on what "same" means."""

from __future__ import annotations

import hashlib
import re
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


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"  # a byte that was not UTF-8 (surrogateescape)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` on one line, safe to log, print or store as UTF-8.

    Control characters (a newline in a file name would forge a log line) and the bytes of a
    file name that were not UTF-8 (lone surrogates from ``os.fsdecode``) are escaped the
    way Python's repr does: ``\\n``, ``\\x1b``, ``\\xff``.
    """
    return _UNPRINTABLE.sub(_escape, text)
