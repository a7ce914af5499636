"""MySQL / MariaDB statements sqlglot leaves unparsed: accounts, grants, RENAME."""

from __future__ import annotations

import re
from dataclasses import dataclass

from driftd.attribute.sqlrefs.model import (
    MAX_STATEMENT_CHARS,
    Ref,
    Statement,
    command_of,
    looks_like_ddl,
    unparsed,
)
from driftd.masking import mask

# -- MySQL / MariaDB statements sqlglot leaves as a Command ---------------------------
#
# Accounts, roles and privileges (CREATE/ALTER/DROP/RENAME USER, CREATE/DROP ROLE,
# GRANT, REVOKE, SET DEFAULT ROLE), RENAME TABLE, ALTER DATABASE and CREATE TRIGGER
# are read from their tokens, named the way driftd.collect.generic keys them:
# accounts ``role:user@host`` (a MariaDB role: ``role:name``), global and database
# privileges on the grantee (``("grants", "*.*")``, ``("grants", "db.*")``), table
# privileges on the table (``("grants", grantee)``), column privileges under
# ``("column_grants", column, grantee)``, role membership under ``("member_of", role)``.

_MYSQL_TOKEN = re.compile(
    r"""\s+|--[^\n]*|\#[^\n]*|/\*.*?(?:\*/|$)"""  # space and comments (skipped)
    r"""|(?P<s>'(?:[^'\\]|\\.|'')*(?:'|$)|"(?:[^"\\]|\\.|"")*(?:"|$))"""
    r"""|(?P<b>`(?:[^`]|``)*(?:`|$))"""
    r"""|(?P<w>[A-Za-z0-9_$\u0080-\U0010ffff]+)"""
    r"""|(?P<p>.)""",
    re.S,
)
MYSQL_SET_ROLE = re.compile(r"(?i)\s*SET\s+DEFAULT\s+ROLE\b")
_UNQUOTE = {"'": "'", '"': '"', "`": "`"}


@dataclass
class _Tok:
    kind: str  # "s" string, "b" backtick identifier, "w" word, "p" punctuation
    text: str  # the value (unquoted)

    @property
    def up(self) -> str:
        return self.text.upper() if self.kind == "w" else ""


def _mysql_tokens(sql: str) -> list[_Tok]:
    out: list[_Tok] = []
    for m in _MYSQL_TOKEN.finditer(sql):
        kind = m.lastgroup
        if kind is None:
            continue
        value = m.group(kind)
        if kind in ("s", "b"):
            quote = value[0]
            body = value[1:-1] if len(value) > 1 and value.endswith(quote) else value[1:]
            body = body.replace(quote * 2, quote)
            if kind == "s":
                body = re.sub(r"\\(.)", r"\1", body, flags=re.S)
            value = body
        out.append(_Tok(kind, value))
    return out


class _Cursor:
    def __init__(self, toks: list[_Tok]) -> None:
        self.toks = toks
        self.i = 0

    def peek(self, ahead: int = 0) -> _Tok | None:
        j = self.i + ahead
        return self.toks[j] if j < len(self.toks) else None

    def word(self, *words: str) -> bool:
        """Consume the keywords ``words`` when they come next."""
        for n, w in enumerate(words):
            tok = self.peek(n)
            if tok is None or tok.up != w:
                return False
        self.i += len(words)
        return True

    def punct(self, char: str) -> bool:
        tok = self.peek()
        if tok is not None and tok.kind == "p" and tok.text == char:
            self.i += 1
            return True
        return False

    def name(self) -> str | None:
        tok = self.peek()
        if tok is None or tok.kind == "p":
            return None
        self.i += 1
        return tok.text

    def skip_to(self, *stops: str) -> None:
        """Skip up to the next top-level ``,`` or one of the ``stops`` keywords."""
        depth = 0
        while (tok := self.peek()) is not None:
            if tok.kind == "p" and tok.text == "(":
                depth += 1
            elif tok.kind == "p" and tok.text == ")":
                depth -= 1
            elif depth <= 0 and ((tok.kind == "p" and tok.text in (",", ";")) or tok.up in stops):
                return
            self.i += 1


