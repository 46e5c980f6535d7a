"""The optional pointer from each claim to its nearest passage, with the packaged model."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.embedding.sbert import SentenceTransformerEmbedder
from monitor.grounding import GroundingConfig, Scorer

PASSAGES = [
    "Refunds are issued within 10 days of the return reaching our warehouse.",
    "The R2 robot arm lifts up to 5 kg and reaches 80 cm.",
    "Our support line is open on weekdays from 9 am to 5 pm.",
]
ANSWER = (
    "The R2 arm lifts up to 5 kg. Support is open on weekdays from 9 am to 5 pm. "
    "Refunds come as gift vouchers."
)


@pytest.fixture(scope="module")
def embedder():
    return SentenceTransformerEmbedder()


def test_each_claim_points_at_its_nearest_passage_by_cosine(embedder):
    result = Scorer(GroundingConfig(nearest_passage=True), embedder=embedder).score(
        ANSWER, PASSAGES
    )
    claims = [*result.supported_claims, *result.unsupported_claims]
    assert [c.text for c in result.supported_claims] == [
        "The R2 arm lifts up to 5 kg.",
        "Support is open on weekdays from 9 am to 5 pm.",
    ]
    assert [c.text for c in result.unsupported_claims] == ["Refunds come as gift vouchers."]
    vectors = embedder.embed([c.text for c in claims] + PASSAGES)
    cosines = vectors[:3] @ vectors[3:].T
    assert [c.nearest_passage.index for c in claims] == [1, 2, 0]
    assert [c.nearest_passage.index for c in claims] == list(cosines.argmax(axis=1))
    assert [c.nearest_passage.cosine for c in claims] == pytest.approx(
        list(cosines.max(axis=1)), abs=1e-5
    )
    # A pointer changes no score.
    assert result.score == Scorer().score(ANSWER, PASSAGES).score
    data = result.to_json()
    assert data["unsupported_claims"][0]["nearest_passage"]["index"] == 0
    assert [c["nearest_passage"]["index"] for c in data["supported_claims"]] == [1, 2]


def test_off_by_default_and_the_packaged_model_is_used_when_on():
    plain = Scorer().score(ANSWER, PASSAGES)
    assert plain.supported_claims == ()
    assert plain.unsupported_claims[0].nearest_passage is None
    assert "nearest_passage" not in str(plain.to_json())
    on = Scorer(GroundingConfig(nearest_passage=True)).score(ANSWER, PASSAGES)
    assert on.unsupported_claims[0].nearest_passage is not None
    assert on.unsupported_claims[0].nearest_passage.index == 0
    assert np.isfinite(on.unsupported_claims[0].nearest_passage.cosine)
