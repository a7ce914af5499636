"""Initial schema: runs, environment state, drift items and events, leases, daemons.

Revision ID: 0001
Revises:
Create Date: 2026-11-24

Migrations are frozen copies of the schema at their time: they use plain
SQLAlchemy types, never driftd's models.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from driftd.store.migrations.frozen import JSON, TS

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("environment", sa.String(200), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("snapshot_hash", sa.String(64), nullable=True),
        sa.Column("drift_count", sa.Integer(), nullable=False),
        sa.Column("daemon", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_index("ix_runs_environment_started_at", "runs", ["environment", "started_at"])
    op.create_table(
        "environment_state",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.Column("last_run_at", TS, nullable=True),
        sa.Column("last_status", sa.String(16), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_duration_seconds", sa.Float(), nullable=True),
        sa.Column("last_success_at", TS, nullable=True),
        sa.Column("snapshot_hash", sa.String(64), nullable=True),
        sa.Column("baseline_hash", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_environment_state"),
    )
    op.create_table(
        "drift",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("environment", sa.String(200), nullable=False),
        sa.Column("object", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("change", sa.String(16), nullable=False),
        sa.Column("path", JSON, nullable=False),
        sa.Column("before", JSON, nullable=True),
        sa.Column("after", JSON, nullable=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("rules", JSON, nullable=False),
        sa.Column("attribution", JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("first_seen_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("acknowledged_at", TS, nullable=True),
        sa.Column("acknowledged_by", sa.String(200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("first_run_id", sa.Integer(), nullable=True),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_drift"),
    )
    op.create_index("ix_drift_environment_state", "drift", ["environment", "state"])
    op.create_table(
        "drift_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("drift_id", sa.String(32), nullable=False),
        sa.Column("environment", sa.String(200), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["drift_id"], ["drift.id"], name="fk_drift_events_drift_id_drift", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_drift_events"),
    )
    op.create_index("ix_drift_events_drift_id", "drift_events", ["drift_id"])
    op.create_index("ix_drift_events_environment_at", "drift_events", ["environment", "at"])
    op.create_table(
        "leases",
        sa.Column("environment", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("acquired_at", TS, nullable=True),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("last_started_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("environment", name="pk_leases"),
    )
    op.create_table(
        "daemons",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("hostname", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("heartbeat_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_daemons"),
    )


def downgrade() -> None:
    for table in ("daemons", "leases", "drift_events", "drift", "environment_state", "runs"):
        op.drop_table(table)
