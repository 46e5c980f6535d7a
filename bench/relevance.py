"""Relevance benchmark: labelled probes through ragmon against raw encode + Chroma query.

Builds (once, cached under bench/.cache/) an embedded Chroma collection of ``--chunks``
chunks. Their texts are paragraphs of the standard library's docstrings; their vectors
are the real all-MiniLM-L6-v2 vectors of up to 2,000 distinct paragraphs, each repeated
with a little Gaussian noise (renormalised) so the index holds ``--chunks`` distinct
vectors without embedding 100,000 texts on a laptop. ``--probes`` queries (a paragraph's
first sentence, expecting that paragraph's document) are then run, alternately:

- raw: sentence-transformers ``encode`` (batch 64, normalised) and ``collection.query``
  (batches of 256, the same depth and the same ``include``);
- ragmon: `monitor.relevance.analysis.labelled_probes` (embed, query, rank with sources,
  count the retrieved chunks' tokens for the context budget, score every probe).

The two take turns on rounds of ``--round`` (100) probes, in alternating order, so load
that drifts on a shared machine falls on both alike; all probes are run ``--repeat``
times and the totals compared. Target: ragmon's overhead over raw under 15%.

    python bench/relevance.py [--chunks 100000] [--probes 1000] [--repeat 2] [--round 100]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
CACHE = REPO / "bench" / ".cache"

from tests.relevance_corpus import STDLIB_MODULES, filler_paragraphs  # noqa: E402

MODULES = [m for m in STDLIB_MODULES if m != "turtle"] + [
    "asyncio",
    "xml.dom.minidom",
    "xml.etree.ElementTree",
    "concurrent.futures",
    "multiprocessing",
    "importlib.metadata",
    "collections.abc",
    "io",
    "os",
    "re",
    "sys",
    "time",
    "types",
    "weakref",
]
"""The test corpus' modules (without turtle, which needs Tk) and more: ~2,000 paragraphs."""
DEPTH = 20
QUERY_BATCH = 256


