"""Evidence for auditors (``driftd report``): every drift item of a period with its life,
its author and approval, the alerts sent about it, and a summary per environment.

Read-only queries over the drift lifecycle tables (``drift``, ``drift_events``)
and the alert outbox (``alert_deliveries``); nothing here writes. The document
is JSON-able (``driftd.evidence/1``); renderers turn it into HTML or CSV.
Statements were masked when they were recorded and are redacted once more here.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select

from driftd.drift import iso
from driftd.store import Store
from driftd.store.models import Drift, DriftEvent

EVIDENCE_FORMAT = "driftd.evidence/1"
APPROVED = frozenset({"approved", "revoked", "processing", "executed"})  # as review_text reads
_CHUNK = 500


def evidence(
    store: Store,
    since: datetime,
    until: datetime,
    environments: Sequence[str] = (),
    accepted: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The evidence document of [since, until) for ``environments`` (all when empty).

    An item belongs to the period when it was drift at some time in it (first seen
    before ``until``, not closed before ``since``). ``accepted`` maps a drift id to
    the baseline's ``accepted`` metadata (who, when, why) that took it in.
    """
    from driftd.alerts.model import Delivery

    with store.session() as s:
        query = select(Drift).where(
            Drift.first_seen_at < until, or_(Drift.closed_at.is_(None), Drift.closed_at >= since)
        )
        if environments:
            query = query.where(Drift.environment.in_(list(environments)))
        rows = list(s.scalars(query.order_by(Drift.environment, Drift.first_seen_at, Drift.id)))
        ids = [r.id for r in rows]
        events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for e in s.scalars(
                select(DriftEvent).where(DriftEvent.drift_id.in_(chunk)).order_by(DriftEvent.id)
            ):
                events[e.drift_id].append(
                    {"at": iso(e.at), "event": e.event, "actor": e.actor, "note": e.note}
                )
        sent = select(Delivery).where(
            Delivery.created_at >= since, Delivery.created_at < until, Delivery.kind != "test"
        )
        if environments:
            sent = sent.where(Delivery.environment.in_(list(environments)))
        alerts = _alerts_by_item(s.scalars(sent.order_by(Delivery.id)), set(ids))
    items = [_item(r, events[r.id], alerts[r.id], (accepted or {}).get(r.id)) for r in rows]
    names = sorted(set(environments) | {r.environment for r in rows})
    end = min(until, datetime.now(UTC))  # an open item is drift up to now, not beyond
    return {
        "format": EVIDENCE_FORMAT,
        "since": iso(since),
        "until": iso(until),
        "generated_at": iso(datetime.now(UTC)),
        "environments": [
            _summary(n, [i for i in items if i["environment"] == n], since, end) for n in names
        ],
        "drift": items,
    }


def _alerts_by_item(deliveries: Iterable[Any], ids: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The deliveries that name each drift item (an event may carry several items)."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d in deliveries:
        drift = d.payload.get("drift") if isinstance(d.payload, dict) else None
        for entry in drift if isinstance(drift, list) else []:
            drift_id = entry.get("id") if isinstance(entry, dict) else None
            if drift_id in ids:
                out[drift_id].append(
                    {
                        "sink": d.sink,
                        "target": d.target or None,
                        "kind": d.kind,
                        "state": d.state,
                        "attempts": d.attempts,
                        "created_at": iso(d.created_at),
                        "delivered_at": iso(d.delivered_at) if d.delivered_at else None,
                    }
                )
    return out


def drift_fields(row: Drift, names: str) -> dict[str, Any]:
    """The columns ``names`` (space-separated, in this order) of a drift row as JSON
    values: times as ISO 8601 UTC, None when unset."""
    out = {}
    for name in names.split():
        value = getattr(row, name)
        out[name] = iso(value) if isinstance(value, datetime) else value
    return out


def _item(
    row: Drift,
    events: list[dict[str, Any]],
    alerts: list[dict[str, Any]],
    accepted: Mapping[str, Any] | None,
) -> dict[str, Any]:
    from driftd.alerts.events import redact

    best = row.attribution[0] if row.attribution else {}
    review = best.get("review") if isinstance(best.get("review"), dict) else None
    statement = best.get("statement")
    return {
        **drift_fields(
            row,
            "id environment object kind change path severity rules state first_seen_at "
            "last_seen_at closed_at acknowledged_at acknowledged_by note",
        ),
        "author": best.get("actor") or best.get("db_user"),
        "author_source": best.get("source"),
        "session": best.get("session"),
        "statement": redact(str(statement)) if statement else None,
        "review": review,
        "approved": approval(review),
        "accepted_by": (accepted or {}).get("by") if row.state == "accepted" else None,
        "accepted_reason": (accepted or {}).get("reason") if row.state == "accepted" else None,
        "events": events,
        "alerts": alerts,
    }


def approval(review: Mapping[str, Any] | None) -> bool:
    return isinstance(review, Mapping) and str(review.get("status", "")).lower() in APPROVED


def _summary(
    name: str, items: list[dict[str, Any]], since: datetime, until: datetime
) -> dict[str, Any]:
    states = Counter(i["state"] for i in items)
    authors = Counter(i["author"] or "unknown" for i in items)
    alerts = Counter(a["state"] for i in items for a in i["alerts"])
    return {
        "name": name,
        "drift": len(items),
        "open": states["open"] + states["acknowledged"],
        "acknowledged": states["acknowledged"],
        "time_in_drift_seconds": round(time_in_drift(items, since, until), 3),
        "resolved": states["resolved"],
        "accepted": states["accepted"],
        "changes_by_author": dict(sorted(authors.items())),
        "unreviewed": sum(not i["approved"] for i in items),
        "alerts_delivered": alerts["delivered"],
        "alerts_failed": alerts["failed"],
        "alerts_pending": alerts["pending"],
    }


def time_in_drift(items: Iterable[Mapping[str, Any]], since: datetime, until: datetime) -> float:
    """Seconds of [since, until) in which at least one of ``items`` was drift."""
    spans = []
    for i in items:
        start = max(datetime.fromisoformat(i["first_seen_at"]), since)
        end = min(datetime.fromisoformat(i["closed_at"]) if i["closed_at"] else until, until)
        if end > start:
            spans.append((start, end))
    total, reach = 0.0, None
    for start, end in sorted(spans):
        if reach is None or start > reach:
            total += (end - start).total_seconds()
            reach = end
        elif end > reach:
            total += (end - reach).total_seconds()
            reach = end
    return total
