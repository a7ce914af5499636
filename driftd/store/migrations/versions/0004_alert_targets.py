"""Alert outbox: a delivery may be for one instance (``target``) of a sink.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

An Alertmanager sink posts every alert to every instance of an HA pair; each
instance gets its own row, so one instance that is down is retried alone and
never holds up the other. Existing rows get ``""``: every instance.
Frozen copy of driftd.alerts.model.Delivery's new column and index.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    with op.batch_alter_table("alert_deliveries") as batch:
        batch.add_column(sa.Column("target", sa.String(500), nullable=False, server_default=""))
    op.create_index(
        "ix_alert_deliveries_sink_target_environment_id",
        "alert_deliveries",
        ["sink", "target", "environment", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_alert_deliveries_sink_target_environment_id", "alert_deliveries")
    with op.batch_alter_table("alert_deliveries") as batch:
        batch.drop_column("target")