def _account(cur: _Cursor, default_host: str | None) -> list[str]:
    """Snapshot names for one account: ``user@host``; a name without a host is a
    MariaDB role (``name``) or a user at ``%``: ``default_host`` None means either."""
    if cur.word("CURRENT_USER") or cur.word("CURRENT_ROLE"):
        if cur.punct("("):
            cur.punct(")")
        return ["*"]
    if cur.word("PUBLIC"):
        return ["PUBLIC"]
    user = cur.name()
    if user is None:
        return []
    host: str | None = None
    tok = cur.peek()
    if tok is not None and tok.kind == "p" and tok.text == "@":
        cur.i += 1
        host = cur.name() or ""
    elif tok is not None and tok.kind == "w" and tok.text.startswith("@"):
        cur.i += 1
        host = tok.text[1:]
    if host is not None:
        return [f"{user}@{host}" if host else user]
    if default_host is None:
        return [user, f"{user}@%"]
    return [f"{user}@{default_host}" if default_host else user]


def _accounts(cur: _Cursor, default_host: str | None, *stops: str) -> list[list[str]]:
    out = []
    while cur.peek() is not None:
        names = _account(cur, default_host)
        if names:
            out.append(names)
        cur.skip_to(*stops)
        if not cur.punct(","):
            break
    return out


_QUOTED_ACCOUNT = re.compile(
    r"""(?:'((?:[^'\\]|\\.|'')*)'|([A-Za-z0-9_$]+))\s*@\s*'((?:[^'\\]|\\.|'')*)'"""
    r"""|'((?:[^'\\]|\\.|'')*)'\s*@\s*([A-Za-z0-9_$.%-]+)"""
)


def account_names(sql: str) -> str:
    """Account names quoted as strings (``'app'@'%'``) written with backticks instead.

    An account name is an identifier, not data: masking must not turn it into
    ``?@?``. Clients (and the server_audit log) usually quote it as a string.
    """

    def tick(text: str) -> str:
        return "`" + text.replace("''", "'").replace("`", "``") + "`"

    def repl(m: re.Match[str]) -> str:
        if m.group(3) is not None:
            user = tick(m.group(1)) if m.group(1) is not None else m.group(2)
            return f"{user}@{tick(m.group(3))}"
        return f"{tick(m.group(4))}@{m.group(5)}"

    if "@" not in sql or "\\" in sql:
        return sql  # backslash escapes: leave the text as it is, masking handles it
    return _QUOTED_ACCOUNT.sub(repl, sql)


def mysql_fallback(sql: str, dialect: str) -> tuple[list[Statement], int]:
    """A MySQL statement sqlglot cannot parse: read it from its tokens if we can."""
    text = mask(account_names(sql.strip().rstrip(";")), dialect)
    if not text.strip() or not (looks_like_ddl(text) or MYSQL_SET_ROLE.match(text)):
        return [], 1 if text.strip() else 0
    st = Statement(text=text, command=command_of(text))
    if mysql_command(sql, st):
        st.refs = list(dict.fromkeys(st.refs))
        return [st], 0
    return unparsed(sql, dialect)


def mysql_command(sql: str, st: Statement) -> bool:
    """Fill ``st.refs`` for the statements above; False when this is not one of them."""
    cur = _Cursor(_mysql_tokens(sql[:MAX_STATEMENT_CHARS]))
    if cur.word("CREATE") or cur.word("ALTER") or cur.word("DROP") or cur.word("RENAME"):
        verb = cur.toks[0].up
        cur.word("OR", "REPLACE")
        while cur.word("DEFINER"):  # CREATE DEFINER = user TRIGGER ...
            cur.punct("=")
            _account(cur, "%")
        if cur.word("USER") or cur.word("ROLE"):
            return _mysql_account_ddl(sql, cur, verb, st)
        if verb == "RENAME" and (cur.word("TABLE") or cur.word("TABLES")):
            return _mysql_rename_tables(cur, st)
        if verb == "ALTER" and (cur.word("DATABASE") or cur.word("SCHEMA")):
            return _mysql_alter_database(cur, st)
        if verb == "CREATE" and cur.word("TRIGGER"):
            return _mysql_create_trigger(cur, st)
        return False
    if cur.word("GRANT") or cur.word("REVOKE"):
        _mysql_grant(cur, st)
        return True
    if cur.word("SET", "DEFAULT", "ROLE"):
        cur.skip_to("FOR")
        if cur.word("FOR"):
            for name in _account(cur, None):
                st.refs.append(Ref("role", name, ("default_role",), "alter"))
        else:
            st.refs.append(Ref("role", "*", ("default_role",), "alter"))
        return True
    return False


