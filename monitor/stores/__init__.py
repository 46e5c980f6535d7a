"""Vector store adapters: one per file."""
