"""The report's sections. Adding one: a new module that calls `register`, and its name here."""

from __future__ import annotations

import importlib

from dashboards.model import Section

SECTION_MODULES: tuple[str, ...] = (
    "dashboards.freshness",
    "dashboards.responses",
    "dashboards.runs",
)

_SECTIONS: dict[str, Section] = {}


def register(section: Section) -> Section:
    """Add ``section`` to the report (in the order of `SECTION_MODULES`)."""
    _SECTIONS[section.key] = section
    return section


def sections() -> list[Section]:
    for module in SECTION_MODULES:
        importlib.import_module(module)
    order = {m.rsplit(".", 1)[1]: i for i, m in enumerate(SECTION_MODULES)}
    return sorted(_SECTIONS.values(), key=lambda s: order.get(s.key, len(order)))
