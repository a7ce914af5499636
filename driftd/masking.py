"""Mask literals in SQL so audit evidence carries no personal data.

Every statement driftd shows or stores goes through :func:`mask`: string and
number literals become ``?`` and comments are dropped (a comment can hold
anything). Identifiers, keywords and ``$1`` parameters stay, so the statement
still says what was changed. The scanner is a single linear pass that never
raises: unterminated strings mask to the end, so a truncated log line can
not leak its tail.

A dollar-quoted body after ``AS`` or ``DO`` is code (a function or ``DO``
block), so its own literals are masked and its text kept; any other
dollar-quoted string is data and becomes ``?``.
"""

from __future__ import annotations

import re

MASK = "?"
MAX_DEPTH = 3

# Identifier characters: ASCII letters and ``_`` (digits and ``$`` after the first), and
# every non-ASCII character. Written as the ASCII they leave out: a class that runs to
# U+10FFFF takes ~5 ms to compile, at every start of driftd (this is imported early).
_LETTER = r"[^\x00-\x40\x5b-\x5e\x60\x7b-\x7f]"  # [A-Za-z_\u0080-\U0010ffff]
_TAG_CHAR = r"[^\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]"  # [A-Za-z0-9_\u0080-\U0010ffff]
_IDENT_CHAR = r"[^\x00-\x23\x25-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]"  # and $
_IDENT_START = re.compile(_LETTER)
_IDENT = re.compile(_IDENT_CHAR + "*")
_NUMBER = re.compile(
    r"0[xX][0-9A-Fa-f_]+|0[oO][0-7_]+|0[bB][01_]+"
    r"|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?"
)
_DOLLAR_TAG = re.compile(rf"\$({_LETTER}{_TAG_CHAR}*)?\$")
_CODE_BEFORE = frozenset({"as", "do"})
# String-literal prefixes: E'..' (escapes), B'..', X'..', N'..', U&'..'.
_PREFIXES = ("e", "b", "x", "n")
# Last line of defence for odd syntax (``PASSWORD "x"``, MySQL ``IDENTIFIED BY``).
_SECRET_AFTER = re.compile(
    r"(?i)\b(PASSWORD|IDENTIFIED\s+BY)(\s+)(?!\?|NULL\b|<REDACTED>)([^\s;,)]+)"
)


def mask(sql: str, dialect: str = "postgres") -> str:
    """``sql`` with every string and number literal replaced by ``?``."""
    return _SECRET_AFTER.sub(r"\1\2?", _mask(sql, dialect, 0)).strip(" \t\r\n\f\v")


def _mask(sql: str, dialect: str, depth: int) -> str:
    mysql = dialect in ("mysql", "mariadb")
    out: list[str] = []
    last_word = ""  # the previous keyword/identifier, lower-cased
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if (c == "-" and sql.startswith("--", i)) or (mysql and c == "#"):
            end = sql.find("\n", i)
            i = n if end < 0 else end
            out.append(" ")
        elif c == "/" and sql.startswith("/*", i):
            i = _skip_block_comment(sql, i)
            out.append(" ")
        elif c == "'" or (c == '"' and mysql):
            i = _skip_quoted(sql, i, c, backslash=mysql)
            out.append(MASK)
            last_word = ""
        elif c == '"' or (c == "`" and mysql):
            end = _skip_quoted(sql, i, c, backslash=False)
            out.append(sql[i:end])
            last_word = sql[i + 1 : end - 1].lower()
            i = end
        elif c == "$" and not mysql and (m := _DOLLAR_TAG.match(sql, i)):
            tag = m.group(0)
            body_start = m.end()
            end = sql.find(tag, body_start)
            body = sql[body_start:] if end < 0 else sql[body_start:end]
            i = n if end < 0 else end + len(tag)
            if end >= 0 and last_word in _CODE_BEFORE and depth < MAX_DEPTH:
                out.append(tag + _mask(body, dialect, depth + 1) + tag)
            else:
                out.append(MASK)
            last_word = ""
        elif c.isdigit() or (c == "." and i + 1 < n and sql[i + 1].isdigit()):
            m = _NUMBER.match(sql, i)
            i = m.end() if m else i + 1
            out.append(MASK)
        elif _IDENT_START.match(c):
            m = _IDENT.match(sql, i + 1)
            end = m.end() if m else i + 1
            word = sql[i:end]
            lower = word.lower()
            if lower in _PREFIXES and end < n and sql[end] == "'":
                i = _skip_quoted(sql, end, "'", backslash=lower == "e" or mysql)
                out.append(MASK)
                last_word = ""
                continue
            if lower == "u" and sql.startswith("&'", end):
                i = _skip_quoted(sql, end + 1, "'", backslash=False)
                out.append(MASK)
                continue
            out.append(word)
            last_word = lower
            i = end
        else:
            if c == "$" and i + 1 < n and sql[i + 1].isdigit():
                j = i + 1
                while j < n and sql[j].isdigit():
                    j += 1
                out.append(sql[i:j])  # a bind parameter, not a literal
                i = j
                continue
            out.append(c)
            if not c.isspace():
                last_word = ""
            i += 1
    return "".join(out)


def _skip_quoted(sql: str, start: int, quote: str, *, backslash: bool) -> int:
    """Index just past the literal opening at ``start``; the end when unterminated."""
    i, n = start + 1, len(sql)
    while i < n:
        c = sql[i]
        if backslash and c == "\\":
            i += 2
            continue
        if c == quote:
            if i + 1 < n and sql[i + 1] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return n


def _skip_block_comment(sql: str, start: int) -> int:
    """Index past a (possibly nested, as in PostgreSQL) ``/* */`` comment."""
    depth, i, n = 0, start, len(sql)
    while i < n:
        if sql.startswith("/*", i):
            depth += 1
            i += 2
        elif sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    return n


def normalize(statement: str) -> str:
    """Masked statement text for comparisons: one-spaced, no trailing ``;``, lower case."""
    return " ".join(statement.split()).rstrip("; ").lower()
