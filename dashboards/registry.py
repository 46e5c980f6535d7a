"""The report's sections. Adding one: a new module that calls `register`, and its name here.

Sections appear in the order of `SECTION_MODULES`, whatever their keys.
"""

from __future__ import annotations

import importlib

from dashboards.model import Section

SECTION_MODULES: tuple[str, ...] = (
    "dashboards.freshness",
    "dashboards.chunking",
    "dashboards.relevance",
    "dashboards.responses",
    "dashboards.grounding",
    "dashboards.correlation",
    "dashboards.runs",
)

_SECTIONS: dict[str, tuple[str, Section]] = {}
"""Registered sections by key, with the module that registered each."""


def register(section: Section, *, module: str | None = None) -> Section:
    """Add ``section`` to the report; ``module`` defaults to the section class's module."""
    _SECTIONS[section.key] = (module or type(section).__module__, section)
    return section


def sections() -> list[Section]:
    """The sections registered by the modules of `SECTION_MODULES`, in that order."""
    for module in SECTION_MODULES:
        importlib.import_module(module)
    order = {m: i for i, m in enumerate(SECTION_MODULES)}
    found = [(order[m], s) for m, s in _SECTIONS.values() if m in order]
    return [section for _, section in sorted(found, key=lambda pair: pair[0])]
