"""Embedding model adapters: one per file."""
