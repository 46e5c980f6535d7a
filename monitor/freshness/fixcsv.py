"""The fix queue as CSV, safe to open in a spreadsheet.

Document paths and reasons come from outside: a cell that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is a formula to Excel, LibreOffice and Google
Sheets (``=HYPERLINK(...)``, ``=cmd|...``). Such cells get a leading ``'``, which the
spreadsheet shows as text; numbers stay numbers. JSON output keeps the real values.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

COLUMNS = ("document", "action", "chunks", "age_days", "retrievals", "target", "reason")
_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """``value``, with a ``'`` in front when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_LEADS):
        return "'" + value
    return value


def fix_queue_csv(items: Iterable[Mapping[str, Any]]) -> str:
    """The fix queue (``FixItem`` dicts) as CSV text with a header row."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for item in items:
        writer.writerow({key: spreadsheet_safe(item.get(key)) for key in COLUMNS})
    return out.getvalue()
