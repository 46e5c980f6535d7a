"""The optional NLI layer with a real local model.

No NLI model's weights can be installed here, so each test builds a real
sequence-classification model on disk from the packaged all-MiniLM-L6-v2 encoder (a
three-way head, labels named like an NLI model's, the head's bias chosen so that the
model leans to "entailment" or away from it) and checks that the scorer uses exactly
that model's probabilities. What such a model says about truth means nothing; what is
tested is the plumbing and the documented combination rule.
"""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from jobs.cli import cli
from monitor.embedding.sbert import packaged_model_dir
from monitor.errors import NliModelError
from monitor.grounding import GroundingConfig, GroundingResult, NliSettings, Scorer

LABELS = {0: "contradiction", 1: "entailment", 2: "neutral"}
PASSAGES = [
    "The R2 arm lifts up to 5 kg and reaches 80 cm.",
    "Its warranty lasts 24 months from delivery.",
]
# Two claims the lexical layer supports, one it does not ("titanium").
ANSWER = "The R2 arm lifts 5 kg. The warranty lasts 24 months. It is made of titanium."


def _build(directory, entailment_bias: float):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    source = packaged_model_dir()
    model = AutoModelForSequenceClassification.from_pretrained(
        source,
        num_labels=3,
        id2label=LABELS,
        label2id={v: k for k, v in LABELS.items()},
        local_files_only=True,
    )
    with torch.no_grad():
        model.classifier.bias.copy_(torch.tensor([0.0, entailment_bias, 0.0]))
    model.save_pretrained(directory)
    AutoTokenizer.from_pretrained(source, local_files_only=True).save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def doubting(tmp_path_factory):
    """Leans away from entailment: P(entailment) well below 0.5 for any pair."""
    return _build(tmp_path_factory.mktemp("doubting"), -3.0)


@pytest.fixture(scope="module")
def entailing(tmp_path_factory):
    """Leans to entailment: P(entailment) well above 0.5 for any pair."""
    return _build(tmp_path_factory.mktemp("entailing"), 3.0)


