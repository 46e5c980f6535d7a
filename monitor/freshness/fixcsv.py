"""Fix-queue CSV cells that are safe to open in a spreadsheet.

Document paths and reasons come from outside: a cell that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is a formula to Excel, LibreOffice and Google
Sheets (``=HYPERLINK(...)``, ``=cmd|...``). Such cells get a leading ``'``, which the
spreadsheet shows as text; numbers stay numbers. JSON output keeps the real values.
"""

from __future__ import annotations

from typing import Any

_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """``value``, with a ``'`` in front when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_LEADS):
        return "'" + value
    return value
