"""Daemon logging: one record, one line, on stderr.

``text``: ``INFO driftd.daemon.service: checked prod environment=prod status=drift``
(journald adds the time).
``json``: ``{"time": "2026-11-22T10:00:03.120Z", "level": "info", "logger":
"driftd.daemon.service", "msg": "...", "environment": "prod", "run_id": 7, ...fields}``.

- Fields come from ``extra={...}`` and from :func:`context` / :func:`bind`
  (e.g. the environment a check thread works on), so every line of a check
  names its environment, and the run's lines its ``run_id``, without each call
  repeating them. Nothing here ever formats a secret.
- One record is one line: a ``hint:`` line in a message becomes the ``hint``
  field, other line breaks and control characters are escaped (``\\n``,
  ``\\x1b``), and a traceback is the ``exc`` field, quoted. Under journald a
  second line would be a separate entry with no priority.
- Under systemd (stderr is the journal: ``$JOURNAL_STREAM`` names it) every line
  starts with its sd-daemon(3) priority, ``<3>`` for errors, ``<4>`` warnings,
  ``<6>`` info, ``<7>`` debug: journald strips it and files the entry under that
  priority, so ``journalctl -u driftd -p warning`` shows warnings and worse.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

# Attributes every LogRecord has; anything else came in through ``extra``.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
# Keys a formatter writes itself: a field of the same name never overrides them.
_RESERVED = {"time", "level", "logger", "msg"}

_context: ContextVar[dict[str, Any]] = ContextVar("driftd_log_context", default={})  # noqa: B039


@contextmanager
def context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every line logged in this block (this thread / task)."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Add ``fields`` to every later line of the current thread (a thread of its own)."""
    _context.set({**_context.get(), **fields})


# -- sd-daemon priorities -------------------------------------------------------------


def priority(levelno: int) -> int:
    """The syslog priority of a logging level (sd-daemon(3): ``<3>`` error ... ``<7>`` debug)."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


def under_journald(stream: TextIO) -> bool:
    """True when ``stream`` is the journal stream systemd gave this service.

    systemd.exec(5): ``$JOURNAL_STREAM`` is ``DEVICE:INODE`` of that stream; a
    process whose stderr was redirected elsewhere must not write prefixes there.
    """
    value = os.environ.get("JOURNAL_STREAM", "")
    dev, sep, ino = value.partition(":")
    if not sep:
        return False
    try:
        st = os.fstat(stream.fileno())
        return st.st_dev == int(dev) and st.st_ino == int(ino)
    except (OSError, ValueError, AttributeError):
        return False


# -- one line per record ----------------------------------------------------------------

# C0 and C1 controls, DEL, and the bidi controls that reorder what a terminal shows.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_HINT = re.compile(r"^\s*hint:\s?(.*)$")


def escape(text: str) -> str:
    """``text`` on one line: line breaks and control characters as visible escapes."""
    return _UNSAFE.sub(lambda m: _NAMED.get(m[0]) or _code(m[0]), text)


def _code(char: str) -> str:
    n = ord(char)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"


def _split(record: logging.LogRecord) -> tuple[str, dict[str, Any]]:
    """The message and its fields: context, then ``extra``, then hint / exception."""
    fields: dict[str, Any] = dict(_context.get())
    fields.update((k, v) for k, v in record.__dict__.items() if k not in _STANDARD)
    for key in _RESERVED & fields.keys():
        fields[f"field_{key}"] = fields.pop(key)
    message = record.getMessage()
    if "\n" in message:
        kept = []
        for line in message.splitlines():
            hint = _HINT.match(line)
            if hint and "hint" not in fields:
                fields["hint"] = hint[1]
            else:
                kept.append(line)
        message = "\n".join(kept).strip("\n")
    if record.exc_info:
        fields["exc"] = logging.Formatter().formatException(record.exc_info)
    elif record.exc_text:
        fields["exc"] = record.exc_text
    if record.stack_info:
        fields["stack"] = record.stack_info
    return message, fields


class _Formatter(logging.Formatter):
    def __init__(self, journald: bool = False) -> None:
        super().__init__()
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        line = self.line(record)
        return f"<{priority(record.levelno)}>{line}" if self.journald else line

    def line(self, record: logging.LogRecord) -> str:
        raise NotImplementedError


class JsonFormatter(_Formatter):
    def line(self, record: logging.LogRecord) -> str:
        message, fields = _split(record)
        out: dict[str, Any] = {
            "time": rfc3339(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": message,
            **fields,
        }
        # json.dumps escapes every C0 control; DEL, C1, bidi and line separators
        # are escaped here (\\uXXXX, inside strings only) so nothing can end a line
        # or reorder it on a terminal.
        text = json.dumps(out, default=str, ensure_ascii=False)
        return _UNSAFE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


class TextFormatter(_Formatter):
    def line(self, record: logging.LogRecord) -> str:
        message, fields = _split(record)
        line = f"{record.levelname} {record.name}: {escape(message)}"
        extra = " ".join(f"{k}={_text(v)}" for k, v in fields.items())
        return f"{line} {extra}" if extra else line


def rfc3339(created: float) -> str:
    """``2026-11-22T10:00:03.120Z``: RFC 3339, UTC, milliseconds."""
    stamp = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def _text(value: Any) -> str:
    if isinstance(value, list | tuple | set):
        text = ",".join(str(v) for v in value)
    else:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
    if not text or any(c in text for c in ' "=') or _UNSAFE.search(text):
        return escape(json.dumps(text, ensure_ascii=False))
    return text


def setup(fmt: str, level: str, debug: bool = False, stream: TextIO | None = None) -> None:
    """Replace whatever handlers the CLI set up with one structured stderr handler."""
    out = stream or sys.stderr
    handler = logging.StreamHandler(out)
    journald = under_journald(out)
    handler.setFormatter(JsonFormatter(journald) if fmt == "json" else TextFormatter(journald))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else getattr(logging, level.upper(), logging.INFO))
    # APScheduler logs each run at INFO and its warnings twice over ours: the
    # daemon reports those itself, through the scheduler's event listeners.
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if debug else logging.CRITICAL)
    logging.getLogger("alembic").setLevel(logging.INFO if debug else logging.WARNING)
