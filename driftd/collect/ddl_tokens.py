"""A small SQL tokenizer: enough to read names, clauses and parentheses from DDL text.

Used to read what SQLite keeps only in its stored ``CREATE TABLE`` text, and
to normalise definitions (whitespace and comments outside literals do not
count). ``_Tok``, ``_tokens`` and ``normalize_sql`` are its API.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

_SQL_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|--[^\n]*(?:\n|\Z)|/\*.*?(?:\*/|\Z))
  | (?P<str>'(?:[^']|'')*(?:'|\Z))
  | (?P<qid>"(?:[^"]|"")*(?:"|\Z)|`(?:[^`]|``)*(?:`|\Z)|\[[^\]]*(?:\]|\Z))
  | (?P<word>[\w$]+)
  | (?P<op>.)
    """,
    re.VERBOSE | re.DOTALL,
)


class _Tok(NamedTuple):
    kind: str  # str | qid | word | op
    value: str  # identifiers and strings unquoted
    start: int
    end: int


def _tokens(sql: str) -> list[_Tok]:
    out: list[_Tok] = []
    for m in _SQL_TOKEN.finditer(sql):
        kind = m.lastgroup or "op"
        raw = m.group()
        if kind == "ws":
            continue
        value = raw
        if kind == "str":
            value = raw[1:-1].replace("''", "'")
        elif kind == "qid":
            close = "]" if raw[0] == "[" else raw[0]
            value = raw[1:-1].replace(close * 2, close) if close != "]" else raw[1:-1]
        out.append(_Tok(kind, value, m.start(), m.end()))
    return out


def normalize_sql(sql: str) -> str:
    """Collapse whitespace and comments outside literals, drop a trailing ``;``.

    Re-indenting a view or trigger is not drift; a change inside a string
    literal or a quoted identifier is.
    """
    parts: list[str] = []
    pos = 0
    for m in _SQL_TOKEN.finditer(sql):
        if m.lastgroup == "ws":
            if m.start() > pos or not parts:  # one space for a run of blanks and comments
                parts.append(sql[pos : m.start()])
                parts.append(" ")
            pos = m.end()
    parts.append(sql[pos:])
    return "".join(parts).strip().rstrip(";").strip()


def _kw(tok: _Tok) -> str:
    """The upper-cased keyword a bare word can be; quoted tokens are never keywords."""
    return tok.value.upper() if tok.kind == "word" else ""


def _closing(toks: Sequence[_Tok], open_at: int) -> int:
    """Index of the ``)`` matching the ``(`` at ``open_at`` (or the last token)."""
    depth = 0
    for i in range(open_at, len(toks)):
        if toks[i].kind == "op" and toks[i].value == "(":
            depth += 1
        elif toks[i].kind == "op" and toks[i].value == ")":
            depth -= 1
            if depth == 0:
                return i
    return len(toks) - 1


def _split_commas(toks: Sequence[_Tok]) -> list[list[_Tok]]:
    items: list[list[_Tok]] = [[]]
    depth = 0
    for tok in toks:
        if tok.kind == "op" and tok.value == "(":
            depth += 1
        elif tok.kind == "op" and tok.value == ")":
            depth -= 1
        elif tok.kind == "op" and tok.value == "," and depth == 0:
            items.append([])
            continue
        items[-1].append(tok)
    return [item for item in items if item]


def _first_paren(toks: Sequence[_Tok]) -> int | None:
    return next((i for i, t in enumerate(toks) if t.kind == "op" and t.value == "("), None)
