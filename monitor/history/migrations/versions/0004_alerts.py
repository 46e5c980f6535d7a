"""alerts: alert state (with acks), the delivery outbox, and the evaluation guard row

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    guard = op.create_table(
        "alert_guard",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("evaluations", sa.Integer, nullable=False, server_default="0"),
        sa.Column("evaluated_at", sa.DateTime, nullable=True),
    )
    op.bulk_insert(guard, [{"id": 1, "evaluations": 0}])
    op.create_table(
        "alert_states",
        sa.Column("fingerprint", sa.String(32), primary_key=True),
        sa.Column("rule", sa.String(128), nullable=False),
        sa.Column("labels", sa.JSON, nullable=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("since", sa.DateTime, nullable=False),
        sa.Column("last_seen_at", sa.DateTime, nullable=False),
        sa.Column("last_notified_at", sa.DateTime, nullable=True),
        sa.Column("resolved_at", sa.DateTime, nullable=True),
        sa.Column("acked_at", sa.DateTime, nullable=True),
        sa.Column("acked_by", sa.String(200), nullable=True),
        sa.Column("ack_note", sa.Text, nullable=True),
        sa.Column("notifications", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("ix_alert_states_status", "alert_states", ["status"])
    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("notification_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("fingerprint", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_attempt_at", sa.DateTime, nullable=True),
        sa.Column("delivered_at", sa.DateTime, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_until", sa.DateTime, nullable=True),
    )
    op.create_index(
        "ux_alert_outbox_notification_channel",
        "alert_outbox",
        ["notification_id", "channel"],
        unique=True,
    )
    op.create_index("ix_alert_outbox_status", "alert_outbox", ["status", "channel"])
    op.create_index("ix_alert_outbox_fingerprint", "alert_outbox", ["fingerprint"])


def downgrade() -> None:
    op.drop_table("alert_outbox")
    op.drop_table("alert_states")
    op.drop_table("alert_guard")
