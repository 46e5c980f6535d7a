"""The toy report section: the latest result, read back through its record."""

from __future__ import annotations

from typing import Any

from dashboards.model import Light, ReportData, SectionOutput, headline
from dashboards.registry import register
from tests.toysignal.analysis import TinyResult


class TinySection:
    key = "tiny"
    title = "Tiny chunks"
    signal: str | None = "tiny"

    def build(self, data: ReportData, render: Any) -> SectionOutput:
        found = data.details.get("tiny")
        latest = TinyResult.from_json(found[1]) if found else None
        ids = ", ".join(latest.tiny) if latest else "no run yet"
        return SectionOutput(
            html=f"<p id='tiny-ids'>{ids}</p>",
            headlines=[headline(data.series("tiny_chunks"), "tiny chunks")],
            light=Light.GREY if latest is None else Light.AMBER if latest.tiny else Light.GREEN,
            data={"tiny": list(latest.tiny) if latest else []},
        )


register(TinySection())
