"""Role memberships (``member_of``), the same on every engine but for quoting."""

from __future__ import annotations

from collections.abc import Callable

from driftd.revert.context import Ctx
from driftd.revert.model import Statement
from driftd.revert.postgres import GRANT, stmt


def member_of_statements(ctx: Ctx, who: str, quote: Callable[[str], str]) -> list[Statement]:
    """GRANT / REVOKE that bring ``who``'s memberships (each group name written by
    ``quote``), and their ADMIN OPTION, back to the baseline's."""
    out = []
    for group in ctx.entries("member_of"):
        want, have = ctx.both("member_of", group)
        g = quote(group)
        if want is None:
            out.append(stmt(f"REVOKE {g} FROM {who}", GRANT))
        elif have is None or (want.get("admin_option") and not have.get("admin_option")):
            tail = " WITH ADMIN OPTION" if want.get("admin_option") else ""
            out.append(stmt(f"GRANT {g} TO {who}{tail}", GRANT))
        elif have.get("admin_option") and not want.get("admin_option"):
            out.append(stmt(f"REVOKE ADMIN OPTION FOR {g} FROM {who}", GRANT))
    return out
