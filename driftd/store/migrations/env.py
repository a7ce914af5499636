"""Alembic environment: driftd hands over an open connection (see driftd.store.migrate)."""

from __future__ import annotations

from alembic import context

from driftd.store.models import full_metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("driftd runs its own migrations: use `driftd db upgrade`")

context.configure(
    connection=connection,
    target_metadata=full_metadata(),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
