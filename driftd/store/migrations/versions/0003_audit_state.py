"""Audit state in the store: source cursors, the parsed-event cache, source health.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05

Frozen copy of driftd.attribute.sources.model at this revision. The JSON audit-state file
earlier versions kept beside the store is imported once, by the first run
that opens the store (driftd.attribute.sources.store_state.import_json_state).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from driftd.store.migrations.frozen import JSON, TS

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "audit_cursors",
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("value", JSON, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("source", name="pk_audit_cursors"),
    )
    op.create_table(
        "audit_events",
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("key", sa.String(500), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("end_at", TS, nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.PrimaryKeyConstraint("source", "key", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_source_at", "audit_events", ["source", "at"])
    op.create_table(
        "audit_sources",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("up", sa.Integer(), nullable=False),
        sa.Column("last_poll_at", TS, nullable=False),
        sa.Column("last_success_at", TS, nullable=True),
        sa.Column("last_event_at", TS, nullable=True),
        sa.Column("events_read", sa.Integer(), nullable=False),
        sa.Column("parse_errors", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_audit_sources"),
    )


def downgrade() -> None:
    op.drop_table("audit_sources")
    op.drop_table("audit_events")
    op.drop_table("audit_cursors")
