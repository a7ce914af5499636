"""Daemon logging: one line per event on stderr, for journald (which adds the time).

``text``: ``INFO driftd.daemon: checked prod environment=prod status=drift``.
``json``: ``{"level": "info", "logger": "driftd.daemon", "msg": "...", ...fields}``.
Fields come from ``extra={...}``; nothing here ever formats a secret.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

# Attributes every LogRecord has; anything else came in through ``extra``.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = f"{record.levelname} {record.name}: {record.getMessage()}"
        extra = " ".join(f"{k}={_text(v)}" for k, v in _fields(record).items())
        if extra:
            line += " " + extra
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _text(value: Any) -> str:
    if isinstance(value, list | tuple | set):
        text = ",".join(str(v) for v in value)
    else:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
    return json.dumps(text) if (not text or any(c in text for c in ' "=\n')) else text


def setup(fmt: str, level: str, debug: bool = False) -> None:
    """Replace whatever handlers the CLI set up with one structured stderr handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else getattr(logging, level.upper(), logging.INFO))
    # APScheduler logs each run at INFO and its warnings twice over ours: the
    # daemon reports those itself, through the scheduler's event listeners.
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if debug else logging.CRITICAL)
    logging.getLogger("alembic").setLevel(logging.INFO if debug else logging.WARNING)
