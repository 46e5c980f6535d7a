"""Correlation: which upstream problems the low-grounding answers come from.

Each scored response's grounding is joined with the state of what it retrieved (stale,
orphaned, badly cut chunks; retrieval score; query drift); `stats.analyse` says, with
cluster-bootstrap intervals, cluster sign-flip p-values adjusted across features
(Benjamini-Yekutieli by default), which features go with low grounding, within strata
too; `hotspots` ranks the documents the low answers retrieved; `lags` looks for leading
indicators; `results` holds the typed result (`ragmon.correlation/1`), its figures and
findings. What it shows is association in observational data, not proof of cause.

Submodules are imported on use, so reading the config does not load numpy or pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.correlation.results import CorrelationResult, figures, findings
    from monitor.correlation.settings import CorrelationSettings
    from monitor.correlation.stats import analyse

_HOME = {
    "CorrelationResult": "results",
    "figures": "results",
    "findings": "results",
    "CorrelationSettings": "settings",
    "analyse": "stats",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"monitor.correlation.{_HOME[name]}"), name)
    raise AttributeError(f"module 'monitor.correlation' has no attribute {name!r}")


__all__ = ["CorrelationResult", "CorrelationSettings", "analyse", "figures", "findings"]
