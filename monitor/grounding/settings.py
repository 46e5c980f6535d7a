"""The ``[grounding]`` section of ``ragmon.toml``: bands, score weights, validators, the
optional NLI model and nearest-passage pointer.

Example::

    [grounding.bands]
    cite = 0.8        # score >= 0.8: serve with citations
    disclaim = 0.5    # 0.5 <= score < 0.8: serve with a disclaimer
    partial = 0.3     # 0.3 <= score < 0.5: partial answer, offer escalation; below: escalate

    [[grounding.validators]]
    name = "order"
    pattern = "ORD-\\\\d+"
    csv = "orders.csv"          # the system of record: a CSV file and its column ...
    column = "order_id"

    [[grounding.validators]]
    name = "invoice"
    pattern = "(?P<id>INV-\\\\d{4})"
    url = "sqlite:///billing.db"  # ... or an SQLAlchemy URL and a read-only query
    query = "SELECT 1 FROM invoices WHERE number = :value"

    [grounding.nli]
    model = "/models/nli-deberta-v3-small"   # a local directory; never downloaded
    entailment = "entailment"                # the output label that means entailment
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BandSettings(_Section):
    """Lower score bounds of the bands; below ``partial`` a response is escalated."""

    cite: float = Field(default=0.8, ge=0, le=1)
    """At or above: serve the answer with its citations."""
    disclaim: float = Field(default=0.5, ge=0, le=1)
    """At or above (and below ``cite``): serve with a disclaimer."""
    partial: float = Field(default=0.3, ge=0, le=1)
    """At or above (and below ``disclaim``): give a partial answer and offer escalation."""

    @model_validator(mode="after")
    def _ordered(self) -> BandSettings:
        if not self.partial <= self.disclaim <= self.cite:
            raise ValueError(
                "grounding.bands must satisfy partial <= disclaim <= cite, got "
                f"partial={self.partial}, disclaim={self.disclaim}, cite={self.cite}"
            )
        return self


class ValidatorSettings(_Section):
    """An identifier kind: a regex, and optionally the system of record it must exist in.

    With a system of record, an identifier is valid when it exists there; without one,
    when the retrieved context (or the question) holds it.
    """

    name: str = Field(pattern=_NAME)
    pattern: str
    """Regular expression; a named group ``id`` marks the part to look up."""
    csv: Path | None = None
    """A CSV file with a header row; ``column`` holds the identifiers that exist."""
    column: str | None = None
    url: str | None = None
    """An SQLAlchemy URL, read with ``query`` in a read-only transaction."""
    query: str | None = None
    """One SELECT with the parameter ``:value``; a row back means the identifier exists."""

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"is not a valid regular expression ({exc})") from None
        return value

    @model_validator(mode="after")
    def _one_system(self) -> ValidatorSettings:
        if self.csv is not None and self.url is not None:
            raise ValueError(f"validator {self.name!r}: set csv or url, not both")
        if (self.csv is None) != (self.column is None):
            raise ValueError(f"validator {self.name!r}: csv and column go together")
        if (self.url is None) != (self.query is None):
            raise ValueError(f"validator {self.name!r}: url and query go together")
        if self.query is not None:
            statement = self.query.strip().rstrip(";")
            if not re.match(r"(?is)^\s*(select|with)\b", statement) or ";" in statement:
                raise ValueError(
                    f"validator {self.name!r}: query must be one SELECT statement, "
                    f"got {self.query!r}"
                )
            if ":value" not in statement:
                raise ValueError(
                    f"validator {self.name!r}: query must use the parameter :value "
                    "for the identifier"
                )
        return self


class NliSettings(_Section):
    """An NLI or cross-encoder model the user has on disk (``[grounding.nli]``).

    Per claim, its probability that the passages entail the claim; a claim the lexical
    layer supports but the model does not entail becomes unsupported. Loaded from a local
    directory only (never downloaded).
    """

    model: Path
    """A local directory with a Hugging Face sequence-classification model (config.json,
    weights, tokenizer), e.g. an NLI cross-encoder saved with ``save_pretrained``."""
    entailment: str | int = "entailment"
    """Which output means entailment: a label name of the model's ``id2label`` (any
    case), or the output's index. A one-output model's single logit is read as the
    entailment logit (sigmoid)."""
    threshold: float = Field(default=0.5, ge=0, le=1)
    """A lexically supported claim whose best entailment probability is below this is
    judged not entailed."""
    weight: float = Field(default=0.45, ge=0)
    """Penalty per not-entailed claim, like one unbacked value: the score is multiplied
    by exp(-weight) for each."""
    batch_size: int = Field(default=16, ge=1)
    """(passage, claim) pairs per forward pass."""


class GroundingConfig(_Section):
    """How answers are scored against their context (`monitor.grounding.score`)."""

    bands: BandSettings = Field(default_factory=BandSettings)
    novel_word_weight: float = Field(default=0.06, ge=0)
    """Score = exp(-(novel_word_weight x (distinct novel words + unbacked plain numbers)
    + violation_weight x unbacked amounts, percentages, dates and identifiers)).
    0.06 puts 12 novel words (about the dev set's best-F1 cut) at score 0.49, just
    under the disclaimer band."""
    violation_weight: float = Field(default=0.45, ge=0)
    """Weight of one unbacked amount, percentage, date or identifier: one alone takes a
    response from 1.0 to 0.64 (disclaimer), two to 0.41 (partial), three to 0.26 (escalate)."""
    check_values: bool = True
    """Compare numbers, amounts, percentages, dates and identifiers as values."""
    validators: list[ValidatorSettings] = Field(default_factory=list)
    model: Path | None = None
    """A model written by `ragmon grounding fit`; it replaces the untrained score only
    when the fit adopted it (it beat the untrained score beyond the interval)."""
    language: str = "en"
    """Language code of the answers, for sentence splitting (stemming is English)."""
    nearest_passage: bool = False
    """Point each claim at its nearest passage (cosine of the packaged all-MiniLM-L6-v2
    embeddings). Loads the embedding model (torch): off by default, also in the job."""
    nli: NliSettings | None = None
    """An NLI / cross-encoder model on disk that must entail each claim (``[grounding.nli]``)."""

    @field_validator("validators")
    @classmethod
    def _unique_names(cls, value: list[ValidatorSettings]) -> list[ValidatorSettings]:
        names = [v.name for v in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"validator names must be unique, repeated: {duplicates}")
        return value

    def resolved(self, base_dir: Path) -> GroundingConfig:
        """A copy whose relative CSV paths are taken from ``base_dir`` (the config's dir)."""
        validators = [
            v.model_copy(update={"csv": base_dir / v.csv})
            if v.csv is not None and not v.csv.is_absolute()
            else v
            for v in self.validators
        ]
        model = self.model
        if model is not None and not model.is_absolute():
            model = base_dir / model
        nli = self.nli
        if nli is not None and not nli.model.is_absolute():
            nli = nli.model_copy(update={"model": base_dir / nli.model})
        return self.model_copy(update={"validators": validators, "model": model, "nli": nli})
