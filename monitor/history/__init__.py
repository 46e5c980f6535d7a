"""The history store: SQLAlchemy models, Alembic migrations and the queries jobs need."""

from monitor.history.store import HistoryStore

__all__ = ["HistoryStore"]
