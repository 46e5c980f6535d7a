"""How often the correlation analysis finds something in noise, and how often it finds
a planted effect: the rates behind `tests/test_correlation_stats.py`, over more runs.

    PYTHONPATH=$PWD python bench/correlation_null.py --repetitions 1000 --seed 101

Null: generated logs (`tests.correlation_frames`, 30 days x 80 answers, a random day
effect on grounding, every feature's prevalence swinging per day) where grounding is
independent of every feature. Prints the share of runs with any finding, the share of
single-feature p-values below 0.05 / 0.01, and with ``--planted`` the share of runs
whose any_stale interval covers the planted -0.3.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import ttest_ind

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.* and monitor.*

from monitor.correlation.settings import CorrelationSettings
from monitor.correlation.stats import analyse
from tests.correlation_frames import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=101)
    parser.add_argument("--planted", action="store_true")
    args = parser.parse_args()
    settings = CorrelationSettings()
    any_finding = covered = naive = 0
    p_values: list[float] = []
    for k in range(args.repetitions):
        rng = np.random.default_rng([args.seed, k])
        frames = generate(rng, stale_docs=5, stale_effect=0.3) if args.planted else generate(rng)
        result = analyse(frames.responses, frames.retrieved, settings, documents=frames.documents)
        any_finding += any(f.status == "finding" for f in result.features)
        p_values += [f.p for f in result.features if f.p is not None]
        # Reference, same runs: a response-level t-test of any_stale, the comparison the
        # cluster sign-flip test replaces (it counts answers of one day as independent).
        flag = frames.responses["any_stale"].to_numpy(dtype=bool)
        grounding = frames.responses["grounding"].to_numpy()
        naive += ttest_ind(grounding[flag], grounding[~flag]).pvalue < 0.05
        stale = result.feature("any_stale")
        if stale is not None and stale.ci_low is not None and stale.ci_high is not None:
            covered += stale.ci_low <= -0.3 <= stale.ci_high
    p = np.asarray(p_values)
    kind = "planted" if args.planted else "null"
    print(
        f"{args.repetitions} {kind} runs (seeds [{args.seed}, k]): "
        f"any finding in {any_finding} ({any_finding / args.repetitions:.1%}); "
        f"single-feature p < 0.05: {np.mean(p < 0.05):.2%}, < 0.01: {np.mean(p < 0.01):.2%} "
        f"of {p.size}"
        + (f"; any_stale interval covers -0.3 in {covered}" if args.planted else "")
        + f"; reference (same runs): response-level t-test on any_stale p < 0.05 in {naive} "
        f"({naive / args.repetitions:.1%})"
    )


if __name__ == "__main__":
    main()
