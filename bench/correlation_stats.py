"""The correlation statistics on a large generated frame: how long `analyse` takes.

    PYTHONPATH=$PWD python bench/correlation_stats.py --responses 1000000 --days 30

Generates the contract's `responses` frame (every feature, day clusters, 20 strata) and a
`retrieved` frame of 5 chunks per answer over 20,000 documents, then times
`monitor.correlation.stats.analyse` with the default 1,000 resamples and prints peak RSS.
The join that builds these frames from the history is `bench/correlate.py`'s business.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.* and monitor.*

from monitor.correlation.settings import CorrelationSettings
from monitor.correlation.stats import BINARY_FEATURES, analyse

K = 5


def frames(n: int, days: int, docs: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    day = np.sort(rng.integers(0, days, n))
    labels = pd.date_range("2026-10-01", periods=days, freq="D").strftime("%Y-%m-%d")
    at = pd.Timestamp("2026-10-01", tz="UTC") + pd.to_timedelta(
        day * 86_400 + rng.uniform(0, 86_399, n), unit="s"
    )
    retrieved = rng.integers(0, docs, (n, K))
    stale_docs = rng.random(docs) < 0.05
    stale = stale_docs[retrieved]
    grounding = np.clip(
        0.8 + rng.normal(0, 0.05, days)[day] + rng.normal(0, 0.1, n) - 0.2 * stale.any(1), 0, 1
    )
    frame: dict[str, object] = {
        "rid": np.arange(n),
        "at": at,
        "day": np.asarray(labels)[day],
        "grounding": grounding,
        "low": grounding < 0.8,
        "stratum": pd.Categorical(np.char.add("topic", (retrieved[:, 0] % 20).astype(str))),
        "any_stale": stale.any(1),
        "share_stale": stale.mean(1),
    }
    frame["cluster"] = frame["day"]
    for name in BINARY_FEATURES[1:]:  # any_stale above
        frame[name] = rng.random(n) < 0.1
    for name in ("share_orphaned", "share_moved", "share_suspect", "max_changed_share"):
        frame[name] = rng.binomial(K, 0.03, n) / K
    frame["max_stale_age_days"] = np.where(stale.any(1), rng.exponential(10, n), np.nan)
    frame["top1_score"] = rng.normal(0.6, 0.1, n)
    frame["margin"] = np.abs(rng.normal(0.05, 0.04, n))
    names = np.char.add("docs/doc", np.arange(docs).astype(str))
    chunks = pd.DataFrame(
        {
            "rid": np.repeat(np.arange(n), K),
            "position": np.tile(np.arange(K), n),
            "source_id": pd.Categorical.from_codes(retrieved.ravel(), categories=names),
        }
    )
    return pd.DataFrame(frame), chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--documents", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    responses, retrieved = frames(args.responses, args.days, args.documents, args.seed)
    settings = CorrelationSettings()
    # Reference, same run and frames: the plain group means a response-level comparison
    # would take (no resampling), so analyse's cost reads against a pandas pass.
    begun = time.perf_counter()
    for name in BINARY_FEATURES:
        responses.groupby(name)["grounding"].mean()
    reference = time.perf_counter() - begun
    start, cpu = time.perf_counter(), time.process_time()
    result = analyse(responses, retrieved, settings, documents={})
    wall, used = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stale = result.feature("any_stale")
    print(
        f"{args.responses:,} responses x {K} chunks, {args.days} day clusters, "
        f"{settings.bootstrap} resamples: analyse {wall:.1f} s wall, {used:.1f} s CPU "
        f"({args.responses / wall:,.0f} responses/s); peak RSS {peak:,.0f} MB "
        f"(frames included); any_stale diff {stale.diff:+.3f} "
        f"[{stale.ci_low:+.3f}, {stale.ci_high:+.3f}]; reference (same run): plain "
        f"with/without group means of the {len(BINARY_FEATURES)} binary features "
        f"{reference:.2f} s wall"
    )


if __name__ == "__main__":
    main()
