"""Token counts in the embedding model's own tokenizer, without loading the model.

The tokenizer is read from the model directory's ``tokenizer.json`` with the `tokenizers`
library (no torch) and the window from ``sentence_bert_config.json``.

Counting every chunk with ``encode_batch`` costs about a millisecond per 1,000-character
chunk on a busy 2-core machine, too slow for 200,000 chunks a night. A BERT-style
tokenizer (normaliser, then a split on whitespace and punctuation, then WordPiece per
word) gives each whitespace-separated word the same tokens wherever it stands, so a
chunk's count is the sum of its words' counts: words are counted once with
``encode_batch`` and remembered. Chunks holding characters that the normaliser and
`str.split` treat differently (see `_SPLIT_DIFFERS`), and tokenizers that are not of that
kind, are encoded whole.
"""

from __future__ import annotations

import bisect
import itertools
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.errors import EmbedderError

log = logging.getLogger(__name__)

# Characters str.split() splits on but BERT's normaliser deletes or keeps inside a word
# (form feed, vertical tab, file separators, NEL, line and paragraph separators).
_SPLIT_DIFFERS = re.compile("[\x0b\x0c\x1c-\x1f\x85\u2028\u2029]")
_CACHE_LIMIT = 1_000_000


@dataclass(frozen=True, kw_only=True, slots=True)
class Counted:
    """Token counts of a batch of texts and, for those over the window, the cut."""

    tokens: list[int]
    """Model tokens of each text, without the special tokens."""
    embedded_chars: list[int]
    """Characters of each text that fall inside the window (all of a text that fits)."""


class WindowTokenizer:
    """Counts model tokens and finds where the model's window ends in a text."""

    def __init__(self, tokenizer: Any, *, max_seq_length: int, name: str = ""):
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._tok = tokenizer
        self.name = name
        self.max_seq_length = max_seq_length
        processor = tokenizer.post_processor
        specials = processor.num_special_tokens_to_add(False) if processor is not None else 0
        self.window = max_seq_length - specials
        """Tokens of text the model sees: its maximum sequence length less [CLS] and [SEP]."""
        self._words: dict[str, int] = {}
        self._additive = _is_bert_like(tokenizer)

    @classmethod
    def from_model_dir(
        cls, model_dir: Path | str = "", *, max_seq_length: int | None = None
    ) -> WindowTokenizer:
        """The tokenizer of the model in ``model_dir`` (empty: the packaged MiniLM)."""
        from tokenizers import Tokenizer

        if model_dir:
            directory = Path(model_dir)
            name = directory.name
        else:
            from monitor.embedding.sbert import DEFAULT_MODEL_NAME, packaged_model_dir

            directory, name = packaged_model_dir(), DEFAULT_MODEL_NAME
        file = directory / "tokenizer.json"
        try:
            tokenizer = Tokenizer.from_file(str(file))
        except Exception as exc:
            raise EmbedderError(name, f"cannot read {file}: {exc}") from None
        if max_seq_length is None:
            max_seq_length = _max_seq_length(directory, name)
        return cls(tokenizer, max_seq_length=max_seq_length, name=name)

    def count(self, texts: Sequence[str], words: Sequence[list[str]] | None = None) -> Counted:
        """Token counts of ``texts``; ``words`` are their ``str.split()``, if already made."""
        if words is None:
            words = [t.split() for t in texts]
        tokens = [0] * len(texts)
        embedded = [len(t) for t in texts]
        whole: list[int] = []
        if self._additive:
            self._learn(words)
            get = self._words.__getitem__
            for i, text in enumerate(texts):
                if _SPLIT_DIFFERS.search(text):
                    whole.append(i)
                    continue
                tokens[i] = n = sum(map(get, words[i]))
                if n > self.window:
                    embedded[i] = self._cut(text, words[i])
        else:
            whole = list(range(len(texts)))
        if whole:
            encoded = self._tok.encode_batch([texts[i] for i in whole], add_special_tokens=False)
            for i, enc in zip(whole, encoded, strict=True):
                tokens[i] = len(enc)
                if len(enc) > self.window:
                    # Offsets are in characters of the original text; what follows the
                    # window's last token is never seen by the model.
                    embedded[i] = enc.offsets[self.window - 1][1]
        return Counted(tokens=tokens, embedded_chars=embedded)

    def _cut(self, text: str, words: list[str]) -> int:
        """Characters of ``text`` inside the window: whole words, then part of the next."""
        running = list(itertools.accumulate(map(self._words.__getitem__, words)))
        k = bisect.bisect_right(running, self.window)  # the word that crosses the window
        if k >= len(words):
            return len(text)
        rest = text.split(None, k)[-1] if k else text.lstrip()
        start = len(text) - len(rest)
        need = self.window - (running[k - 1] if k else 0)
        if need == 0:
            return len(text[:start].rstrip())
        encoding = self._tok.encode(words[k], add_special_tokens=False)
        return start + int(encoding.offsets[need - 1][1])

    @property
    def tokenizer(self) -> Any:
        """The `tokenizers.Tokenizer` itself (truncation and padding off)."""
        return self._tok

    def count_one(self, text: str) -> int:
        """Model tokens of one text, encoded whole (the reference the fast path must match)."""
        return len(self._tok.encode(text, add_special_tokens=False))

    def _learn(self, words: Sequence[list[str]]) -> None:
        known = self._words
        new = {w for ws in words for w in ws if w not in known}
        if not new:
            return
        if len(known) + len(new) > _CACHE_LIMIT:
            known.clear()
        fresh = list(new)
        for start in range(0, len(fresh), 4096):
            batch = fresh[start : start + 4096]
            encoded = self._tok.encode_batch(batch, add_special_tokens=False)
            known.update(zip(batch, map(len, encoded), strict=True))


def _is_bert_like(tokenizer: Any) -> bool:
    """True for a WordPiece model behind BERT's pre-tokenizer, whose counts add up per word."""
    try:
        config = json.loads(tokenizer.to_str())
    except Exception:
        return False
    pre = (config.get("pre_tokenizer") or {}).get("type")
    model = (config.get("model") or {}).get("type")
    normalizer = (config.get("normalizer") or {}).get("type")
    additive = pre == "BertPreTokenizer" and model == "WordPiece"
    return additive and normalizer in (None, "BertNormalizer")


def _max_seq_length(directory: Path, name: str) -> int:
    file = directory / "sentence_bert_config.json"
    try:
        value = json.loads(file.read_text(encoding="utf-8"))["max_seq_length"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EmbedderError(
            name,
            f"cannot read max_seq_length from {file} ({exc}); set chunking_quality.max_tokens",
        ) from None
    return int(value)