def _mysql_account_ddl(sql: str, cur: _Cursor, verb: str, st: Statement) -> bool:
    """CREATE / ALTER / DROP / RENAME USER or ROLE (the cursor after USER/ROLE)."""
    role = cur.toks[cur.i - 1].up == "ROLE"
    cur.word("IF", "NOT", "EXISTS") or cur.word("IF", "EXISTS")
    host = "" if role else "%"
    if verb == "RENAME":
        while cur.peek() is not None:
            old = _account(cur, host)
            cur.word("TO")
            new = _account(cur, host)
            st.refs += [Ref("role", name, (), "drop") for name in old]
            st.refs += [Ref("role", name, (), "create") for name in new]
            cur.skip_to()
            if not cur.punct(","):
                break
        return True
    action = {"CREATE": "create", "DROP": "drop"}.get(verb, "alter")
    if action == "alter":
        paths = _mysql_user_paths(sql)
        for names in _accounts(cur, host, "IDENTIFIED", "REQUIRE", "WITH", "ACCOUNT"):
            st.refs += [Ref("role", name, path, "alter") for name in names for path in paths]
        return True
    stops = ("IDENTIFIED", "REQUIRE", "WITH", "ACCOUNT", "PASSWORD")
    for names in _accounts(cur, host, *stops):
        st.refs += [Ref("role", name, (), action) for name in names]
    return True


def _mysql_rename_tables(cur: _Cursor, st: Statement) -> bool:
    while cur.peek() is not None:
        src = _mysql_table(cur)
        cur.word("TO")
        dst = _mysql_table(cur)
        if src:
            st.refs.append(Ref("relation", src[0], (), "drop", src[1]))
        if dst:
            st.refs.append(Ref("relation", dst[0], (), "create", dst[1]))
        cur.skip_to()
        if not cur.punct(","):
            break
    return bool(st.refs)


def _mysql_alter_database(cur: _Cursor, st: Statement) -> bool:
    db: str | None = None
    tok = cur.peek()
    if tok is not None and tok.up not in _DB_OPTIONS and tok.kind != "p":
        db = cur.name()
    for path in _mysql_database_paths(cur) or [()]:
        # No name: the session's current database (qualified=False).
        st.refs.append(Ref("database", db or "*", path, "alter", db is not None))
    return True


def _mysql_create_trigger(cur: _Cursor, st: Statement) -> bool:
    cur.word("IF", "NOT", "EXISTS")
    trigger = _mysql_table(cur)
    while (tok := cur.peek()) is not None and tok.up != "ON":
        cur.i += 1
    if not (trigger and cur.word("ON")):
        return False
    table = _mysql_table(cur)
    if not table:
        return False
    tname = trigger[0].rsplit(".", 1)[-1]
    st.refs.append(Ref("relation", table[0], ("triggers", tname), "create", table[1]))
    return True


_DB_OPTIONS = frozenset(
    {"DEFAULT", "CHARACTER", "CHARSET", "COLLATE", "COMMENT", "UPGRADE", "READ", "ENCRYPTION"}
)


def _mysql_database_paths(cur: _Cursor) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    while (tok := cur.peek()) is not None:
        cur.i += 1
        if tok.up in ("CHARACTER", "CHARSET", "COLLATE"):
            # Either one sets both: a character set brings its default collation.
            paths += [("charset",), ("collation",)]
        elif tok.up == "COMMENT":
            paths.append(("comment",))
    return list(dict.fromkeys(paths))


def _mysql_user_paths(sql: str) -> list[tuple[str, ...]]:
    """What ALTER USER changes, as role paths (empty: something we do not model)."""
    upper = " ".join(re.findall(r"[A-Za-z_]+", sql.upper()))
    paths: list[tuple[str, ...]] = []
    if "ACCOUNT LOCK" in upper or "ACCOUNT UNLOCK" in upper:
        paths += [("account_locked",), ("login",)]
    if "PASSWORD EXPIRE" in upper:
        paths.append(("password_expired",))
    if "MAX_USER_CONNECTIONS" in upper:
        paths.append(("connection_limit",))
    if re.search(r"\bIDENTIFIED (?:VIA|WITH)\b", upper):
        paths.append(("auth_plugin",))
    return paths or [()]


def _mysql_table(cur: _Cursor) -> tuple[str, bool] | None:
    first = cur.name()
    if first is None:
        return None
    if cur.punct("."):
        second = cur.name()
        return (f"{first}.{second}", True) if second else (first, False)
    return first, False


