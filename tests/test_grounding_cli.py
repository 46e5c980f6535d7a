"""`ragmon grounding score | fit`: output lines, bad lines, exit codes, config."""

from __future__ import annotations

import json
import random

from click.testing import CliRunner

from jobs.cli import cli
from monitor.grounding import GroundingConfig, Scorer
from monitor.grounding.settings import NliSettings

CONTEXT = ["The R2 arm lifts up to 5 kg. Its warranty lasts 24 months from delivery."]


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _write(path, records):
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n",
        encoding="utf-8",
    )
    return path


def test_score_prints_one_object_per_response_and_reports_bad_lines(tmp_path):
    data = _write(
        tmp_path / "responses.jsonl",
        [
            {"id": "a", "query": "How much?", "context": CONTEXT, "answer": "It lifts 5 kg."},
            '{"id": "b", "answer": ',
            {"id": "c", "context": CONTEXT[0], "answer": "Order ORD-7842 ships on March 2nd."},
            {"id": "d", "context": 7, "answer": "x"},
        ],
    )
    result = _invoke("-c", str(tmp_path / "none.toml"), "grounding", "score", str(data))
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["id"], r["band"]) for r in lines] == [("a", "cite"), ("c", "partial")]
    assert lines[0]["score"] == 1.0
    assert [v["value"] for v in lines[1]["violations"]] == ["ORD7842", "????-03-02"]
    assert lines[1]["unsupported_claims"][0]["novel_words"] == ["Order", "ships"]
    assert result.stderr.splitlines() == [
        f"{data}:2: skipped: not valid JSON (Expecting value)",
        f"{data}:4: skipped: key 'context': expected a string or a list of strings",
        "scored 2 responses (cite 1, partial 1); 2 lines skipped",
    ]


def test_score_prints_text_from_the_file_literally(tmp_path):
    answer = "It lifts [bold]5 kg[/bold] ünïcode."
    data = _write(tmp_path / "r.jsonl", [{"id": "x", "context": CONTEXT, "answer": answer}])
    result = _invoke("-q", "-c", str(tmp_path / "none.toml"), "grounding", "score", str(data))
    (line,) = result.stdout.splitlines()
    assert json.loads(line)["unsupported_claims"][0]["text"] == answer
    assert result.stderr == ""


def test_score_exits_2_when_the_file_cannot_be_read(tmp_path):
    missing = tmp_path / "missing.jsonl"
    result = _invoke("-c", str(tmp_path / "none.toml"), "grounding", "score", str(missing))
    assert result.exit_code == 2
    assert f"Error: {missing}: cannot be read (No such file or directory)" in result.stderr


def test_score_uses_the_validators_of_the_config(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "orders.csv").write_text("order_id\nORD-0001\n", encoding="utf-8")
    config = tmp_path / "ragmon.toml"
    config.write_text(
        '[store]\npath = "chroma"\n[sources]\nroot = "docs"\n'
        '[[grounding.validators]]\nname = "order"\npattern = "ORD-\\\\d+"\n'
        'csv = "orders.csv"\ncolumn = "order_id"\n',
        encoding="utf-8",
    )
    data = _write(
        tmp_path / "r.jsonl",
        [
            {"id": "known", "context": "Orders are on the account page.", "answer": "ORD-0001."},
            {"id": "made-up", "context": "Orders are on the account page.", "answer": "ORD-0002."},
        ],
    )
    result = _invoke("-c", str(config), "grounding", "score", str(data))
    assert result.exit_code == 0
    known, made_up = (json.loads(line) for line in result.stdout.splitlines())
    assert known["violations"] == []
    assert made_up["violations"][0]["reason"] == (
        f"no order 'ORD-0002' in {tmp_path / 'orders.csv'}"
    )


def test_score_exits_2_when_a_validator_file_is_missing(tmp_path):
    (tmp_path / "docs").mkdir()
    config = tmp_path / "ragmon.toml"
    config.write_text(
        '[store]\npath = "chroma"\n[sources]\nroot = "docs"\n'
        '[[grounding.validators]]\nname = "order"\npattern = "ORD"\n'
        'csv = "gone.csv"\ncolumn = "order_id"\n',
        encoding="utf-8",
    )
    data = _write(tmp_path / "r.jsonl", [{"context": "c", "answer": "a"}])
    result = _invoke("-c", str(config), "grounding", "score", str(data))
    assert result.exit_code == 2
    assert "Grounding validator 'order'" in result.stderr and "gone.csv" in result.stderr


