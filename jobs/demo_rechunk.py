"""The demo's bad re-ingests: a few documents re-chunked the way a careless pipeline does,
and part of the collection re-embedded with another model.

Fixed 1,600-character windows (longer than the model's window, cut mid-sentence and inside
words), zero-width spaces from a PDF export, and a footer line on every chunk, written with
ragmon's provenance so the freshness audit still sees the documents as current.
"""

from __future__ import annotations

import json
from typing import Any

from monitor import clock
from monitor.config import Config

BAD_DOCUMENTS = (
    "products/r2-arm-datasheet.md",
    "products/firmware-updates.rst",
    "products/troubleshooting.html",
)
WINDOW = 1600
FOOTER = "Downloaded from the Northwind intranet. Cookie settings | Privacy"


def bad_pieces(text: str) -> list[str]:
    """Fixed windows of the text, a zero-width space in every one, the footer on each."""
    pieces = []
    for start in range(0, len(text), WINDOW):
        piece = text[start : start + WINDOW].replace(". ", ".\u200b ", 1)
        pieces.append(piece + "\n" + FOOTER)
    return pieces


def rechunk_badly(config: Config, documents: tuple[str, ...] = BAD_DOCUMENTS) -> list[str]:
    """Replace the chunks of ``documents`` in the store by bad ones; say what was done."""
    from monitor.embedding.sbert import SentenceTransformerEmbedder
    from monitor.provenance import RAGMON_KEYS
    from monitor.sources.directory import DirectoryCatalog
    from monitor.stores.chroma import ChromaIndexTarget
    from monitor.text import sha256_text

    catalog = DirectoryCatalog.from_config(config.sources)
    current = {d.id: d for d in catalog.documents()}
    target = ChromaIndexTarget.from_config(config.store)
    embedder = SentenceTransformerEmbedder.from_config(config.embedding)
    stamp = clock.now().isoformat(timespec="seconds")
    done = []
    for doc_id in documents:
        document = current[doc_id]
        old = [
            c.id
            for page in target.reader.pages(include_text=False)
            for c in page
            if c.metadata.get(RAGMON_KEYS["source_key"]) == doc_id
        ]
        pieces = bad_pieces(catalog.read_text(document))
        target.delete(old)
        target.add(
            [f"{doc_id}#{i}" for i in range(len(pieces))],
            pieces,
            embedder.embed(pieces),
            [
                {
                    RAGMON_KEYS["source_key"]: doc_id,
                    RAGMON_KEYS["source_sha256_key"]: document.sha256,
                    RAGMON_KEYS["chunk_sha256_key"]: sha256_text(piece),
                    RAGMON_KEYS["chunk_index_key"]: i,
                    RAGMON_KEYS["embedded_at_key"]: stamp,
                    RAGMON_KEYS["embedding_model_key"]: embedder.name,
                    "ragmon_chunker": "fixed-window",
                    "ragmon_chunker_params": json.dumps({"chars": WINDOW}),
                }
                for i, piece in enumerate(pieces)
            ],
        )
        done.append(
            f"  {doc_id}: re-ingested by a new pipeline, {len(old)} -> {len(pieces)} chunks of "
            f"{WINDOW} characters, zero-width spaces, a footer on every chunk"
        )
    return done


SWAPPED_DOCUMENTS = ("products/r2-arm-quickstart.md", "faq/it-faq.md")
"""Not `faq/hr-faq.md`: its 15 days of vacation against the policy's 20 is the demo's conflicting
duplicate, which the conflict check finds through the store's neighbours, and vectors from
another model have none among the rest."""
OTHER_MODEL = "demo/e5-small-v2-simulated"
"""The model name the swapped chunks record. No second model can be installed offline, so
the demo stands in for one: the chunks' MiniLM vectors under a fixed random rotation of
the 384-dimensional space (unit length kept, neighbours among themselves kept, unrelated
to every query the configured model embeds), which is how a second model's vectors look
to the first one's queries."""


def rotation(dimension: int, seed: int) -> Any:
    """A fixed random orthogonal matrix (QR of a seeded Gaussian matrix)."""
    import numpy as np

    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((dimension, dimension)))
    return q * np.sign(np.diag(r))


def swap_model(
    config: Config, seed: int, documents: tuple[str, ...] = SWAPPED_DOCUMENTS
) -> list[str]:
    """Re-write the vectors of ``documents`` as if another model had embedded them."""
    import numpy as np

    from monitor.provenance import RAGMON_KEYS
    from monitor.stores.chroma import ChromaIndexTarget

    target = ChromaIndexTarget.from_config(config.store)
    stamp = clock.now().isoformat(timespec="seconds")
    source_key = RAGMON_KEYS["source_key"]
    chunks = [
        c
        for page in target.reader.pages(include_text=True, include_embeddings=True)
        for c in page
        if c.metadata.get(source_key) in documents
    ]
    chunks.sort(key=lambda c: c.id)
    vectors = np.asarray([c.embedding for c in chunks], dtype=np.float64)
    turned = vectors @ rotation(vectors.shape[1], seed)
    target.add(
        [c.id for c in chunks],
        [c.text or "" for c in chunks],
        turned,
        [
            {
                **c.metadata,
                RAGMON_KEYS["embedding_model_key"]: OTHER_MODEL,
                RAGMON_KEYS["embedded_at_key"]: stamp,
            }
            for c in chunks
        ],
    )
    return [
        f"  {doc}: re-embedded by another pipeline with {OTHER_MODEL} "
        f"({sum(c.metadata.get(source_key) == doc for c in chunks)} chunks)"
        for doc in documents
    ]
