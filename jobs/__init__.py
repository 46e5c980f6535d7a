"""Scheduled units of work, their registry and runner, and the `ragmon` CLI."""