def test_bad_grounding_config_exits_2_naming_the_key(tmp_path):
    (tmp_path / "docs").mkdir()
    config = tmp_path / "ragmon.toml"
    config.write_text(
        '[store]\npath = "chroma"\n[sources]\nroot = "docs"\n[grounding.bands]\ncite = 0.4\n',
        encoding="utf-8",
    )
    data = _write(tmp_path / "r.jsonl", [{"context": "c", "answer": "a"}])
    result = _invoke("-c", str(config), "grounding", "score", str(data))
    assert result.exit_code == 2
    assert "key 'grounding.bands': grounding.bands must satisfy" in result.stderr


def _labelled_file(tmp_path, n=60):
    """Answers that add made-up words are labelled hallucinated."""
    rng = random.Random(3)
    extras = ["purple", "dragons", "negotiate", "tariffs", "beneath", "volcanic", "glaciers"]
    records = []
    for i in range(n):
        bad = i % 3 == 0
        answer = "The R2 arm lifts up to 5 kg."
        if bad:
            answer += " " + " ".join(rng.sample(extras, rng.randint(3, 6))) + "."
        elif rng.random() < 0.3:
            answer += " " + rng.choice(extras) + "."
        records.append(
            {"id": i, "query": f"q{i // 3}", "context": CONTEXT, "answer": answer, "bad": bad}
        )
    return _write(tmp_path / "labelled.jsonl", records)


def test_fit_reports_both_aurocs_and_writes_the_model(tmp_path):
    data = _labelled_file(tmp_path)
    out = tmp_path / "model.json"
    result = _invoke(
        "-c", str(tmp_path / "none.toml"), "grounding", "fit", str(data),
        "--label-field", "bad", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "fitted on 60 labelled responses from 20 questions "
        "(5-fold cross-validation, questions held out)"
    )
    assert lines[1].startswith("AUROC  fitted ")
    model = json.loads(out.read_text())
    assert model["n"] == 60 and model["schema"] == 1
    assert lines[3] == f"model {model['version']} written to {out}"


def test_an_adopted_model_named_in_the_config_replaces_the_untrained_score(tmp_path):
    data = _labelled_file(tmp_path)
    out = tmp_path / "model.json"
    _invoke("-c", str(tmp_path / "none.toml"), "grounding", "fit", str(data),
            "--label-field", "bad", "--out", str(out))  # fmt: skip
    saved = json.loads(out.read_text())
    saved["adopted"] = True
    out.write_text(json.dumps(saved))
    answer = "The R2 arm lifts up to 5 kg. purple dragons."
    untrained = Scorer().score(answer, CONTEXT)
    fitted = Scorer(GroundingConfig(model=out)).score(answer, CONTEXT)
    assert fitted.features == untrained.features
    assert fitted.score != untrained.score


def test_fit_exits_2_when_labels_are_too_few(tmp_path):
    data = _write(
        tmp_path / "few.jsonl",
        [{"context": CONTEXT, "answer": "It lifts 5 kg.", "bad": False}] * 3,
    )
    result = _invoke(
        "-c", str(tmp_path / "none.toml"), "grounding", "fit", str(data), "--label-field", "bad",
        "--out", str(tmp_path / "m.json"),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "fitting needs at least 20 labelled responses" in result.stderr
    assert not (tmp_path / "m.json").exists()


def test_every_commented_grounding_key_of_the_starter_config_is_valid():
    """Uncomment the [grounding] part of what `ragmon init` writes: it must load as is."""
    import re
    import tomllib

    from jobs.setup import render_config

    text = render_config(
        store_path="chroma",
        host=None,
        port=8000,
        collection="docs",
        sources_root="docs",
        preset="auto",
    )
    part = text[text.index("\n[grounding]") : text.index("\n[alerts]")]
    lines = []
    for line in part.splitlines():
        if re.match(r"^#? ?\[(?!\[?grounding)", line):
            break  # the next section's commented tables
        if line.startswith("[grounding"):
            lines.append(line)
        elif match := re.match(r"^# (\[\[?grounding[^\]]*\]\]?|[a-z_]+ = .*)$", line):
            lines.append(match.group(1).split("  #")[0])
    settings = GroundingConfig.model_validate(tomllib.loads("\n".join(lines))["grounding"])
    assert [v.name for v in settings.validators] == ["order", "invoice"]
    assert settings.model is not None
    assert settings.nli is not None and settings.nli.entailment == "entailment"
    keys = {line.split(" = ")[0] for line in lines}
    assert set(GroundingConfig.model_fields) - {"language"} <= keys | {"bands", "validators", "nli"}
    assert set(NliSettings.model_fields) <= keys
