"""Alert outbox: one row per (sink, alert event), retried until delivered.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

Frozen copy of driftd.alerts.model.Delivery at this revision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from driftd.store.migrations.frozen import JSON, TS

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sink", sa.String(200), nullable=False),
        sa.Column("environment", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("last_attempt_at", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("delivered_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alert_deliveries"),
        sa.UniqueConstraint(
            "sink", "idempotency_key", name="uq_alert_deliveries_sink_idempotency_key"
        ),
    )
    op.create_index(
        "ix_alert_deliveries_state_next_attempt_at",
        "alert_deliveries",
        ["state", "next_attempt_at"],
    )
    op.create_index(
        "ix_alert_deliveries_sink_environment_kind_id",
        "alert_deliveries",
        ["sink", "environment", "kind", "id"],
    )


def downgrade() -> None:
    op.drop_table("alert_deliveries")
