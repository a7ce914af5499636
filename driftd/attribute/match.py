"""Attribute drift items to the statements, people and sessions that caused them.

The stage reads the environment's audit sources (only what is new, see
driftd.attribute.sources.state), keeps the events inside the window — from the last
clean check (or ``attribution_lookback`` before this one) to this check,
widened by each source's ``window_slack`` — and matches each drift item
against the objects each statement touched:

=====================  ==========  ==================================================
reason                 confidence  when
=====================  ==========  ==================================================
exact object + path    0.95        the statement touched this object at this path
                                   (or created, dropped or replaced it whole)
object only            0.60        the statement touched this object elsewhere
time only              0.20        the statement's objects cannot be known (did not
                                   parse, dynamic SQL) and nothing better matched
=====================  ==========  ==================================================

Deductions: the statement left the schema out (-0.05), it named objects by
pattern (-0.15), function arguments not given (-0.05), its action points the
other way (a GRANT for a privilege that went away: -0.2), the hoop session
ended with an error (-0.1). A statement seen both by a proxy (the person)
and in the database log (the login role) is merged into one entry (+0.03).
Failed statements are never candidates. Several candidates are all listed,
best first, at most ``MAX_CANDIDATES``; no candidate leaves the list empty.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from driftd.attribute.sources import AuditState, PollResult, source
from driftd.attribute.sources.events import AuditEvent
from driftd.attribute.sources.state import PollOutcome
from driftd.attribute.sqlrefs import RELATION_KINDS, Ref, Statement
from driftd.config import Config, ResolvedEnvironment
from driftd.drift import DriftItem, iso
from driftd.errors import first_line
from driftd.masking import normalize

log = logging.getLogger(__name__)

MAX_CANDIDATES = 5
CLEAN_PREFIX = "clean-check:"  # state cursor key remembering an environment's last clean check
LEVELS = {
    "exact": (0.95, "exact object + path"),
    "object": (0.60, "object only"),
    "time": (0.20, "time only"),
}
# Kinds that belong to the whole server: a change to them may come from any database.
CLUSTER_KINDS = frozenset({"role", "setting", "database"})
# Sources that see the database's own login role (and execution time).
DB_LOG_TYPES = frozenset({"pgaudit", "pglog", "cloudwatch", "mariadb_audit"})

_source_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(name: str) -> threading.Lock:
    with _locks_guard:
        return _source_locks.setdefault(name, threading.Lock())


@dataclass
class Window:
    since: datetime
    until: datetime


@dataclass
class Candidate:
    level: str
    confidence: float
    event: AuditEvent
    statement: Statement
    source_name: str
    source_type: str
    notes: list[str] = field(default_factory=list)
    merged: dict[str, Any] = field(default_factory=dict)

    def entry(self) -> dict[str, Any]:
        ev = self.event
        out: dict[str, Any] = {
            "source": self.source_type,
            "source_name": self.source_name,
            "actor": ev.actor or ev.db_user,
            "db_user": ev.db_user,
            "at": iso(ev.at),
            "statement": self.statement.text,
            "session": ev.session,
            "confidence": round(min(0.99, max(0.05, self.confidence)), 2),
            "reason": LEVELS[self.level][1],
            "command": self.statement.command,
        }
        for key in ("identity_type", "review", "database", "connection"):
            value = getattr(ev, key)
            if value is not None:
                out[key] = value
        # principal: an IAM ARN; identity_id: a hoop machine identity's id (actor is its name)
        for key in ("principal", "identity_id"):
            if ev.extra.get(key):
                out[key] = ev.extra[key]
        if self.notes:
            out["notes"] = self.notes
        out.update(self.merged)
        return out


# -- the stage ---------------------------------------------------------------------------


def attribute(
    env: ResolvedEnvironment,
    items: list[DriftItem],
    since: datetime | None,
    until: datetime,
    *,
    state: AuditState,
) -> list[str]:
    """Fill ``item.attribution`` (best first) from the environment's audit sources.

    With no items (a clean check) the sources are still read, so they stay
    current, and ``until`` is remembered as the start of the next window.
    ``since`` None means: from the last clean check the state remembers,
    else ``attribution_lookback`` before ``until``. As long as the
    environment is not clean again, every check looks back to that same
    start, so drift first seen before its audit record arrived (CloudWatch
    delivery, a hoop session still running) is attributed by a later check.

    Returns human-readable problems (a source down, unparseable records);
    never raises for them.
    """
    if not env.audit:
        return []
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    problems: list[str] = []
    if since is None:
        since = last_clean(state, env.name) or until - timedelta(
            seconds=env.settings.attribution_lookback
        )
    env_db = _database_name(env)
    pools: list[tuple[str, str, list[AuditEvent]]] = []
    for name, settings in env.audit:
        events = _poll(env.config, name, Window(since, until), state, problems)
        if events is not None:
            pools.append((name, settings.type, events))
    for item in items:
        item.attribution = [c.entry() for c in match(item, pools, env_db)]
    if not items:
        state.save_cursor(CLEAN_PREFIX + env.name, {"at": until.isoformat()})
    return problems


def last_clean(state: AuditState, environment: str) -> datetime | None:
    """When this state last saw the environment clean (its window starts there)."""
    mark = state.cursor(CLEAN_PREFIX + environment)
    try:
        return datetime.fromisoformat(str(mark["at"])) if mark else None
    except (KeyError, ValueError):
        return None


def _poll(
    config: Config, name: str, window: Window, state: AuditState, problems: list[str]
) -> list[AuditEvent] | None:
    try:
        src = source(config, name)
    except ValidationError as exc:
        problems.append(f"audit.{name}: invalid settings: {exc.errors()[0]['msg']}")
        return None
    slack = timedelta(seconds=src.settings.window_slack)
    lo, hi = window.since - slack, window.until + slack
    with _lock(name):
        error: str | None = None
        result = PollResult()
        try:
            result = src.poll(lo, hi, state)
        except Exception as exc:
            # A bug in one source must not cost the check; the message may quote
            # input, so only the type and the frames are logged.
            error = f"internal error ({type(exc).__name__}); see --debug"
            problems.append(f"audit.{name}: {error}")
            log.debug("audit.%s failed:\n%s", name, "".join(traceback.format_tb(exc.__traceback__)))
        else:
            result.warn_skipped(name)
            problems += result.summary(name)
            if result.problems:
                error = "; ".join(result.problems)[:1000]
        try:
            state.note_poll(
                PollOutcome(
                    name=name,
                    type=src.settings.type,
                    at=datetime.now(UTC),
                    error=error,
                    new_events=result.new_events,
                    parse_errors=result.bad_records,
                    last_event_at=result.last_event_at,
                )
            )
            return [e for e in state.events(name, lo, hi) if not e.failed]
        except Exception as exc:  # the state store is down: this check goes unattributed
            problems.append(f"audit.{name}: audit state unavailable: {first_line(exc)}")
            return None


def _database_name(env: ResolvedEnvironment) -> str | None:
    from sqlalchemy.engine import make_url

    try:
        return make_url(env.database_url()).database or None
    except Exception:
        return None


# -- matching -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    kind: str
    name: str
    args: tuple[str, ...] | None
    path: tuple[str, ...]


def target_of(item: DriftItem) -> Target:
    """What a drift item points at, its key read with the quoting rule (driftd.kinds).

    The name is the key's name parts joined with ``.``, unquoted, as statements
    name objects (``dot."a.b"`` is ``dot.a.b``); a key that does not parse is
    taken whole, as before the rule.
    """
    from driftd.kinds import KeyError_, parse_key

    try:
        key = parse_key(item.object)
    except KeyError_:
        name = item.object.split(":", 1)[1] if ":" in item.object else item.object
        return Target(item.kind, name, None, tuple(str(p) for p in item.path))
    args = None
    if key.args is not None:
        args = tuple(a.strip() for a in _split_args(key.args) if a.strip())
    return Target(item.kind, ".".join(key.parts), args, tuple(str(p) for p in item.path))


def _split_args(text: str) -> list[str]:
    """Identity arguments at their top-level commas (not inside parentheses or quotes)."""
    out: list[str] = []
    current: list[str] = []
    depth = 0
    quoted = False
    for c in text:
        if c == '"':
            quoted = not quoted  # a doubled "" toggles twice: still inside
        elif not quoted and c == "(":
            depth += 1
        elif not quoted and c == ")":
            depth -= 1
        if c == "," and depth == 0 and not quoted:
            out.append("".join(current))
            current = []
        else:
            current.append(c)
    out.append("".join(current))
    return out


def _args_match(key_args: tuple[str, ...], ref_args: tuple[str, ...]) -> bool:
    """Identity args from the snapshot key (may carry names and modes) vs parsed types."""
    if len(key_args) != len(ref_args):
        return False
    for have, want in zip(key_args, ref_args, strict=True):
        h, w = have.lower(), want.lower()
        if not (h == w or h.endswith(" " + w) or h.endswith("." + w)):
            return False
    return True


def _name_match(ref: Ref, target: Target, notes: list[str]) -> bool:
    if ref.name == "*" or "*" in ref.name:
        if fnmatch.fnmatchcase(target.name, ref.name):
            notes.append("the statement named objects by pattern")
            return True
        return False
    if ref.qualified:
        return ref.name == target.name or (
            target.kind == "setting" and ref.name.lower() == target.name.lower()
        )
    if target.name.rsplit(".", 1)[-1] == ref.name:
        notes.append("the statement did not name the schema")
        return True
    return False


def _direction(item: DriftItem) -> str:
    if item.change == "added" or item.before is None:
        return "added"
    if item.change == "removed" or item.after is None:
        return "removed"
    if isinstance(item.before, list) and isinstance(item.after, list):
        before, after = set(map(str, item.before)), set(map(str, item.after))
        if before < after:
            return "added"
        if after < before:
            return "removed"
    return "changed"


_EXPECTS = {"create": "added", "grant": "added", "drop": "removed", "revoke": "removed"}


def level_of(ref: Ref, target: Target, item: DriftItem) -> tuple[str, list[str]] | None:
    """How well ``ref`` explains the item: (level, notes), or None when unrelated."""
    notes: list[str] = []
    if ref.kind == "index":  # DROP INDEX / ALTER INDEX name the index, not its table
        level = _index_level(ref, target, notes)
    else:
        level = _object_level(ref, target, notes)
    if level is None:
        return None
    expected = _EXPECTS.get(ref.action)
    if level == "exact" and expected and _direction(item) not in (expected, "changed"):
        notes.append(f"{ref.action} does not explain a value {_direction(item)}" + MISFIT)
    return level, notes


def _index_level(ref: Ref, target: Target, notes: list[str]) -> str | None:
    ix_schema, _, ix_name = ref.name.rpartition(".")
    path = target.path
    if len(path) < 2 or path[0] != "indexes" or path[1] != ix_name:
        return None
    if target.kind not in RELATION_KINDS:
        return None
    if ref.qualified and ix_schema and target.name.rpartition(".")[0] != ix_schema:
        return None
    if not ref.qualified:
        notes.append("the statement did not name the schema")
    return "exact"


def _object_level(ref: Ref, target: Target, notes: list[str]) -> str | None:
    if ref.kind == "relation":
        if target.kind not in RELATION_KINDS:
            return None
    elif ref.kind not in ("*", target.kind):
        return None
    if not _name_match(ref, target, notes):
        return None
    # Keys with identity arguments (functions, operators, operator classes, casts).
    if target.args is not None:
        if ref.args is None:
            notes.append("the statement did not give the argument types")
        elif not _args_match(target.args, ref.args):
            return None
    path = target.path
    if not ref.path:
        # A setting is one value: naming it is naming whatever changed in it.
        one_value = target.kind == "setting" and "*" not in ref.name
        whole = ref.action in ("create", "drop", "replace")
        # A rename item's path is ["name"]: the statement naming the new name made it.
        exact = one_value or (whole and (not path or ref.action == "replace" or path == ("name",)))
        return "exact" if exact else "object"
    if not path:
        return "object"
    n = min(len(ref.path), len(path))
    return "exact" if ref.path[:n] == path[:n] else "object"


MISFIT = " (the statement points the other way)"
_PENALTIES = {
    "the statement did not name the schema": 0.05,
    "the statement named objects by pattern": 0.15,
    "the statement did not give the argument types": 0.05,
}


def _score(level: str, notes: list[str], event: AuditEvent) -> float:
    score = LEVELS[level][0]
    for note in notes:
        score -= 0.2 if note.endswith(MISFIT) else _PENALTIES.get(note, 0.0)
    if event.extra.get("exit_code") not in (None, 0):
        notes.append(f"the session ended with exit code {event.extra['exit_code']}")
        score -= 0.1
    return score


def match(
    item: DriftItem, pools: list[tuple[str, str, list[AuditEvent]]], env_db: str | None
) -> list[Candidate]:
    """Candidates for one item, best first (none when nothing fits: never a guess)."""
    target = target_of(item)
    found: list[Candidate] = []
    unknown: list[Candidate] = []
    for source_name, source_type, events in pools:
        for event in events:
            if (
                env_db
                and event.database
                and event.database != env_db
                and target.kind not in CLUSTER_KINDS
            ):
                continue
            for statement in event.statements:
                best: tuple[str, list[str]] | None = None
                for ref in statement.refs:
                    got = level_of(ref, target, item)
                    if got and (best is None or _rank(got) > _rank(best)):
                        best = got
                if best is not None:
                    level, notes = best
                    found.append(
                        Candidate(
                            level,
                            _score(level, notes, event),
                            event,
                            statement,
                            source_name,
                            source_type,
                            notes,
                        )
                    )
                elif statement.unknown:
                    notes = ["the statement's objects are unknown (not parsed, or dynamic SQL)"]
                    unknown.append(
                        Candidate(
                            "time",
                            _score("time", notes, event),
                            event,
                            statement,
                            source_name,
                            source_type,
                            notes,
                        )
                    )
    candidates = _merge(_dedupe(found or unknown))
    candidates.sort(key=lambda c: (-round(c.confidence, 4), -c.event.at.timestamp()))
    return candidates[:MAX_CANDIDATES]


def _rank(got: tuple[str, list[str]]) -> tuple[int, int]:
    return (2 if got[0] == "exact" else 1, -len(got[1]))


def _dedupe(candidates: list[Candidate]) -> list[Candidate]:
    """One entry per (source, session, statement): the latest."""
    best: dict[tuple[str, str | None, str], Candidate] = {}
    for c in candidates:
        key = (c.source_name, c.event.session, normalize(c.statement.text))
        old = best.get(key)
        if old is None or (c.confidence, c.event.at) > (old.confidence, old.event.at):
            best[key] = c
    return list(best.values())


def _merge(candidates: list[Candidate]) -> list[Candidate]:
    """Join a proxy's entry (who) with the database log's entry for the same statement."""
    db = [c for c in candidates if c.source_type in DB_LOG_TYPES]
    out = [c for c in candidates if c.source_type not in DB_LOG_TYPES]
    used: set[int] = set()
    for person in out:
        if person.source_type not in ("hoop", "jsonl") or not person.event.actor:
            continue
        text = normalize(person.statement.text)
        slack = timedelta(minutes=2)
        lo = person.event.at - slack
        hi = (person.event.end or person.event.at) + slack
        for i, c in enumerate(db):
            if i in used or normalize(c.statement.text) != text or not lo <= c.event.at <= hi:
                continue
            used.add(i)
            person.merged = {
                "db_user": c.event.db_user,
                "at": iso(c.event.at),
                "db_session": c.event.session,
                "sources": [person.source_name, c.source_name],
            }
            person.confidence = max(person.confidence, c.confidence) + 0.03
            break
    return out + [c for i, c in enumerate(db) if i not in used]
