"""libpq connection parameters from a database URL: apart from the read loop, so the
catalog fingerprint (the no-change fast path) imports neither the builder nor the kinds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from driftd.config.url import URL


def _connect_params(url: URL, connect_timeout: float) -> dict[str, Any]:
    params: dict[str, Any] = {}
    # URL query options (sslmode, host=/socket/dir, ...) are libpq options too.
    for key, value in url.query.items():
        params[key] = ",".join(value) if isinstance(value, tuple) else value
    parts = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": url.database,
    }
    params.update((k, v) for k, v in parts.items() if v is not None)
    params.update(
        # libpq takes whole seconds and treats 1 as 2; 0 would mean "wait forever".
        connect_timeout=max(2, round(connect_timeout)),
        application_name="driftd",
        autocommit=True,  # the transaction is explicit: BEGIN ... COMMIT below
        prepare_threshold=None,  # nothing repeats; also safe behind pgbouncer
    )
    return params
