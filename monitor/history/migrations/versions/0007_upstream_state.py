"""upstream state per chunk and per response, for correlating it with grounding

chunk_lineage gains the edit size, staleness age and conflict membership of a chunk as the
freshness run saw it; chunk_quality keeps the latest chunking flags of each chunk;
response_retrieval keeps what the relevance job found about one response's retrieval
(query drift and context budget).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_RID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("chunk_lineage") as batch:
        batch.add_column(sa.Column("changed_share", sa.Float, nullable=True))
        batch.add_column(sa.Column("stale_age_s", sa.Float, nullable=True))
        batch.add_column(sa.Column("in_conflict", sa.Boolean, nullable=True))
    op.create_table(
        "chunk_quality",
        sa.Column("chunk_id", sa.String(255), primary_key=True),
        sa.Column("truncated", sa.Boolean, nullable=False),
        sa.Column("mid_sentence", sa.Boolean, nullable=False),
        sa.Column("junk", sa.Boolean, nullable=False),
        sa.Column("tokens", sa.Integer, nullable=True),
        sa.Column("chunking_run", sa.Integer, nullable=True),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "response_retrieval",
        sa.Column(
            "rid",
            _RID,
            sa.ForeignKey("responses.rid", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("query_novelty", sa.Float, nullable=True),
        sa.Column("query_drifted", sa.Boolean, nullable=True),
        sa.Column("context_tokens", sa.Integer, nullable=True),
        sa.Column("over_budget", sa.Boolean, nullable=True),
        sa.Column("relevance_run", sa.Integer, nullable=True),
        sa.Column("computed_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_response_retrieval_at_us", "response_retrieval", ["at_us"])


def downgrade() -> None:
    op.drop_index("ix_response_retrieval_at_us", "response_retrieval")
    op.drop_table("response_retrieval")
    op.drop_table("chunk_quality")
    with op.batch_alter_table("chunk_lineage") as batch:
        batch.drop_column("in_conflict")
        batch.drop_column("stale_age_s")
        batch.drop_column("changed_share")
