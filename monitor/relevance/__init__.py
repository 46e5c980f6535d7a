"""Retrieval relevance: is the right chunk still found for the questions people ask?

- `probes`: labelled probes from a JSONL or YAML file; `metrics`: hit@k, recall@k, MRR,
  nDCG@k, rank, score and margin of each probe, and the context budget;
- `selfprobe`: self-retrieval probes (a chunk's own sentences, by position), no labels;
- `exact`: the store's approximate index against an exact numpy search;
- `production`: production queries, query embedding drift (through
  `monitor.drift_evidently`) and retrieval score drift between two windows;
- `compare`: probes that regressed since the previous run or the baseline;
- `analysis`: one run of all of them; `results`: its typed record.

Submodules are imported on use, so reading the config does not load numpy or scipy.
"""