def build(path: Path, chunks: int, seed: int, embedder: Any) -> tuple[list[str], list[str]]:
    """The collection at ``path`` (built unless cached); returns base texts and sources."""
    import chromadb

    texts = filler_paragraphs(2000, MODULES)
    sources = [f"doc/{i}.txt" for i in range(len(texts))]
    client = chromadb.PersistentClient(path=str(path))
    existing = [c.name for c in client.list_collections()]
    if "bench" in existing and client.get_collection("bench").count() == chunks:
        return texts, sources
    if "bench" in existing:
        client.delete_collection("bench")
    collection = client.create_collection(
        "bench", embedding_function=None, metadata={"hnsw:space": "cosine"}
    )
    print(f"building {chunks:,} chunks from {len(texts):,} paragraphs ...", flush=True)
    base = embedder.embed(texts)
    rng = np.random.default_rng(seed)
    step = 5000
    for start in range(0, chunks, step):
        index = np.arange(start, min(start + step, chunks))
        which = index % len(texts)
        vectors = base[which] + rng.normal(scale=0.02, size=(len(index), base.shape[1]))
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        collection.add(
            ids=[f"c{i}" for i in index],
            embeddings=vectors.astype(np.float32),
            documents=[texts[w] for w in which],
            metadatas=[{"source": sources[w]} for w in which],
        )
    return texts, sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--probes", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--round", type=int, default=100, help="probes per turn of each path")
    args = parser.parse_args()

    import chromadb

    from monitor.embedding.sbert import SentenceTransformerEmbedder
    from monitor.relevance.analysis import labelled_probes
    from monitor.relevance.metrics import aggregate
    from monitor.relevance.probes import Probe
    from monitor.relevance.retrieval import Retriever, token_counter
    from monitor.relevance.settings import RelevanceConfig
    from monitor.stores.chroma import ChromaStore

    embedder = SentenceTransformerEmbedder()
    embedder.embed(["warm up"])
    path = CACHE / f"relevance-{args.chunks}-{args.seed}"
    texts, sources = build(path, args.chunks, args.seed, embedder)
    rng = np.random.default_rng(args.seed)
    picks = rng.choice(len(texts), size=args.probes, replace=len(texts) < args.probes)
    probes = [
        Probe(
            id=f"p{i}",
            query=texts[j].split(". ")[0],
            unit="source",
            expected={sources[j]: 1.0},
        )
        for i, j in enumerate(picks)
    ]
    settings = RelevanceConfig(k=5, depth=DEPTH, self_sample=0, index_sample=0)
    model = embedder._load()  # the same loaded model for both paths
    collection = chromadb.PersistentClient(path=str(path)).get_collection("bench")
    store = ChromaStore(chromadb.PersistentClient(path=str(path)), "bench")

    def raw(queries: list[str]) -> tuple[float, float]:
        started = time.perf_counter()
        vectors = model.encode(
            queries, batch_size=64, normalize_embeddings=True, show_progress_bar=False
        )
        encoded = time.perf_counter()
        for s in range(0, len(vectors), QUERY_BATCH):
            collection.query(
                query_embeddings=vectors[s : s + QUERY_BATCH],
                n_results=DEPTH,
                include=["distances", "documents", "metadatas"],
            )
        return encoded - started, time.perf_counter() - encoded

    def ours(retriever: Retriever, batch: list[Probe]) -> tuple[float, Any]:
        started = time.perf_counter()
        labelled = labelled_probes(retriever, batch, settings, "bench")
        return time.perf_counter() - started, labelled

    # Both paths read the same index: load it into memory before anything is timed.
    collection.query(query_embeddings=embedder.embed(["warm up"]), n_results=DEPTH)
    # On a shared machine the load drifts over minutes: the two paths take turns on each
    # round of probes (in alternating order), so both see the same load.
    raw_encode = raw_query = ours_total = 0.0
    outcomes: list[Any] = []
    embedding = querying = 0.0
    for repeat in range(args.repeat):
        # A fresh retriever per repeat, as each run of the job has: no token cache carried.
        retriever = Retriever(
            store=store, embedder=embedder, count_tokens=token_counter(embedder.tokenizer)
        )
        for number, start in enumerate(range(0, len(probes), args.round)):
            batch = probes[start : start + args.round]
            first_raw = (number + repeat) % 2 == 0
            if first_raw:
                enc, qry = raw([p.query for p in batch])
            total, labelled = ours(retriever, batch)
            if not first_raw:
                enc, qry = raw([p.query for p in batch])
            raw_encode, raw_query, ours_total = (
                raw_encode + enc,
                raw_query + qry,
                ours_total + total,
            )
            if repeat == 0:
                outcomes += labelled.outcomes
        embedding += retriever.timings.embedding
        querying += retriever.timings.querying
    n = len(probes) * args.repeat
    raw_total = raw_encode + raw_query
    a = aggregate(outcomes)
    print(f"collection: {args.chunks:,} chunks at {path}; {args.probes:,} probes x {args.repeat}")
    print(
        f"reference, raw encode + query (same run): {raw_total:.2f} s "
        f"({n / raw_total:.0f} probes/s): "
        f"encode {raw_encode:.2f} s, query {raw_query:.2f} s"
    )
    rest = ours_total - embedding - querying
    print(
        f"ragmon probes:                            {ours_total:.2f} s "
        f"({n / ours_total:.0f} probes/s): "
        f"embedding {embedding:.2f} s, querying {querying:.2f} s, "
        f"ranking, tokens and scores {rest:.2f} s"
    )
    overhead = ours_total / raw_total - 1
    print(f"overhead: {overhead:+.1%} (target < 15%) {'OK' if overhead < 0.15 else 'OVER'}")
    print(
        f"figures: recall@5 {a.recall_at_k:.3f}, MRR {a.mrr:.3f}, "
        f"over budget {a.over_budget_share:.1%}"
    )


if __name__ == "__main__":
    main()
