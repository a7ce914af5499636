"""The state store's errors (apart, so migrate and the store package share them)."""

from __future__ import annotations

from driftd.errors import DriftdError


class StoreError(DriftdError):
    """The state store cannot be opened, migrated or written."""


class StoreMissing(StoreError):
    """A read-only command found no state store (nothing was recorded yet)."""


class DriftNotFound(StoreError):
    """No recorded drift item has this id."""


class StoreUnavailable(StoreError):
    """The state store's server cannot be reached now (it may come back: the daemon
    waits for it at start instead of exiting)."""
