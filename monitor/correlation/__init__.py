"""Correlation: which upstream problems the low-grounding answers come from."""
