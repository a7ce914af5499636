"""Who checks which environment: one daemon alone (SQLite), or a fleet (PostgreSQL).

Fleet algorithm (every ``lease_duration / 3``, on the database's clock so
machines need not agree on the time):

1. heartbeat: upsert this daemon's row in ``daemons`` (expires after one lease period);
2. renew this daemon's unexpired leases, and drop those of environments it no
   longer has in its configuration;
3. fair share = ceil(environments / live daemons). Above it, hand back the
   surplus (never an environment being checked right now); below it, claim
   free or expired leases with ``INSERT ... ON CONFLICT DO UPDATE ... WHERE
   expires_at <= now()``, which only one daemon can win per environment.

Environments are ordered per daemon by a rendezvous hash, so daemons prefer
different ones and rarely contend. A daemon killed with ``kill -9`` stops
renewing: its leases and heartbeat expire after one lease period and the
survivors' next pass takes them over. A daemon that stops cleanly hands its
leases back at once.

Before each check, ``begin_check`` stamps ``last_started_at`` on the lease, but
only while the lease is held and no check of that environment (by any daemon)
started in the last ``min_gap`` seconds: so a lease that moves between daemons
never gets the environment checked twice in one period.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import math
import os
import socket
from collections.abc import Collection
from pathlib import Path
from typing import Protocol

from sqlalchemy import TextClause, bindparam, text

from driftd.errors import DriftdError
from driftd.store import Store

log = logging.getLogger(__name__)


class Leases(Protocol):
    fleet: bool

    def tick(self, environments: Collection[str], busy: Collection[str] = ()) -> set[str]:
        """Heartbeat, renew, rebalance; returns the environments this daemon holds."""
        ...

    def begin_check(self, environment: str, min_gap: float) -> bool:
        """Whether this daemon may check ``environment`` now (and record that it does)."""
        ...

    def release(self) -> None:
        """Hand everything back (clean shutdown)."""
        ...


class SoloLeases:
    """SQLite: this daemon checks everything; a lock file keeps a second daemon out."""

    fleet = False

    def __init__(self, lock_path: Path) -> None:
        self._path = lock_path
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o660)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise DriftdError(
                f"another driftd daemon (pid {holder}) already uses this SQLite state store",
                "stop it first; to run several daemons, use a PostgreSQL state_url",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd: int | None = fd

    def tick(self, environments: Collection[str], busy: Collection[str] = ()) -> set[str]:
        return set(environments)

    def begin_check(self, environment: str, min_gap: float) -> bool:
        return True  # APScheduler's max_instances=1 already prevents overlap

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # drops the flock
            self._fd = None


_HELD = text(
    "SELECT environment FROM leases"
    " WHERE owner IS NOT NULL AND expires_at > now() AND environment IN :envs"
).bindparams(bindparam("envs", expanding=True))
# One statement for a whole batch: with 2,000 environments a claim per
# transaction kept the supervisor loop busy for seconds.
_CLAIM = text(
    "INSERT INTO leases (environment, owner, acquired_at, expires_at)"
    " SELECT e, :me, now(), now() + make_interval(secs => :ttl)"
    " FROM unnest(CAST(:envs AS text[])) WITH ORDINALITY AS u(e, n) ORDER BY n"
    " ON CONFLICT (environment) DO UPDATE SET owner = EXCLUDED.owner,"
    " acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at"
    " WHERE leases.owner IS NULL OR leases.expires_at <= now()"
    " RETURNING environment"
)
_BEGIN = text(
    "UPDATE leases SET last_started_at = now()"
    " WHERE environment = :env AND owner = :me AND expires_at > now()"
    " AND (last_started_at IS NULL"
    "      OR last_started_at <= now() - make_interval(secs => :gap))"
    " RETURNING environment"
)


def _score(daemon_id: str, environment: str) -> int:
    digest = hashlib.blake2b(f"{daemon_id}\0{environment}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class FleetLeases:
    """PostgreSQL: environments split between the daemons sharing the store."""

    fleet = True

    def __init__(self, store: Store, daemon_id: str, duration: float) -> None:
        self.store = store
        self.me = daemon_id
        self.duration = duration
        self.owned: set[str] = set()
        self.live_daemons = 1

    def tick(self, environments: Collection[str], busy: Collection[str] = ()) -> set[str]:
        envs = sorted(environments)
        p = {"me": self.me, "ttl": self.duration, "envs": envs}
        with self.store.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO daemons (id, hostname, pid, started_at, heartbeat_at, expires_at)"
                    " VALUES (:me, :host, :pid, now(), now(), now() + make_interval(secs => :ttl))"
                    " ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(),"
                    " expires_at = EXCLUDED.expires_at"
                ),
                {**p, "host": socket.gethostname()[:200], "pid": os.getpid()},
            )
            # Rows of daemons dead for a while only clutter the table.
            conn.execute(
                text(
                    "DELETE FROM daemons"
                    " WHERE expires_at < now() - make_interval(secs => :ttl * 10)"
                ),
                p,
            )
            live = conn.execute(
                text("SELECT count(*) FROM daemons WHERE expires_at > now()")
            ).scalar_one()
            renewed = conn.execute(
                text(
                    "UPDATE leases SET expires_at = now() + make_interval(secs => :ttl)"
                    " WHERE owner = :me AND expires_at > now() AND environment IN :envs"
                    " RETURNING environment"
                ).bindparams(bindparam("envs", expanding=True)),
                p,
            ).scalars()
            owned = set(renewed)
            # Environments gone from this daemon's config, and leases that ran out.
            conn.execute(
                text(
                    "UPDATE leases SET owner = NULL, expires_at = now()"
                    " WHERE owner = :me AND (expires_at <= now() OR environment NOT IN :envs)"
                ).bindparams(bindparam("envs", expanding=True)),
                p,
            )
        self.live_daemons = max(1, int(live))
        share = math.ceil(len(envs) / self.live_daemons) if envs else 0
        if len(owned) > share:
            self._hand_back(owned, share, busy)
        elif len(owned) < share:
            self._claim(envs, owned, share)
        if owned != self.owned:
            log.info(
                "leases: holding %d of %d environment(s), %d daemon(s) live",
                len(owned),
                len(envs),
                self.live_daemons,
                extra={"held": sorted(owned)},
            )
        self.owned = owned
        return set(owned)

    def _hand_back(self, owned: set[str], share: int, busy: Collection[str]) -> None:
        # Keep the environments this daemon scores highest (and those being checked).
        ranked = sorted(owned, key=lambda e: (e in busy, _score(self.me, e)), reverse=True)
        surplus = [e for e in ranked[share:] if e not in busy]
        if not surplus:
            return
        with self.store.engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE leases SET owner = NULL, expires_at = now()"
                    " WHERE owner = :me AND environment IN :envs"
                ).bindparams(bindparam("envs", expanding=True)),
                {"me": self.me, "envs": surplus},
            )
        owned.difference_update(surplus)

    def _claim(self, envs: list[str], owned: set[str], share: int) -> None:
        held = set(self._returning(_HELD, {"envs": envs}))
        free = sorted(
            (e for e in envs if e not in held), key=lambda e: _score(self.me, e), reverse=True
        )
        while free and len(owned) < share:
            # Claimed in batches, each in its own short transaction and in name order
            # (two daemons lock the rows in the same order: no deadlock); a competing
            # daemon waits on a row, then re-reads it and finds the lease taken.
            batch, free = free[: share - len(owned)], free[share - len(owned) :]
            params = {"envs": sorted(batch), "me": self.me, "ttl": self.duration}
            owned.update(self._returning(_CLAIM, params))

    def begin_check(self, environment: str, min_gap: float) -> bool:
        params = {"env": environment, "me": self.me, "gap": min_gap}
        return bool(self._returning(_BEGIN, params))

    def _returning(self, query: TextClause, params: dict[str, object]) -> list[str]:
        """The environments a statement returns, in a transaction of its own."""
        with self.store.engine.begin() as conn:
            return list(conn.execute(query, params).scalars())

    def release(self) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(
                text("UPDATE leases SET owner = NULL, expires_at = now() WHERE owner = :me"),
                {"me": self.me},
            )
            conn.execute(text("DELETE FROM daemons WHERE id = :me"), {"me": self.me})
        self.owned = set()


def for_store(store: Store, daemon_id: str, duration: float) -> Leases:
    if store.dialect == "postgresql":
        return FleetLeases(store, daemon_id, duration)
    database = store.engine.url.database or "driftd-state.db"
    return SoloLeases(Path(database + ".lock"))
