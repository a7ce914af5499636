"""Database URLs parsed and written as SQLAlchemy does, without importing SQLAlchemy.

``import sqlalchemy.engine`` costs ~0.14 s, as much as a no-change ``driftd
check`` spends on its whole catalog fingerprint; the PostgreSQL collector and
the fast path only need the parts of a URL. :func:`parse` follows
``sqlalchemy.engine.url._parse_url`` and :meth:`URL.render` its
``render_as_string`` (``tests/test_cli_fastpath.py`` compares them on awkward
URLs); anything it does not parse is left to SQLAlchemy (``None``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, quote, quote_plus, unquote

# sqlalchemy.engine.url._parse_url's pattern, as it is.
_PATTERN = re.compile(
    r"""
        (?P<name>[\w\+]+)://
        (?:
            (?P<username>[^:/]*)
            (?::(?P<password>[^@]*))?
        @)?
        (?:
            (?:
                \[(?P<ipv6host>[^/\?]+)\] |
                (?P<ipv4host>[^/:\?]+)
            )?
            (?::(?P<port>[^/\?]*))?
        )?
        (?:/(?P<database>[^\?]*))?
        (?:\?(?P<query>.*))?
    """,
    re.X,
)


@dataclass(frozen=True)
class URL:
    """The parts of a database URL, unquoted (the fields of SQLAlchemy's ``URL``)."""

    drivername: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: dict[str, str | tuple[str, ...]] = field(default_factory=dict)

    def set(self, password: str | None) -> URL:
        return replace(self, password=password)

    def render(self, hide_password: bool = True) -> str:
        """The URL as ``render_as_string`` writes it (keys sorted, parts quoted)."""
        s = self.drivername + "://"
        if self.username is not None:
            s += quote(self.username, safe=" +")
            if self.password is not None:
                s += ":" + ("***" if hide_password else quote(self.password, safe=" +"))
            s += "@"
        if self.host is not None:
            s += f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            s += ":" + str(self.port)
        if self.database is not None:
            s += "/" + quote(self.database, safe=" +/")
        if self.query:
            s += "?" + "&".join(
                f"{quote_plus(k)}={quote_plus(v)}"
                for k in sorted(self.query)
                for v in _values(self.query[k])
            )
        return s

    def render_as_string(self, hide_password: bool = True) -> str:
        """SQLAlchemy's name for :meth:`render` (callers written for its URL)."""
        return self.render(hide_password)


def _values(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else value


def parse(text: str) -> URL | None:
    """``text`` as SQLAlchemy's ``make_url`` reads it; None when that would fail
    (or when the port is not a number): the caller asks SQLAlchemy for its error."""
    m = _PATTERN.match(text)
    if m is None:
        return None
    parts = m.groupdict()
    query: dict[str, str | tuple[str, ...]] = {}
    if parts["query"] is not None:
        for key, value in parse_qsl(parts["query"]):
            old = query.get(key)
            query[key] = value if old is None else (*_values(old), value)
    port = parts["port"] or None
    if port is not None and not port.isdigit():
        return None
    return URL(
        drivername=parts["name"],
        username=_unquoted(parts["username"]),
        password=_unquoted(parts["password"]),
        host=parts["ipv4host"] or parts["ipv6host"],
        port=int(port) if port else None,
        database=_unquoted(parts["database"]),
        query=query,
    )


def _unquoted(value: str | None) -> str | None:
    return unquote(value) if value is not None else None
