"""Junk in chunk text: invisible and control characters, U+FFFD, mojibake.

Mojibake is judged by ftfy's badness measure, which takes about 0.4 ms per chunk; it only
runs on chunks holding a character pair typical of UTF-8 read as Latin-1 or cp1252.
"""

from __future__ import annotations

import re

# C0/C1 controls but tab, newline and carriage return; soft hyphen; zero-width and
# direction marks; word joiners; byte-order mark; the replacement character.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\ufeff\ufffd]"
)
# A lead byte of a two- or three-byte UTF-8 sequence decoded as Latin-1/cp1252, followed
# by a continuation byte decoded the same way.
_MOJIBAKE_HINT = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192"
    "\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)


def invisible_chars(text: str) -> int:
    """Control, zero-width, direction-mark and replacement characters in ``text``."""
    return len(_INVISIBLE.findall(text))


def mojibake_sequences(text: str) -> int:
    """ftfy's count of mojibake sequences in ``text`` (0 for plain ASCII)."""
    if text.isascii() or not _MOJIBAKE_HINT.search(text):
        return 0
    from ftfy.badness import badness

    return int(badness(text))
