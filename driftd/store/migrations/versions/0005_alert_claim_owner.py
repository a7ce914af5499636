"""Alert outbox: a real claim owner instead of a note in ``last_error``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

SQLite deliveries in flight are claimed by a lease; the claim now names its
process in ``claim_owner`` (``HOST:PID:TOKEN``) and its time in ``claimed_at``,
so a restarted daemon frees its dead claims at once. Before 0005 the owner
was written into ``last_error`` as ``sending: claimed by HOST:PID:TOKEN``:
such rows move to the new column (the error they hid is gone already).
Frozen copy of driftd.alerts.model.Delivery's new columns.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

OLD_PREFIX = "sending: claimed by "


def upgrade() -> None:
    with op.batch_alter_table("alert_deliveries") as batch:
        batch.add_column(sa.Column("claim_owner", sa.String(200), nullable=True))
        batch.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        sa.text(
            "UPDATE alert_deliveries SET claim_owner = substr(last_error, :start),"
            " last_error = NULL WHERE state = 'pending' AND last_error LIKE :pattern"
        ).bindparams(start=len(OLD_PREFIX) + 1, pattern=OLD_PREFIX + "%")
    )


def downgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE alert_deliveries SET last_error = :prefix || claim_owner"
            " WHERE claim_owner IS NOT NULL"
        ).bindparams(prefix=OLD_PREFIX)
    )
    with op.batch_alter_table("alert_deliveries") as batch:
        batch.drop_column("claimed_at")
        batch.drop_column("claim_owner")
