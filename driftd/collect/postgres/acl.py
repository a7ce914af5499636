"""ACL text and ``name=value`` option lists as snapshot values; secret options masked."""

from __future__ import annotations

import re
from collections.abc import Sequence

from driftd.errors import CollectError

Grants = dict[str, list[str]]


class Acl:
    """ACLs as aclitem text (``grantee=arw*/grantor``) into ``{grantee: [privilege, ...]}``.

    ``letters`` maps each privilege letter to its name (``r`` → ``SELECT``); a
    ``*`` after a letter is the grant option (``SELECT WITH GRANT OPTION``). An
    empty grantee is ``PUBLIC``; a name that is not plain letters, digits and
    ``_`` comes in double quotes, with ``""`` for a quote. Two grantors can give
    the same privilege: the privileges of a grantee are a sorted set.
    """

    def __init__(self, letters: dict[str, str]) -> None:
        self.letters = letters
        self._items: dict[str, tuple[str, list[str]]] = {}  # most aclitems repeat

    def grants(self, acl: Sequence[str] | None) -> Grants:
        if not acl:
            return {}
        items = self._items
        out: Grants = {}
        for text in acl:
            item = items.get(text)
            if item is None:
                item = items[text] = self._parse(text)
            grantee, privileges = item
            have = out.get(grantee)
            out[grantee] = privileges[:] if have is None else sorted({*have, *privileges})
        return out

    def _parse(self, text: str) -> tuple[str, list[str]]:
        if text.startswith('"'):
            parts, pos = [], 1
            while True:
                close = text.index('"', pos)
                parts.append(text[pos:close])
                if text.startswith('""', close):
                    parts.append('"')
                    pos = close + 2
                else:
                    break
            grantee, rest = "".join(parts), text[close + 2 :]  # past the quote and "="
        else:
            grantee, _, rest = text.partition("=")
            grantee = grantee or "PUBLIC"
        letters = rest[: rest.index("/")]
        privileges = set()
        for i, letter in enumerate(letters):
            if letter == "*":
                continue
            try:
                name = self.letters[letter]
            except KeyError:
                raise CollectError(
                    f"unknown privilege letter {letter!r} in the ACL item {text!r}",
                    "this looks like a bug in driftd's PostgreSQL collector: report it",
                ) from None
            privileges.add(f"{name} WITH GRANT OPTION" if letters[i + 1 : i + 2] == "*" else name)
        return grantee, sorted(privileges)


def config(items: Sequence[str] | None) -> dict[str, str]:
    """``["name=value", ...]`` (proconfig, rolconfig, reloptions, ...) as a dict."""
    out: dict[str, str] = {}
    for item in items or ():
        name, _, value = item.partition("=")
        out[name] = value
    return out


# -- secrets --------------------------------------------------------------------------------------

# An option whose name holds one of these words holds a secret (issue 18).
SECRET_WORDS = ("password", "passfile", "secret", "token", "key")
MASKED = "********"


def is_secret(name: str) -> bool:
    low = name.lower()
    return any(word in low for word in SECRET_WORDS)


def secret_options(items: Sequence[str] | None) -> dict[str, str]:
    """Options as :func:`config`, every secret-looking value replaced by :data:`MASKED`.

    Nothing of the value is kept, not even a hash: the snapshot shows that a
    secret is set, never what it is.
    """
    out = config(items)
    for name in out:
        if is_secret(name):
            out[name] = MASKED
    return out


_CONNINFO_PAIR = re.compile(r"\s*([A-Za-z_]+)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)")
_URI = re.compile(r"^(?P<scheme>postgres(?:ql)?://)(?P<rest>.*)$", re.DOTALL)


_HOLDS_CONNINFO_SECRET = re.compile(
    r"(?i)\b(password|passfile|sslpassword)\s*=|://[^/@\s]*:[^/@\s]*@"
)


def setting_value(text: str | None) -> str | None:
    """A server parameter's value, with a password in a connection string masked
    (``primary_conninfo = 'host=… password=…'``); other values as they are."""
    if text is None or _HOLDS_CONNINFO_SECRET.search(text) is None:
        return text
    return conninfo(text)


def conninfo(text: str | None) -> str | None:
    """A libpq connection string (``key=value ...`` or a URI) with its secrets masked."""
    if text is None:
        return None
    uri = _URI.match(text.strip())
    if uri is not None:
        return uri["scheme"] + _mask_uri(uri["rest"])
    parts: list[str] = []
    pos = 0
    while pos < len(text):
        m = _CONNINFO_PAIR.match(text, pos)
        if m is None or m.end() == pos:
            rest = text[pos:].strip()
            if rest:  # not a connection string driftd can read: show nothing of it
                return MASKED
            break
        key, value = m.group(1), m.group(2)
        parts.append(f"{key}={MASKED if is_secret(key) else value}")
        pos = m.end()
    return " ".join(parts)


def _mask_uri(rest: str) -> str:
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        userinfo, _, hosts = authority.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        authority = f"{user}:{MASKED}@{hosts}" if colon else f"{user}@{hosts}"
    path, question, query = tail.partition("?")
    if question:
        pairs = []
        for pair in query.split("&"):
            key, eq, _ = pair.partition("=")
            pairs.append(f"{key}={MASKED}" if eq and is_secret(key) else pair)
        query = "&".join(pairs)
    return authority + slash + path + question + query
