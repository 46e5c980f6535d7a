"""Optional: an NLI or cross-encoder model the user has on disk judges each claim.

Per claim, the model's probability that the retrieved context entails it: the best over
each passage alone and, with several passages, over all of them joined (cut to the
model's maximum length, the longer side first). The premise is the passage, the
hypothesis the claim. How it combines with the lexical layer is the scorer's
(`monitor.grounding.scorer`): it can only take support away.

Loaded with `transformers` from a local directory only (``local_files_only``, the Hub
switched off): no weights are ever downloaded. ``transformers`` and torch are imported
when the model is loaded, never by a scorer without one.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import Any

from monitor.errors import NliModelError
from monitor.grounding.settings import NliSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class NliModelInfo:
    """What the model's config.json says, read without loading the weights."""

    path: Path
    labels: tuple[str, ...]
    """Output names in index order (``id2label``)."""
    entailment: int
    """Index of the output that means entailment."""


def inspect_model(path: Path, entailment: str | int) -> NliModelInfo:
    """Check that ``path`` holds a sequence-classification model whose outputs include
    ``entailment``; cheap (reads config.json only). Raises `NliModelError`."""
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except (OSError, ValueError) as exc:  # a NUL byte, a name too long
        raise NliModelError(path, f"cannot be looked at ({exc})") from None
    if not exists:
        raise NliModelError(path, "does not exist")
    if not is_dir:
        raise NliModelError(path, "is not a directory")
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NliModelError(path, "has no config.json, so it is not a model directory") from None
    except (OSError, ValueError) as exc:
        raise NliModelError(path, f"has an unreadable config.json ({exc})") from None
    if not isinstance(config, dict):
        raise NliModelError(path, "has a config.json that is not a JSON object")
    architectures = config.get("architectures")
    if not isinstance(architectures, list):
        architectures = []
    if not any(str(a).endswith("ForSequenceClassification") for a in architectures):
        raise NliModelError(
            path,
            "is not a sequence-classification (NLI / cross-encoder) model: its config.json "
            f"declares {', '.join(map(str, architectures)) or 'no architecture'}",
        )
    id2label = config.get("id2label")
    if not isinstance(id2label, dict):
        id2label = {}
    count = config.get("num_labels")
    if not isinstance(count, int) or count < 1:
        count = len(id2label) or 2
    labels = tuple(str(id2label.get(str(i), f"LABEL_{i}")) for i in range(count))
    if isinstance(entailment, int):
        index = entailment
    else:
        wanted = entailment.strip().lower()
        matches = [i for i, name in enumerate(labels) if name.lower() == wanted]
        index = matches[0] if matches else -1
    if not 0 <= index < len(labels):
        raise NliModelError(
            path,
            f"has no output {entailment!r} for grounding.nli.entailment; its outputs are "
            + ", ".join(f"{i} = {name!r}" for i, name in enumerate(labels)),
        )
    return NliModelInfo(path=path, labels=labels, entailment=index)


class NliModel:
    """A local sequence-classification model scoring (premise, hypothesis) pairs.

    Loads on construction, so a broken directory fails when the scorer is built. Safe to
    share between threads (inference only, one forward pass at a time).
    """

    def __init__(self, settings: NliSettings):
        self.settings = settings
        self.info = inspect_model(settings.model, settings.entailment)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            from transformers import AutoModelForSequenceClassification, AutoTokenizer

            self._tokenizer: Any = AutoTokenizer.from_pretrained(
                settings.model, local_files_only=True
            )
            self._model: Any = AutoModelForSequenceClassification.from_pretrained(
                settings.model, local_files_only=True
            )
        except Exception as exc:  # transformers raises OSError, ValueError, KeyError, ...
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise NliModelError(settings.model, f"cannot be loaded ({first})") from None
        self._model.eval()
        positions = getattr(self._model.config, "max_position_embeddings", None) or 512
        self.max_length = int(min(self._tokenizer.model_max_length, positions))
        self._lock = Lock()
        log.info("loaded NLI model %s (entailment = output %d)", settings.model, self.entailment)

    @property
    def entailment(self) -> int:
        """Index of the output read as entailment."""
        return self.info.entailment

    def probabilities(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """P(entailment) of each (premise, hypothesis) pair: softmax over the outputs
        (sigmoid of the one logit of a one-output model)."""
        import torch

        out: list[float] = []
        size = self.settings.batch_size
        with self._lock, torch.inference_mode():
            for at in range(0, len(pairs), size):
                batch = pairs[at : at + size]
                encoded = self._tokenizer(
                    [p for p, _ in batch],
                    [h for _, h in batch],
                    padding=True,
                    truncation="longest_first",
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                logits = self._model(**encoded).logits.float()
                if logits.shape[-1] == 1:
                    probs = torch.sigmoid(logits[:, 0])
                else:
                    probs = torch.softmax(logits, dim=-1)[:, self.entailment]
                out += [float(p) for p in probs]
        return out

    def best_entailment(self, claims: Sequence[str], passages: Sequence[str]) -> list[float]:
        """Per claim, the highest P(entailment) over each passage and, with several
        passages, over them joined (cut to the model's maximum length)."""
        premises = list(passages)
        if len(premises) > 1:
            premises.append("\n".join(premises))
        if not claims or not premises:
            return [0.0] * len(claims)
        pairs = [(premise, claim) for claim in claims for premise in premises]
        probs = self.probabilities(pairs)
        n = len(premises)
        return [max(probs[i * n : (i + 1) * n]) for i in range(len(claims))]
