"""response logs: responses, their chunks with lineage, retrieval counts, file offsets

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_RID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "responses",
        sa.Column("rid", _RID, primary_key=True),
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("query", sa.Text, nullable=True),
        sa.Column("answer", sa.Text, nullable=True),
        sa.Column("context", sa.Text, nullable=True),
        sa.Column("grounding", sa.Float, nullable=True),
        sa.Column("feedback", sa.String(255), nullable=True),
        sa.Column("labels", sa.Text, nullable=True),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("file", sa.Text, nullable=True),
        sa.Column("line", sa.BigInteger, nullable=True),
        sa.Column("ingested_us", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("id", name="uq_responses_id"),
    )
    op.create_index("ix_responses_at_us", "responses", ["at_us"])
    op.create_table(
        "response_chunks",
        sa.Column(
            "rid",
            _RID,
            sa.ForeignKey("responses.rid", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("chunk_id", sa.String(255), nullable=True),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("score_kind", sa.String(10), nullable=True),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("lineage_id", sa.Integer, nullable=True),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "chunk_lineage",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("chunk_id", sa.String(255), nullable=False),
        sa.Column("freshness_run", sa.Integer, nullable=True),
        sa.Column("chunk_class", sa.String(16), nullable=False),
        sa.Column("source_id", sa.Text, nullable=True),
        sa.Column("source_version", sa.String(80), nullable=True),
        sa.Column("current_version", sa.String(80), nullable=True),
    )
    op.create_index(
        "ux_chunk_lineage_run_chunk", "chunk_lineage", ["freshness_run", "chunk_id"], unique=True
    )
    op.create_table(
        "retrieval_counts",
        sa.Column("day", sa.Integer, primary_key=True),
        sa.Column("chunk_id", sa.String(255), primary_key=True),
        sa.Column("source_id", sa.Text, nullable=True),
        sa.Column("retrievals", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "log_offsets",
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("inode", sa.BigInteger, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("lines", sa.BigInteger, nullable=False),
        sa.Column("head_sha256", sa.String(64), nullable=False),
        sa.Column("head_len", sa.Integer, nullable=False),
        sa.Column("at_eof", sa.Boolean, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "log_pending",
        sa.Column("format", sa.String(16), primary_key=True),
        sa.Column("state", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "log_rejects",
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("reason", sa.String(32), primary_key=True),
        sa.Column("lines", sa.BigInteger, nullable=False),
        sa.Column("last_us", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "log_rejects",
        "log_pending",
        "log_offsets",
        "retrieval_counts",
        "chunk_lineage",
        "response_chunks",
        "responses",
    ):
        op.drop_table(table)
