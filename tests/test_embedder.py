"""The packaged model, loaded from the wheel with no network."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.embedding.sbert import SentenceTransformerEmbedder
from monitor.errors import EmbedderError
from monitor.ports import Embedder


def test_packaged_model_matches_the_published_model_card(embedder):
    a, b = embedder.embed(["The weather is lovely today.", "It's so sunny outside!"])
    assert float(np.dot(a, b)) == pytest.approx(0.6660, abs=0.001)


def test_vectors_are_unit_length_float32_of_the_model_dimension(embedder):
    assert isinstance(embedder, Embedder)
    vectors = embedder.embed(["one", "two", "three"])
    assert vectors.shape == (3, 384) == (3, embedder.dimension)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert embedder.max_tokens == 256
    assert embedder.name == "sentence-transformers/all-MiniLM-L6-v2"


def test_token_count_excludes_special_tokens(embedder):
    assert embedder.count_tokens("hello world") == 2


def test_a_model_that_is_not_on_disk_fails_without_downloading(tmp_path):
    missing = SentenceTransformerEmbedder(str(tmp_path / "no-such-model"))
    with pytest.raises(EmbedderError, match="ragmon never downloads weights"):
        missing.embed(["x"])
