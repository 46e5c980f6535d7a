"""Query embedding drift through evidently: the one module that imports it.

evidently's classifier ("model") method trains a logistic-loss SGD classifier to tell
reference rows from current rows on half of them and reports its ROC AUC on the other
half: 0.5 when the two sets cannot be told apart. Drift is declared when the AUC is above
the threshold (0.55) or, with fewer than 1,000 reference rows, above the 95th percentile
of the AUCs of random scores on the same held-out rows (evidently's bootstrap), which
keeps the false alarm rate at about 5% where a fixed threshold would not. The method,
the threshold and whether the bootstrap decided are recorded with the figure.

evidently's objects (DataFrames, reports, snapshots) stay in this module: callers pass
numpy arrays and get `EmbeddingDrift` back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

BOOTSTRAP_BELOW = 1000
"""With fewer reference rows than this the bootstrap, not the threshold, decides."""
QUANTILE = 0.95


@dataclass(frozen=True, kw_only=True, slots=True)
class EmbeddingDrift:
    """The outcome of one embedding drift check."""

    method: str
    """evidently's method name (``model``: domain classifier ROC AUC)."""
    score: float
    threshold: float | None
    """The AUC threshold that decided, or None when the bootstrap did."""
    bootstrap: bool
    quantile: float | None
    """With the bootstrap: the quantile of random AUCs the score had to exceed."""
    drifted: bool
    reference_rows: int
    current_rows: int


def _method(threshold: float, bootstrap: bool) -> Any:
    from evidently.metrics.embeddings import ModelDriftMethod

    return ModelDriftMethod(threshold=threshold, bootstrap=bootstrap, quantile_probability=QUANTILE)


def _frames(reference: Any, current: Any) -> tuple[Any, Any, list[str]]:
    import numpy as np
    import pandas as pd

    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(current, dtype=np.float64)
    columns = [f"e{i}" for i in range(ref.shape[1])]
    return pd.DataFrame(ref, columns=columns), pd.DataFrame(cur, columns=columns), columns


def embedding_drift(
    reference: Any, current: Any, *, threshold: float = 0.55, bootstrap: bool | None = None
) -> EmbeddingDrift:
    """Compare two 2-D arrays of embeddings with evidently's classifier method.

    ``bootstrap`` None: on when the reference has fewer than `BOOTSTRAP_BELOW` rows.
    """
    ref, cur, _ = _frames(reference, current)
    use_bootstrap = len(ref) < BOOTSTRAP_BELOW if bootstrap is None else bootstrap
    # The method adds a "target" column to the frames it is given: pass copies.
    score, drifted, name = _method(threshold, use_bootstrap)(cur.copy(), ref.copy())
    return EmbeddingDrift(
        method=str(name),
        score=float(score),
        threshold=None if use_bootstrap else threshold,
        bootstrap=use_bootstrap,
        quantile=QUANTILE if use_bootstrap else None,
        drifted=bool(drifted),
        reference_rows=len(ref),
        current_rows=len(cur),
    )


def write_drift_report(
    reference: Any,
    current: Any,
    path: Path,
    *,
    threshold: float = 0.55,
    bootstrap: bool | None = None,
) -> Path:
    """Write evidently's HTML report of the same check to ``path`` (self-contained).

    Slow: evidently draws a t-SNE map of up to 2,500 rows per side.
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import EmbeddingsDrift

    ref, cur, columns = _frames(reference, current)
    use_bootstrap = len(ref) < BOOTSTRAP_BELOW if bootstrap is None else bootstrap
    definition = DataDefinition(embeddings={"query": columns}, numerical_columns=[])
    report = Report(
        [EmbeddingsDrift(embeddings_name="query", drift_method=_method(threshold, use_bootstrap))]
    )
    snapshot = report.run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(path))
    log.info("wrote the query drift report to %s", path)
    return path
