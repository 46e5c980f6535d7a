"""Grounding benchmark: ragmon's score against people's hallucination labels.

Scores RAGTruth QA answers (`../shared/data/grounding_dev.jsonl`, 250 answers to 44
questions, human span labels; not part of the repository) and prints, beside the
word-overlap baseline:
- response-level AUROC and best F1 (detecting hallucinated answers), each with a 95%
  bootstrap interval that resamples whole questions;
- the band table (answers and hallucinated share per band);
- expected calibration error of the raw score and of an isotonic calibration fitted on
  the other questions (5-fold, questions held out);
- answers per second of the lexical and structural layers (best of three passes).

Targets: AUROC >= 0.83, best F1 >= 0.55, >= 500 answers/s. Exits 0 with a message when
the data file is absent.

    python bench/grounding.py [--data PATH] [--rounds 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.grounding import BANDS, GroundingConfig, Scorer  # noqa: E402
from monitor.grounding.batch import Response, read_responses  # noqa: E402
from monitor.grounding.calibration import cross_fitted, expected_calibration_error  # noqa: E402
from monitor.grounding.evaluation import (  # noqa: E402
    auroc_interval,
    best_f1,
    best_f1_interval,
)

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "grounding_dev.jsonl"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rounds", type=int, default=1000, help="bootstrap resamples")
    args = parser.parse_args()
    if not args.data.is_file():
        print(f"skipped: {args.data} not found (the dev set is not part of the repository)")
        return 0

    responses = [r for r in read_responses(args.data) if isinstance(r, Response)]
    labels = [bool(r.fields["hallucinated"]) for r in responses]
    groups = [r.query or r.id for r in responses]
    scorer = Scorer(GroundingConfig())
    results = [scorer.score(r.answer, r.contexts, r.query) for r in responses]  # warm
    passes = []
    for _ in range(3):
        started = time.perf_counter()
        results = [scorer.score(r.answer, r.contexts, r.query) for r in responses]
        passes.append(time.perf_counter() - started)
    rate = len(responses) / min(passes)

    print(
        f"{args.data.name}: {len(responses)} answers, {sum(labels)} hallucinated, "
        f"{len(set(groups))} questions; intervals: 95%, {args.rounds} resamples of questions"
    )
    print()
    rows = {
        "ragmon score": [r.score for r in results],
        "word overlap (baseline)": [r.features.word_overlap for r in results],
    }
    print(f"{'scorer':<26}{'AUROC':>24}{'best F1':>24}  cut")
    for name, scores in rows.items():
        auc = auroc_interval(scores, labels, groups, rounds=args.rounds)
        f1 = best_f1_interval(scores, labels, groups, rounds=args.rounds)
        cut = best_f1(scores, labels)
        print(
            f"{name:<26}{auc.value:>8.3f} [{auc.low:.3f}, {auc.high:.3f}]"
            f"{f1.value:>8.3f} [{f1.low:.3f}, {f1.high:.3f}]  <= {cut.threshold:.3f} "
            f"(P {cut.precision:.2f}, R {cut.recall:.2f})"
        )
    print()
    print(f"{'band':<10}{'answers':>8}{'hallucinated':>14}{'share':>8}")
    for band in BANDS:
        members = [lab for res, lab in zip(results, labels, strict=True) if res.band is band]
        share = f"{sum(members) / len(members):.2f}" if members else "-"
        print(f"{band.value:<10}{len(members):>8}{sum(members):>14}{share:>8}")
    print()
    grounded = [not lab for lab in labels]
    raw = [r.score for r in results]
    calibrated = cross_fitted(raw, grounded, groups)
    print(
        f"ECE (10 bins): raw score {expected_calibration_error(raw, grounded):.3f}, "
        f"isotonic fitted on the other questions "
        f"{expected_calibration_error(calibrated, grounded):.3f}"
    )
    print(f"throughput: {rate:,.0f} answers/s (lexical + structural layers, one process)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
