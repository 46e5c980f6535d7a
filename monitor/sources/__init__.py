"""Source catalogs: one adapter per file."""
