"""Baselines built from migrations (``driftd baseline build`` / ``verify``).

The environment's migrations run against a temporary database on a scratch
server (:mod:`.scratch`), by any command or by Alembic in-process (:mod:`.run`);
the result is snapshotted with the environment's own collector and filters and,
with the committed overlay, becomes ``baselines/ENV.json`` (:mod:`.build`).
driftd never writes to a watched database: the scratch server is its own setting.
"""
