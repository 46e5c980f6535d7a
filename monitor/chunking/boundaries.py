"""Where a chunk was cut: mid-sentence, inside a table row or a fenced code block, a heading.

Rules on the chunk's first and last lines rather than a sentence segmenter: pysbd takes
about 8 ms per 1,000-character chunk on the development machine (27 minutes for
200,000 chunks); these take a few microseconds. They judge the chunk's edges only, which
is all a cut changes.
"""

from __future__ import annotations

import re

# A chunk that ends on one of these ends a sentence, a quotation, a tag, an emphasis or
# a code span; ``;`` and ``:`` close list items and lead-ins.
_TERMINAL = frozenset(".!?…\"'”’»)]}>*_`:;|")
# A chunk that starts with one of these continues a sentence begun in the chunk before.
_CONTINUATION = frozenset(",;:)]}%")
_FENCE = re.compile(r"^ {0,3}(?:```|~~~)", re.MULTILINE)
_UNDERLINE = re.compile(r"^\s*([=\-~^\"'`#*+])\1{2,}\s*$")
_ATX = re.compile(r"^\s{0,3}#{1,6}(?:\s|$)")
_LIST = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)]|[a-zA-Z][.)])\s")
_HTML_HEADING = re.compile(r"^\s*<h[1-6][^>]*>.*</h[1-6]>\s*$", re.IGNORECASE)


def starts_mid_sentence(text: str) -> bool:
    """The first character is a lower-case letter or a mark that continues a sentence."""
    stripped = text.lstrip()
    if not stripped:
        return False
    first = stripped[0]
    return first.islower() or first in _CONTINUATION


def ends_mid_sentence(text: str) -> bool:
    """The last line is prose whose last character closes no sentence.

    Headings, table rows, fences, underlines and list items may end without a full stop.
    """
    stripped = text.rstrip()
    if not stripped or stripped[-1] in _TERMINAL:
        return False
    last = stripped[stripped.rfind("\n") + 1 :]
    return not (
        _ATX.match(last)
        or _LIST.match(last)
        or _UNDERLINE.match(last)
        or last.lstrip().startswith(("|", "```", "~~~", "<"))
    )


def table_row_cut(text: str) -> bool:
    """The chunk ends, or starts, inside a Markdown table row."""
    if "|" not in text:
        return False
    stripped = text.strip()
    last = stripped[stripped.rfind("\n") + 1 :].strip()
    if last.startswith("|") and not last.endswith("|"):
        return True
    lines = stripped.split("\n", 2)
    first = lines[0].strip()
    if not first.endswith("|") or first.startswith("|"):
        return False
    # The tail of a row: more cells on the line, or more rows after it.
    return first.count("|") >= 2 or (len(lines) > 1 and lines[1].lstrip().startswith("|"))


def code_block_cut(text: str) -> bool:
    """The chunk opens a fenced code block it does not close, or closes one it did not open."""
    if "```" not in text and "~~~" not in text:
        return False
    return len(_FENCE.findall(text)) % 2 == 1


def heading_only(text: str) -> bool:
    """Every non-blank line is a heading (ATX, setext or reST underline, or an HTML h1-h6)."""
    if len(text) > 300:
        return False
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return False
    headings = 0
    for i, line in enumerate(lines):
        if _ATX.match(line) or _HTML_HEADING.match(line):
            headings += 1
        elif _UNDERLINE.match(line):
            continue
        elif i + 1 < len(lines) and _UNDERLINE.match(lines[i + 1]) and len(line) < 120:
            headings += 1
        else:
            return False
    return headings > 0
