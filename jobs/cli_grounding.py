"""`ragmon grounding score | fit`: the grounding scorer over a JSONL file of responses."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import click

from jobs.clicore import EXIT_USAGE, CliError, Settings, pass_settings

if TYPE_CHECKING:
    from monitor.grounding import GroundingConfig, Scorer
    from monitor.grounding.batch import BadLine, Response
    from monitor.grounding.calibration import Calibration


@click.group()
def grounding() -> None:
    """Score answers against the passages they were given; learn from labels.

    Works without a config file (default bands and no validators); with one, its
    [grounding] section applies.

    \b
    Example:
      ragmon grounding score responses.jsonl > scores.jsonl
      ragmon grounding fit labelled.jsonl --label-field hallucinated --out model.json
    """


def grounding_settings(settings: Settings) -> GroundingConfig:
    """The [grounding] section of the config file, or the defaults when there is none."""
    from monitor.grounding import GroundingConfig

    if not settings.config_path.exists():
        return GroundingConfig()
    config = settings.config()
    return config.grounding.resolved(config.base_dir)


def _scorer(settings: Settings, *, calibrate: bool = False) -> Scorer:
    from monitor.errors import GroundingError
    from monitor.grounding import Scorer

    grounding_config = grounding_settings(settings)
    calibration = stored_calibration(settings, grounding_config) if calibrate else None
    try:
        return Scorer(grounding_config, calibration=calibration)
    except GroundingError as exc:  # a validator's system of record, the NLI model
        raise CliError(str(exc), EXIT_USAGE) from None


def stored_calibration(settings: Settings, grounding_config: GroundingConfig) -> Calibration | None:
    """The calibration the last `grounding` run adopted for this scorer, if any.

    Needs a config file and an existing history; never creates one.
    """
    from sqlalchemy.engine import make_url

    from jobs.grounding import JOB
    from monitor.grounding.scheduled import adopted_calibration, scorer_version

    if not settings.config_path.exists():
        return None
    url = make_url(settings.config().history_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        return None
    history = settings.history()
    try:
        return adopted_calibration(history, JOB, scorer_version(grounding_config))
    finally:
        history.engine.dispose()


def _responses(path: Path) -> list[Response | BadLine]:
    from monitor.grounding.batch import ResponseFileError, read_responses

    try:
        return list(read_responses(path))
    except ResponseFileError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None


def _report_bad(path: Path, bad: BadLine) -> None:
    click.echo(f"{path}:{bad.line}: skipped: {bad.problem}", err=True)


@grounding.command("score")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_settings
def score_file(settings: Settings, file: Path) -> None:
    """Score each response of FILE (JSONL); print one JSON object per line.

    Each record has `answer`, `context` (a list of passages or one string), and
    optionally `id` and `query`. Output: `id`, `score` (0-1, higher is better grounded),
    `band`, the unsupported claims with their novel words, the structural violations,
    and the features; with the config's history holding a calibration that the last
    `grounding` run adopted for this scorer, also `calibrated` (P(grounded)) and
    `calibration` (the curve's version). A malformed line is reported on stderr with
    its number and skipped. Exit 0, or 2 when FILE or the config cannot be used.

    \b
    Example:
      ragmon grounding score responses.jsonl | jq -c 'select(.band == "escalate")'
    """
    from monitor.grounding.batch import BadLine

    scorer = _scorer(settings, calibrate=True)
    bands: Counter[str] = Counter()
    skipped = 0
    for item in _responses(file):
        if isinstance(item, BadLine):
            _report_bad(file, item)
            skipped += 1
            continue
        result = scorer.score(item.answer, item.contexts, item.query)
        bands[result.band.value] += 1
        click.echo(json.dumps({"id": item.id, **result.to_json()}, ensure_ascii=False))
    if not settings.quiet:
        shares = ", ".join(f"{band} {n}" for band, n in sorted(bands.items()))
        calibrated = (
            f"; calibrated with curve {scorer.calibration.version} (the last grounding run's)"
            if scorer.calibration is not None
            else ""
        )
        click.echo(
            f"scored {sum(bands.values())} responses ({shares or 'none'}); {skipped} lines "
            f"skipped{calibrated}",
            err=True,
        )


@grounding.command("fit")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--label-field", required=True, help="Key of the boolean label in each record.")
@click.option(
    "--label-means",
    type=click.Choice(["hallucinated", "grounded"]),
    default="hallucinated",
    show_default=True,
    help="What a true label says about the answer.",
)
@click.option(
    "--group-field",
    default="query",
    show_default=True,
    help="Key grouping answers to one question; folds and the bootstrap keep groups whole.",
)
@click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("grounding-model.json"),
    show_default=True,
    help="Where to write the fitted model (JSON).",
)
@pass_settings
def fit(
    settings: Settings,
    file: Path,
    label_field: str,
    label_means: str,
    group_field: str,
    folds: int,
    out: Path,
) -> None:
    """Fit a logistic combination of the grounding features on labelled responses.

    Reports its AUROC cross-validated with whole questions held out, beside the
    untrained score's, and writes the model to --out. The model is marked adopted
    (and used when grounding.model names it) only when a paired bootstrap over
    questions puts the whole 95% interval of the difference above zero.

    \b
    Example:
      ragmon grounding fit labelled.jsonl --label-field hallucinated --out model.json
    """
    from monitor.errors import LabelError
    from monitor.grounding.batch import BadLine, label_of
    from monitor.grounding.fitting import fit_model

    scorer = _scorer(settings)
    features, labels, groups, untrained = [], [], [], []
    for item in _responses(file):
        if isinstance(item, BadLine):
            _report_bad(file, item)
            continue
        try:
            label = label_of(item, label_field)
        except ValueError as exc:
            _report_bad(file, BadLine(line=item.line, problem=str(exc)))
            continue
        if label is None:
            continue
        result = scorer.score(item.answer, item.contexts, item.query)
        features.append(result.features)
        labels.append(label if label_means == "hallucinated" else not label)
        groups.append(str(item.fields.get(group_field, item.id)))
        untrained.append(result.score)
    try:
        report = fit_model(features, labels, groups, untrained, folds=folds)
    except LabelError as exc:
        raise CliError(f"{file}: {exc}", EXIT_USAGE) from None
    model = report.model
    try:
        out.write_text(json.dumps(model.to_json(), indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{out}: cannot be written ({exc.strerror})", EXIT_USAGE) from None
    diff = report.difference
    lines = [
        f"fitted on {model.n} labelled responses from {len(set(groups))} questions "
        f"({report.folds}-fold cross-validation, questions held out)",
        f"AUROC  fitted {report.fitted_auroc:.3f}  untrained {report.untrained_auroc:.3f}  "
        f"difference {diff.value:+.3f} [{diff.low:+.3f}, {diff.high:+.3f}]",
        "adopted: yes (set grounding.model to use it)"
        if report.adopted
        else "adopted: no (the interval reaches 0: the untrained score stays)",
        f"model {model.version} written to {out}",
    ]
    if not settings.quiet:
        click.echo("\n".join(lines))
