"""response grounding: ragmon's score, band and evidence of each ingested response

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_RID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "response_grounding",
        sa.Column(
            "rid",
            _RID,
            sa.ForeignKey("responses.rid", ondelete="CASCADE"),
            primary_key=True,
        ),
        # Copied from the response, so per-day figures need no join.
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("band", sa.String(16), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("scorer", sa.String(40), nullable=False),
        sa.Column("evidence", sa.Text, nullable=True),
        sa.Column("scored_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_response_grounding_at_us", "response_grounding", ["at_us"])


def downgrade() -> None:
    op.drop_index("ix_response_grounding_at_us", "response_grounding")
    op.drop_table("response_grounding")
