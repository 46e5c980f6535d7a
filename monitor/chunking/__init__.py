"""Chunking quality: per-chunk features from stored text and metadata, snapshots, drift.

Model-free: the embedding model's tokenizer is the only part of the model used.
"""