def _direct(directory, claim: str) -> float:
    """The model called directly, one pair at a time: the best P(entailment) of the
    claim over each passage and the passages joined."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(directory, local_files_only=True)
    best = 0.0
    for premise in [*PASSAGES, "\n".join(PASSAGES)]:
        with torch.no_grad():
            logits = model(**tokenizer(premise, claim, return_tensors="pt")).logits[0]
        best = max(best, float(torch.softmax(logits, dim=-1)[1]))
    return best


def test_not_entailed_claims_become_unsupported_with_the_models_probability(doubting):
    plain = Scorer().score(ANSWER, PASSAGES)
    result = Scorer(GroundingConfig(nli=NliSettings(model=doubting))).score(ANSWER, PASSAGES)
    claims = ["The R2 arm lifts 5 kg.", "The warranty lasts 24 months.", "It is made of titanium."]
    expected = [_direct(doubting, c) for c in claims]
    assert all(p < 0.5 for p in expected)
    assert [c.text for c in result.unsupported_claims] == claims
    assert [c.entailment for c in result.unsupported_claims] == pytest.approx(expected, abs=1e-5)
    reasons = [c.reason for c in result.unsupported_claims]
    assert reasons[:2] == [f"nli: not entailed (p={p:.2f})" for p in expected[:2]]
    assert reasons[2] == "not in the context: made, titanium"
    assert result.not_entailed == 2
    # The lexical features are untouched; the score pays exp(-weight) per claim.
    assert result.features == plain.features
    assert result.score == pytest.approx(plain.score * math.exp(-0.45 * 2))
    assert result.supported_claims == ()


def test_an_entailing_model_never_rescues_a_lexically_unsupported_claim(entailing):
    plain = Scorer().score(ANSWER, PASSAGES)
    result = Scorer(GroundingConfig(nli=NliSettings(model=entailing))).score(ANSWER, PASSAGES)
    (titanium,) = result.unsupported_claims
    assert titanium.novel_words == ("made", "titanium")
    assert titanium.entailment == pytest.approx(_direct(entailing, titanium.text), abs=1e-5)
    assert titanium.entailment > 0.5
    assert [c.text for c in result.supported_claims] == [
        "The R2 arm lifts 5 kg.",
        "The warranty lasts 24 months.",
    ]
    assert all(c.entailment is not None and c.entailment > 0.5 for c in result.supported_claims)
    assert result.score == plain.score and result.not_entailed == 0
    data = result.to_json()
    assert data["unsupported_claims"][0]["entailment"] == pytest.approx(titanium.entailment)
    assert GroundingResult.from_json(json.loads(json.dumps(data))).to_json() == data


def test_the_threshold_decides_and_the_entailment_output_can_be_an_index(doubting):
    p = _direct(doubting, "The R2 arm lifts 5 kg.")
    below = NliSettings(model=doubting, entailment=1, threshold=round(p, 4) - 0.001)
    result = Scorer(GroundingConfig(nli=below)).score("The R2 arm lifts 5 kg.", PASSAGES)
    assert result.unsupported_claims == () and result.score == 1.0
    assert result.supported_claims[0].entailment == pytest.approx(p, abs=1e-5)
    above = NliSettings(model=doubting, entailment="ENTAILMENT", threshold=round(p, 4) + 0.001)
    result = Scorer(GroundingConfig(nli=above)).score("The R2 arm lifts 5 kg.", PASSAGES)
    assert result.not_entailed == 1 and result.band.value == "disclaim"


def test_a_path_that_is_not_a_usable_model_is_refused_naming_the_key(tmp_path, doubting):
    def problem(settings):
        with pytest.raises(NliModelError) as caught:
            Scorer(GroundingConfig(nli=settings))
        assert str(caught.value).startswith("key 'grounding.nli.model': ")
        return str(caught.value)

    assert "does not exist" in problem(NliSettings(model=tmp_path / "missing"))
    assert "is not a sequence-classification (NLI / cross-encoder) model: its config.json " \
        "declares BertModel" in problem(NliSettings(model=packaged_model_dir()))  # fmt: skip
    assert (
        "has no output 'entails' for grounding.nli.entailment; its outputs are "
        "0 = 'contradiction', 1 = 'entailment', 2 = 'neutral'"
    ) in problem(NliSettings(model=doubting, entailment="entails"))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((doubting / "config.json").read_text())
    assert "cannot be loaded" in problem(NliSettings(model=broken))


def _config(tmp_path, nli: str) -> str:
    (tmp_path / "docs").mkdir(exist_ok=True)
    config = tmp_path / "ragmon.toml"
    config.write_text(
        f'[store]\npath = "chroma"\n[sources]\nroot = "docs"\n\n[grounding.nli]\n{nli}\n',
        encoding="utf-8",
    )
    return str(config)


def test_cli_reads_the_model_from_the_config_and_exits_2_on_a_bad_one(tmp_path, doubting):
    data = tmp_path / "r.jsonl"
    data.write_text(json.dumps({"id": "a", "context": PASSAGES, "answer": ANSWER}) + "\n")
    runner = CliRunner()

    config = _config(tmp_path, 'model = "no-such-model"')
    result = runner.invoke(cli, ["-c", config, "grounding", "score", str(data)])
    assert result.exit_code == 2
    assert (
        f"Error: {config}, line 7: key 'grounding.nli.model': {tmp_path / 'no-such-model'} "
        "does not exist. ragmon never downloads weights" in result.stderr
    )

    config = _config(tmp_path, f'model = "{doubting}"\nentailment = "entailment"')
    result = runner.invoke(cli, ["-q", "-c", config, "grounding", "score", str(data)])
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    scored = json.loads(line)
    assert scored["not_entailed"] == 2
    assert [c.get("entailment") for c in scored["unsupported_claims"]] == pytest.approx(
        [_direct(doubting, c["text"]) for c in scored["unsupported_claims"]], abs=1e-5
    )


def test_the_job_stores_the_models_verdicts_and_pointers(tmp_path, doubting):
    from tests.logfiles import jsonl, query
    from tests.test_grounding_job import _config, _response, _scored

    config = _config(tmp_path)
    config.write_text(
        config.read_text()
        + f'[grounding]\nnearest_passage = true\n[grounding.nli]\nmodel = "{doubting}"\n'
    )
    log = tmp_path / "logs" / "app.jsonl"
    log.parent.mkdir()
    log.write_text(jsonl([_response("a", 20, 0, "cite")]))
    runner = CliRunner()
    assert runner.invoke(cli, ["-c", str(config), "-q", "run", "ingest-logs"]).exit_code == 0
    body = _scored(config)
    assert body["result"]["scored"] == 1
    ((evidence,),) = query(tmp_path, "SELECT evidence FROM response_grounding")
    (claim,) = json.loads(evidence)["unsupported_claims"]
    assert claim["reason"] == f"nli: not entailed (p={claim['entailment']:.2f})"
    assert claim["nearest_passage"] == 0 and claim["cosine"] > 0.9
    ((band, score),) = query(tmp_path, "SELECT band, score FROM response_grounding")
    assert (band, score) == ("disclaim", pytest.approx(math.exp(-0.45)))

    # Weights that cannot be loaded: the job fails as a config error (exit 2).
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((doubting / "config.json").read_text())
    config.write_text(config.read_text().replace(str(doubting), str(broken)))
    result = runner.invoke(cli, ["-c", str(config), "run", "grounding"])
    assert result.exit_code == 2
    assert "key 'grounding.nli.model'" in result.output and "cannot be loaded" in result.output
