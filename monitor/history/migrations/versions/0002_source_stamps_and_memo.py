"""source stamps and analysis memo, for incremental audits

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_stamps",
        sa.Column("source_id", sa.Text, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    op.create_table(
        "memo",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.JSON, nullable=True),
        sa.Column("used_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_memo_used_at", "memo", ["used_at"])


def downgrade() -> None:
    op.drop_table("memo")
    op.drop_table("source_stamps")
