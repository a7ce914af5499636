"""``pgaudit``: PostgreSQL logs with pgaudit session/object audit lines.

``AUDIT: SESSION,<stmt id>,<substmt id>,<class>,<command>,<object type>,
<object name>,<statement>,<parameter>``: CSV in which a field is quoted only
when it holds a comma, quote or newline. The statement is analysed with the
SQL parser (pgaudit's own object fields are empty for GRANT and role
commands); the parameter field is never kept. Files are read with the shared
reader in :mod:`driftd.audit.pglog` (stderr, csvlog, jsonlog; incremental).
"""

from __future__ import annotations

import csv
import io
from typing import Literal

from driftd.audit.pglog import BadRecord, LogFileConfig, LogFileSource

PREFIX = "AUDIT: "


class PgauditConfig(LogFileConfig):
    type: Literal["pgaudit"]


def audit_statement(message: str) -> str | None:
    """The statement of a pgaudit message, or None when the message is not one."""
    if not message.startswith(PREFIX):
        return None
    try:
        row = next(csv.reader(io.StringIO(message[len(PREFIX) :], newline=""), strict=True))
    except (csv.Error, StopIteration):
        raise BadRecord("malformed AUDIT line") from None
    if len(row) < 8 or row[0] not in ("SESSION", "OBJECT"):
        raise BadRecord("malformed AUDIT line")
    # Passwords arrive as <REDACTED>: make that a literal so the statement parses.
    return row[7].replace("<REDACTED>", "'<REDACTED>'") or None


class PgauditSource(LogFileSource):
    config_model = PgauditConfig

    def extract(self, message: str) -> str | None:
        return audit_statement(message)
