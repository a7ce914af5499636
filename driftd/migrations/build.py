"""Build an environment's baseline from its migrations, and verify a committed one.

What a build keeps from the scratch database: the objects of the database
itself, through the environment's own collector and filters. Cluster-wide
objects (roles, settings, tablespaces: ``Kind.cluster_wide``) belong to the
scratch server, which is shared and outlives the build, so they come from the
overlay (``baselines/ENV.overlay.json``) with whatever else exists in production
by design; an overlay object replaces a built one of the same key. The scratch
database's ``database:`` object is renamed after the watched database.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftd import canonical, kinds
from driftd import snapshot as snap
from driftd.errors import BaselineError, ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from driftd.config import ResolvedEnvironment
    from driftd.config.model import Migrations
    from driftd.drift import DriftItem

OVERLAY_SUFFIX = ".overlay.json"


@dataclasses.dataclass
class Built:
    document: snap.Snapshot  # the baseline to write (stable, with "migrations" metadata)
    overlay: int  # objects taken from the overlay


def settings_of(env: ResolvedEnvironment) -> Migrations:
    settings = env.settings.migrations
    if settings is None:
        raise ConfigError(
            f"environment {env.name} has no migrations to build from",
            f"add [environments.{env.name}.migrations] with command (or alembic_ini) and "
            "scratch_url, see docs/migrations.md",
        )
    return settings


def overlay_path(env: ResolvedEnvironment) -> Path:
    path = env.baseline_path
    return path.with_name(path.name.removesuffix(".json") + OVERLAY_SUFFIX)


def read_overlay(env: ResolvedEnvironment) -> dict[str, Any]:
    """The overlay's objects ({} without an overlay file)."""
    path = overlay_path(env)
    if not path.exists():
        return {}
    fix = 'write it as {"objects": {KEY: OBJECT}} with objects from `driftd snapshot ENV`'
    try:
        data = canonical.loads(path.read_bytes())
    except OSError as exc:
        raise BaselineError(f"cannot read overlay {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise BaselineError(f"overlay {path} is not valid JSON: {exc}", fix) from None
    objects = data.get("objects") if isinstance(data, dict) else None
    if not isinstance(objects, dict):
        raise BaselineError(f"overlay {path} has no 'objects' map", fix)
    for key in objects:
        try:
            kinds.parse_key(key)
        except kinds.KeyError_ as exc:
            raise BaselineError(f"overlay {path}: {exc}", fix) from None
    return dict(objects)


def build(env: ResolvedEnvironment) -> Built:
    """Migrate a temporary database on the scratch server and snapshot it as ``env``'s baseline."""
    from driftd.migrations import run, scratch

    settings = settings_of(env)
    overlay = read_overlay(env)  # before anything runs: a broken overlay costs nothing
    database = _database_name(env, overlay)
    server = scratch.server_url(env, settings)
    with scratch.database(server) as url:
        revision = run.migrate(env, settings, url)
        live = snap.take(scratch_environment(env, settings, url))
    document = assemble(live, overlay, database)
    document["migrations"] = {**revision.to_json(), "overlay_objects": len(overlay)}
    return Built(document, len(overlay))


def scratch_environment(
    env: ResolvedEnvironment, settings: Migrations, url: URL
) -> ResolvedEnvironment:
    """``env`` with its database replaced by the scratch one (same filters, same name)."""
    bare = url.set(password=None).render_as_string(hide_password=False)
    changed = env.settings.model_copy(
        update={
            "url": bare,
            "url_env": None,
            "url_file": None,
            "password_env": settings.password_env,
            "password_file": settings.password_file,
        }
    )
    return dataclasses.replace(env, settings=changed)


def _database_name(env: ResolvedEnvironment, overlay: dict[str, Any]) -> str:
    """The watched database's name: the overlay's ``database:`` object, else the URL's."""
    from driftd.migrations.scratch import watched_url

    for key in overlay:
        parsed = kinds.parse_key(key)
        if parsed.kind == "database":
            return parsed.parts[0]
    url = watched_url(env)
    if url is None or not url.database:
        raise ConfigError(
            f"cannot tell the name of the database {env.name} watches (its URL is not readable "
            "here)",
            f"make the URL readable, or put its database:NAME object in {overlay_path(env).name}",
        )
    return url.database


def assemble(live: snap.Snapshot, overlay: dict[str, Any], database: str) -> snap.Snapshot:
    """The baseline: the scratch database's own objects, then the overlay's on top."""
    objects: dict[str, Any] = {}
    for key, value in live["objects"].items():
        kind = kinds.KINDS.get(key.split(":", 1)[0])
        if kind is not None and kind.cluster_wide:
            continue
        if kind is not None and kind.name == "database":
            key = kinds.make_key("database", database)
        objects[key] = value
    objects.update(overlay)
    document = snap.stable(live)
    document["objects"] = dict(sorted(objects.items()))
    return document


def verify(env: ResolvedEnvironment) -> tuple[Built, snap.Snapshot, list[DriftItem]]:
    """Rebuild; the committed baseline and how the rebuilt one differs from it."""
    from driftd.check import evaluate
    from driftd.rules import RuleSet

    settings_of(env)  # no migrations: say that first
    path = env.baseline_path
    if not path.exists():
        raise BaselineError(
            f"no baseline for {env.name} ({path} does not exist)",
            f"build it with `driftd baseline build {env.name}` and commit it",
        )
    committed = snap.read(path, "baseline")
    built = build(env)
    # No ignore rules: the gate is about the file, every difference counts.
    items = evaluate(env.name, committed, built.document, RuleSet(env.config.rules), [])
    return built, committed, items
