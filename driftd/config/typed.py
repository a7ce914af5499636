"""Typed tables: ``[audit.NAME]`` and ``[alerts.NAME]`` are validated against the model
their ``type`` registers (each source and sink type owns its keys).

Kept apart from driftd.config so the plugin packages import this, not the
loader: the loader calls them, never the other way round.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ValidationError

_M = TypeVar("_M", bound=BaseModel)


def validate_typed(section: str, name: str, table: BaseModel, models: Mapping[str, type[_M]]) -> _M:
    """Validate ``[section.NAME]`` against the model of its ``type``.

    Raises pydantic's ValidationError with locations under ``section.NAME``,
    so the loader can name the key and line like any other config error.
    """
    from pydantic_core import InitErrorDetails

    kind = models.get(str(getattr(table, "type", "")))
    if kind is None:
        raise ValidationError.from_exception_data(
            "Config",
            [
                InitErrorDetails(
                    type="literal_error",
                    loc=(section, name, "type"),
                    input=getattr(table, "type", None),
                    ctx={"expected": ", ".join(repr(k) for k in models)},
                )
            ],
        )
    try:
        return kind.model_validate(table.model_dump())
    except ValidationError as exc:
        details = [
            InitErrorDetails(
                type=err["type"],
                loc=(section, name, *err["loc"]),
                input=err.get("input"),
                ctx=err.get("ctx", {}),
            )
            for err in exc.errors()
        ]
        raise ValidationError.from_exception_data("Config", details) from None
