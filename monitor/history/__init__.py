"""The history store: SQLAlchemy models, Alembic migrations and the queries jobs need."""

from monitor.history.store import HistoryStore, as_history_error

__all__ = ["HistoryStore", "as_history_error"]