def _mysql_grant(cur: _Cursor, st: Statement) -> None:
    """GRANT/REVOKE: privileges on a level, or roles (MariaDB) to accounts."""
    act = "grant" if cur.toks[0].up == "GRANT" else "revoke"
    privileges_end, columns = _privilege_list(cur.toks)
    if privileges_end is None:  # GRANT role TO acct / REVOKE role FROM acct / REVOKE ALL ...
        _mysql_role_grant(cur, st, act)
        return
    cur.i = privileges_end + 1
    if cur.word("PROXY") or cur.peek() is None:
        st.dynamic = True  # GRANT PROXY: not in the snapshot
        return
    scope, target = _grant_level(cur)
    cur.skip_to("TO", "FROM")
    cur.word("TO") or cur.word("FROM")
    grantees = [n for names in _accounts(cur, None, "WITH", "IDENTIFIED", "REQUIRE") for n in names]
    table_privilege = _has_table_privilege(cur.toks[:privileges_end])
    for grantee in grantees:
        if scope in ("global", "database"):
            st.refs.append(Ref("role", grantee, ("grants", target or "*.*"), act))
        elif scope == "current":
            st.refs.append(Ref("role", grantee, ("grants",), act))
        else:
            st.refs += _table_grant_refs(target or "*", grantee, act, columns, table_privilege)


def _privilege_list(toks: list[_Tok]) -> tuple[int | None, list[str]]:
    """Where the privilege list ends (the ``ON``), and the columns named in it;
    None when there is no ``ON``: a role grant."""
    depth = 0
    columns: list[str] = []
    for j, tok in enumerate(toks):
        if tok.kind == "p" and tok.text == "(":
            depth += 1
        elif tok.kind == "p" and tok.text == ")":
            depth -= 1
        elif depth > 0 and tok.kind in ("w", "b") and j > 0:
            columns.append(tok.text)
        elif depth == 0 and tok.up == "ON":
            return j, columns
        elif depth == 0 and tok.up in ("TO", "FROM"):
            break
    return None, columns


def _mysql_role_grant(cur: _Cursor, st: Statement, act: str) -> None:
    if [t.up for t in cur.toks[1:2]] == ["ALL"]:  # REVOKE ALL PRIVILEGES, GRANT OPTION FROM u
        while (nxt := cur.peek()) is not None and nxt.up != "FROM":
            cur.i += 1
        cur.word("FROM")
        for names in _accounts(cur, None):
            for account in names:
                st.refs.append(Ref("role", account, ("grants",), act))
                st.refs.append(Ref("relation", "*", ("grants", account), act))
                st.refs.append(Ref("relation", "*", ("column_grants",), act))
        return
    roles: list[str] = []
    cur.word("ADMIN", "OPTION", "FOR")
    while (nxt := cur.peek()) is not None and nxt.up not in ("TO", "FROM"):
        if nxt.kind != "p":
            roles.append(nxt.text)
        cur.i += 1
    cur.word("TO") or cur.word("FROM")
    for names in _accounts(cur, None, "WITH"):
        for account in names:
            st.refs += [Ref("role", account, ("member_of", role), act) for role in roles]
    if not roles:
        st.dynamic = True


def _grant_level(cur: _Cursor) -> tuple[str, str | None]:
    """``("global"|"database"|"table"|"current", name)`` of ``ON <level>``."""
    cur.word("TABLE") or cur.word("FUNCTION") or cur.word("PROCEDURE") or cur.word("PACKAGE")
    first = cur.peek()
    if first is not None and first.kind == "p" and first.text == "*":
        cur.i += 1
        if cur.punct("."):
            cur.punct("*")
            return "global", "*.*"
        return "current", None  # ON *: the current database
    schema = cur.name()
    if schema is not None and cur.punct("."):
        if cur.punct("*"):
            return "database", f"{schema}.*"
        return "table", f"{schema}.{cur.name() or '*'}"
    return "table", schema or "*"


def _table_grant_refs(
    tname: str, grantee: str, act: str, columns: list[str], table_privilege: bool
) -> list[Ref]:
    qualified = "." in tname
    out = [
        Ref("relation", tname, ("column_grants", column, grantee), act, qualified)
        for column in dict.fromkeys(columns)
    ]
    # MySQL keeps the table-level GRANT OPTION a column grant brought along: a
    # REVOKE of columns touches the table's grants too.
    if not columns or table_privilege or act == "revoke":
        out.append(Ref("relation", tname, ("grants", grantee), act, qualified))
    return out


def _has_table_privilege(toks: list[_Tok]) -> bool:
    """A privilege list with at least one privilege that has no column list."""
    depth = 0
    pending = False
    for tok in toks[1:]:
        if tok.kind == "p" and tok.text == "(":
            depth += 1
            pending = False
        elif tok.kind == "p" and tok.text == ")":
            depth -= 1
        elif depth == 0 and tok.kind == "p" and tok.text == ",":
            if pending:
                return True
        elif depth == 0:
            pending = True
    return pending
