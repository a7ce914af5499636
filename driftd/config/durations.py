"""Human durations (``500ms``, ``30s``, ``5m``, ``1h``, ``1d``) and schedules."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z?LW#]+$")


def parse_duration(value: str | int | float) -> float:
    """Seconds in ``value``; a bare number is seconds. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like '30s', '5m' or '1h'")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    m = _DURATION.match(value)
    if not m:
        raise ValueError(f"{value!r} is not a duration; use e.g. '500ms', '30s', '5m', '1h'")
    return float(m.group(1)) * _UNITS[m.group(2)]


# A duration setting: written '500ms', '30s', '5m', '1h' or a number of seconds,
# parsed once at the config boundary into a float of seconds.
Seconds = Annotated[float, BeforeValidator(lambda v: parse_duration(v))]


def is_cron(value: str) -> bool:
    """True for a five-field cron expression (``*/5 * * * *``)."""
    fields = value.split()
    return len(fields) == 5 and all(_CRON_FIELD.match(f) for f in fields)


def validate_schedule(value: str) -> str:
    """Accept an interval (``5m``) or a five-field cron expression."""
    if is_cron(value):
        return value
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is neither an interval ('30s', '5m', '1h') "
            "nor a five-field cron expression ('*/5 * * * *')"
        ) from None
    if seconds < 1:
        raise ValueError("a schedule interval must be at least 1s")
    return value
