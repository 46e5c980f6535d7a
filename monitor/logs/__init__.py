"""Response logs: one adapter per format, the ingester, and chunk lineage."""
