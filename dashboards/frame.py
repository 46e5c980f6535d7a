"""The frame: overview, navigation, page shell, and the files written next to the page.

The page is static and opens offline: plotly's JavaScript is copied next to it once
(`plotly.min.js`), never fetched from a CDN. Every text that came from outside (document
text, chunk text, queries, paths, error messages) goes through Jinja's autoescaping, and
figure data is embedded with ``tojson``, which escapes ``<``, ``>`` and ``&``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dashboards.formats import anchor, format_figure, format_number, format_when
from dashboards.model import MAX_FINDINGS, AlertView, Light, ReportData, Section, SectionOutput
from dashboards.plots import sparkline
from dashboards.registry import sections
from monitor.durations import format_duration
from monitor.errors import OutputError

PLOTLY_JS = "plotly.min.js"
_LIGHT_ORDER = [Light.GREY, Light.GREEN, Light.AMBER, Light.RED]


@dataclass(frozen=True, kw_only=True, slots=True)
class ReportFiles:
    index: Path
    data: Path
    size_bytes: int
    names: tuple[str, ...] = ()
    """Every file this report wrote into its directory (what `report --serve` serves)."""


def environment() -> Any:
    """The Jinja environment every section renders with (autoescaping on)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("dashboards", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = format_number
    env.filters["when"] = format_when
    env.filters["duration"] = format_duration
    env.filters["figure"] = format_figure
    env.globals["anchor"] = anchor
    env.globals["sparkline"] = sparkline
    env.globals["MAX_FINDINGS"] = MAX_FINDINGS
    return env


def write_report(data: ReportData, out_dir: Path) -> ReportFiles:
    """Render every registered section into ``out_dir``; return what was written."""
    env = environment()

    def render(template: str, **context: Any) -> str:
        return str(env.get_template(template).render(**context))

    built: list[tuple[Section, SectionOutput]] = [(s, s.build(data, render)) for s in sections()]
    overview = _overview(data, built)
    figures = [asdict(f) for _, out in built for f in out.figures]
    fix_rows = {doc for _, out in built for doc in out.fix_rows}
    page = env.get_template("frame.html.j2").render(
        data=data,
        overview=overview,
        sections=[(s, out) for s, out in built],
        figures=[f for f in figures if not f["spec"].get("note")],
        fix_rows=fix_rows,
    )
    payload = {
        "title": data.title,
        "generated_at": data.generated_at.isoformat(),
        "since": data.since.isoformat(),
        "overview": overview,
        "sections": {
            s.key: {**out.data, "findings": [asdict(f) for f in out.findings]} for s, out in built
        },
        "figures": figures,
    }
    files = {name: content for _, out in built for name, content in out.files.items()}
    files["report.json"] = json.dumps(payload, indent=1, default=str, sort_keys=True).encode()
    encoded = page.encode("utf-8")
    files["index.html"] = encoded  # last: a reader of index.html finds every file it links
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        _copy_plotly(out_dir)
        for name, content in files.items():
            _atomic_write(out_dir / name, content)
    except OSError as exc:
        raise OutputError("the report to", out_dir, exc.strerror or str(exc)) from None
    return ReportFiles(
        index=out_dir / "index.html",
        data=out_dir / "report.json",
        size_bytes=len(encoded),
        names=(PLOTLY_JS, *files),
    )


def _overview(data: ReportData, built: list[tuple[Section, SectionOutput]]) -> dict[str, Any]:
    signals = []
    for section, out in built:
        if section.signal is None and not out.headlines:
            continue
        light = max(
            [out.light, *(_alert_light(a) for a in data.alerts if a.signal == section.signal)],
            key=_LIGHT_ORDER.index,
        )
        signals.append(
            {
                "signal": section.signal or section.key,
                "title": section.title,
                "anchor": section.key,
                "light": light.value,
                "headlines": [asdict(h) for h in out.headlines],
                "findings": len(out.findings),
            }
        )
    overdue = [h for h in data.health if h.overdue_since is not None]
    failing = [h for h in data.health if h.last_status in ("failed", "interrupted")]
    monitor = Light.RED if overdue else Light.AMBER if failing else Light.GREEN
    if any(a.signal == "monitor" for a in data.alerts):
        monitor = max(monitor, Light.RED, key=_LIGHT_ORDER.index)
    return {
        "signals": signals,
        "monitor": {"light": monitor.value, "jobs": [asdict(h) for h in data.health]},
        "alerts": [asdict(a) for a in data.alerts],
    }


def _alert_light(alert: AlertView) -> Light:
    return {"critical": Light.RED, "warning": Light.AMBER}.get(alert.severity, Light.GREEN)


def _copy_plotly(out_dir: Path) -> None:
    import plotly

    source = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    target = out_dir / PLOTLY_JS
    if not target.exists() or target.stat().st_size != source.stat().st_size:
        shutil.copyfile(source, target)


def _atomic_write(path: Path, content: bytes) -> None:
    """Write via a temporary file and rename, so a reader never sees half a page."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report is meant to be published
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
