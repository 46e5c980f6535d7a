"""The freshness audit: every chunk in the store checked against its current source."""
