"""Errors a person can act on: each carries what went wrong and what to do."""

from __future__ import annotations


class DriftdError(Exception):
    """An expected failure: bad config, unreachable database, bad input.

    The CLI prints ``message`` (and ``hint`` on a second line) and exits 2,
    with no traceback unless ``--debug``.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class ConfigError(DriftdError):
    """The configuration file is missing, malformed or inconsistent."""


class CollectError(DriftdError):
    """A target database could not be read."""


class BaselineError(DriftdError):
    """A baseline file is missing or unreadable."""


def first_line(exc: BaseException) -> str:
    """The useful first line of a driver error (SQLAlchemy appends SQL and links)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0] if text else type(exc).__name__
