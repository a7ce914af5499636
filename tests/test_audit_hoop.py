"""hoop.dev sessions served by a real HTTP server on loopback, shaped like the gateway's.

List items carry ``"script": null`` (exec SQL comes from the detail call),
connect sessions hold their SQL in the event stream, pages follow
``limit``/``offset``/``has_next_page``, and the bearer token is checked.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from driftd.attribute import attribute
from driftd.audit.state import MemoryAuditState
from driftd.config import Config, parse
from driftd.drift import DriftItem

TOKEN = "hpk_test_9f8e7d"
NOW = datetime.now(UTC).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def session(
    sid: str,
    user: str,
    verb: str,
    start: datetime,
    *,
    script: str | None = None,
    events: list[list[Any]] | None = None,
    identity: str = "user",
    review: dict[str, Any] | None = None,
    exit_code: int | None = 0,
) -> dict[str, Any]:
    end = start + timedelta(seconds=40)
    return {
        "id": sid,
        "org_id": "0f6b7c9e-org",
        "script": {"data": script} if script is not None else None,
        "user": user if identity == "user" else "",
        "user_id": f"oidc|{user}",
        "user_name": user.split("@")[0].title(),
        "type": "database",
        "connection": "pg-prod",
        "connection_subtype": "postgres",
        "connection_tags": {"env": "prod"},
        "review": review,
        "verb": verb,
        "status": "done",
        "exit_code": exit_code,
        "start_date": _iso(start),
        "end_date": _iso(end),
        "identity_type": identity,
        "machine_identity_id": user if identity == "machine" else None,
        "correlation_id": None,
        "session_batch_id": None,
        "guardrails_info": None,
        "metrics": {"data_masking": {}},
        "_events": events,
    }


SESSIONS = [
    session(
        "c3a1-exec-alice",
        "alice@example.com",
        "exec",
        NOW - timedelta(minutes=30),
        script="ALTER TABLE public.orders ADD COLUMN note text DEFAULT 'ring 555-0100';\n"
        "SELECT count(*) FROM public.orders WHERE email = 'jane@example.org';",
    ),
    session(
        "d4b2-connect-bob",
        "bob@example.com",
        "connect",
        NOW - timedelta(minutes=20),
        events=[
            [0.4, "i", "BEGIN;"],
            [0.5, "o", "BEGIN"],
            [1.25, "i", "GRANT SELECT ON public.customers TO PUBLIC;"],
            [1.3, "o", "GRANT"],
            # Psql's Query message as decoded to UTF-8 (type, length, SQL, NUL).
            [2.0, "i", "Q\u0000\u0000\u0000)ALTER ROLE reporting SUPERUSER;\u0000"],
            [2.1, "e", "warning: nothing to see"],
            [3.0, "i", "COMMIT;"],
        ],
    ),
    session(
        "e5c3-exec-deployer",
        "ci-deployer",
        "exec",
        NOW - timedelta(minutes=10),
        script="CREATE INDEX orders_created_ix ON public.orders (created_at)",
        identity="machine",
        review={
            "id": "rev-1",
            "type": "onetime",
            "status": "APPROVED",
            "review_groups_data": [
                {
                    "group": "dba",
                    "status": "APPROVED",
                    "reviewed_by": {"email": "carol@example.com"},
                }
            ],
        },
    ),
] + [
    session(
        f"f{i:03d}-exec-reader",
        "dave@example.com" if i % 2 else "alice@example.com",
        "exec",
        NOW - timedelta(minutes=40 + i),
        script=f"SELECT * FROM public.orders WHERE id = {i}",
    )
    for i in range(12)
]


@dataclass
class Gateway:
    url: str
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=lambda: list(SESSIONS))
    token: str = TOKEN

    def lists(self) -> list[dict[str, list[str]]]:
        return [q for p, q in self.requests if p == "/api/sessions"]

    def details(self) -> list[str]:
        return [p for p, _ in self.requests if p.startswith("/api/sessions/")]


def _public(s: dict[str, Any], *, detail: bool, stream: bool) -> dict[str, Any]:
    out = {k: v for k, v in s.items() if not k.startswith("_")}
    if not detail:
        out["script"] = None  # as the real list endpoint does
    if stream:
        out["event_stream"] = s["_events"]
    return out


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, code: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = parse_qs(url.query)
            gw.requests.append((url.path, query))
            if self.headers.get("Authorization") != f"Bearer {gw.token}":
                self._send(401, {"message": "unauthorized"})
                return
            if url.path == "/api/sessions":
                self._list(query)
            elif url.path.startswith("/api/sessions/"):
                sid = url.path.rsplit("/", 1)[1]
                found = [s for s in gw.sessions if s["id"] == sid]
                if not found:
                    self._send(404, {"message": "not found"})
                    return
                stream = query.get("event_stream") == ["utf8"]
                self._send(200, _public(found[0], detail=True, stream=stream))
            else:
                self._send(404, {"message": "not found"})

        def _list(self, query: dict[str, list[str]]) -> None:
            try:
                start = datetime.fromisoformat(query["start_date"][0].replace("Z", "+00:00"))
                end = datetime.fromisoformat(query["end_date"][0].replace("Z", "+00:00"))
            except (KeyError, ValueError):
                self._send(422, {"message": "start_date/end_date must be RFC 3339"})
                return
            limit = min(int(query.get("limit", ["20"])[0]), 100)
            offset = int(query.get("offset", ["0"])[0])
            rows = [
                s
                for s in gw.sessions
                if s["connection"] in query.get("connection", [s["connection"]])
                and start <= datetime.fromisoformat(s["start_date"].replace("Z", "+00:00")) <= end
            ]
            rows.sort(key=lambda s: str(s["start_date"]), reverse=True)  # newest first
            page = rows[offset : offset + limit]
            self._send(
                200,
                {
                    "data": [_public(s, detail=False, stream=False) for s in page],
                    "total": len(rows),
                    "total_is_capped": False,
                    "has_next_page": offset + limit < len(rows),
                },
            )

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    gw.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield gw
    finally:
        server.shutdown()
        server.server_close()


def _config(tmp_path: Path, body: str) -> Config:
    text = (
        '[environments.prod]\nurl = "postgresql+psycopg://driftd@db.internal/app"\n'
        'audit = ["hoop-prod"]\n\n[audit.hoop-prod]\ntype = "hoop"\n' + body
    )
    return parse(text, tmp_path / "driftd.toml")


def _items() -> list[DriftItem]:
    return [
        DriftItem("table:public.orders", "modified", ["columns", "note"], None, {"type": "text"}),
        DriftItem("table:public.customers", "modified", ["grants", "PUBLIC"], None, ["SELECT"]),
        DriftItem("role:reporting", "modified", ["superuser"], False, True),
        DriftItem(
            "table:public.orders", "modified", ["indexes", "orders_created_ix"], None, {"x": 1}
        ),
        DriftItem("table:public.untouched", "modified", ["columns", "x"], None, {"type": "int"}),
    ]


def test_each_item_names_the_right_person(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOP_TOKEN", TOKEN)
    config = _config(
        tmp_path,
        f'url = "{gateway.url}"\ntoken_env = "HOOP_TOKEN"\nconnection = "pg-prod"\n'
        'db_user = "hoop_svc"\npage_size = 5\n',
    )
    items = _items()
    state = MemoryAuditState()
    problems = attribute(config, "prod", items, NOW - timedelta(hours=2), NOW, state=state)
    assert problems == []
    note, grant, superuser, index, untouched = (i.attribution for i in items)

    assert note[0]["actor"] == "alice@example.com"
    assert note[0]["statement"] == "ALTER TABLE public.orders ADD COLUMN note text DEFAULT ?"
    assert note[0]["reason"] == "exact object + path"
    assert note[0]["source"] == "hoop" and note[0]["session"] == "c3a1-exec-alice"
    assert note[0]["db_user"] == "hoop_svc" and note[0]["identity_type"] == "user"
    assert note[0]["confidence"] >= 0.9
    # The index creation on the same table is a weaker, object-only candidate.
    assert [a["reason"] for a in note[1:]] == ["object only"]

    assert grant[0]["actor"] == "bob@example.com"
    assert grant[0]["statement"] == "GRANT SELECT ON public.customers TO PUBLIC"
    # Event time: the session start plus the event's offset in seconds.
    start = NOW - timedelta(minutes=20)
    assert grant[0]["at"] == (start + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert superuser[0]["actor"] == "bob@example.com"
    assert superuser[0]["statement"] == "ALTER ROLE reporting SUPERUSER"

    assert index[0]["actor"] == "machine:ci-deployer"
    assert index[0]["identity_type"] == "machine"
    assert index[0]["review"] == {
        "status": "APPROVED",
        "type": "onetime",
        "approved_by": ["carol@example.com"],
    }
    assert untouched == []  # nothing touched it: no guess

    # Nothing in the evidence carries a literal.
    evidence = json.dumps([i.attribution for i in items])
    assert "555-0100" not in evidence and "jane@example.org" not in evidence

    # Paged through everything (15 sessions, 5 a page), with the documented filters.
    lists = gateway.lists()
    assert [q["offset"] for q in lists] == [["0"], ["5"], ["10"]]
    assert all(q["limit"] == ["5"] and q["connection"] == ["pg-prod"] for q in lists)
    assert all(q["start_date"][0].endswith("Z") for q in lists)
    # One detail call per candidate session (the SELECT-only fillers too: the
    # list does not say what a script holds), event_stream for the connect one.
    assert "/api/sessions/d4b2-connect-bob" in gateway.details()
    stream_calls = [q for p, q in gateway.requests if p == "/api/sessions/d4b2-connect-bob"]
    assert stream_calls[0]["event_stream"] == ["utf8"]

    # A second run fetches no detail again: finished sessions are remembered.
    before = len(gateway.details())
    again = _items()
    assert attribute(config, "prod", again, NOW - timedelta(hours=2), NOW, state=state) == []
    assert len(gateway.details()) == before
    assert again[0].attribution == items[0].attribution


def test_api_key_header_and_token_file(gateway: Gateway, tmp_path: Path) -> None:
    (tmp_path / "hoop.key").write_text(TOKEN + "\n")
    config = _config(
        tmp_path, f'url = "{gateway.url}"\ntoken_file = "hoop.key"\nconnection = ["pg-prod"]\n'
    )
    items = _items()
    assert (
        attribute(config, "prod", items, NOW - timedelta(hours=2), NOW, state=MemoryAuditState())
        == []
    )
    assert items[0].attribution[0]["actor"] == "alice@example.com"


def test_refused_token_is_a_problem_not_a_failure(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOP_TOKEN", "wrong-token-value")
    config = _config(
        tmp_path, f'url = "{gateway.url}"\ntoken_env = "HOOP_TOKEN"\nconnection = "pg-prod"\n'
    )
    items = _items()
    problems = attribute(
        config, "prod", items, NOW - timedelta(hours=2), NOW, state=MemoryAuditState()
    )
    assert len(problems) == 1 and "HTTP 401" in problems[0]
    assert "wrong-token-value" not in problems[0]
    assert all(i.attribution == [] for i in items)


def test_unreachable_gateway_and_missing_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOOP_TOKEN", raising=False)
    config = _config(
        tmp_path, 'url = "http://127.0.0.1:9"\ntoken_env = "HOOP_TOKEN"\nconnection = "pg-prod"\n'
    )
    problems = attribute(config, "prod", _items(), None, NOW, state=MemoryAuditState())
    assert problems and "HOOP_TOKEN is not set" in problems[0]
    monkeypatch.setenv("HOOP_TOKEN", TOKEN)
    problems = attribute(config, "prod", _items(), None, NOW, state=MemoryAuditState())
    assert problems and "cannot reach http://127.0.0.1:9" in problems[0]


def test_exported_sessions_file(tmp_path: Path) -> None:
    lines = []
    for s in SESSIONS:
        row = _public(s, detail=True, stream=s["verb"] == "connect")
        lines.append(json.dumps(row))
    (tmp_path / "sessions.jsonl").write_text("\n".join(lines) + "\nnot json\n")
    config = _config(tmp_path, 'file = "sessions.jsonl"\n')
    items = _items()
    problems = attribute(
        config, "prod", items, NOW - timedelta(hours=2), NOW, state=MemoryAuditState()
    )
    assert problems == ["audit.hoop-prod: 1 unparseable record(s) skipped"]
    assert items[1].attribution[0]["actor"] == "bob@example.com"
    assert items[3].attribution[0]["actor"] == "machine:ci-deployer"
    # The same file as one JSON document ({"data": [...]}) works too.
    (tmp_path / "sessions.json").write_text(json.dumps({"data": [json.loads(x) for x in lines]}))
    config = _config(tmp_path, 'file = "sessions.json"\n')
    items = _items()
    assert (
        attribute(config, "prod", items, NOW - timedelta(hours=2), NOW, state=MemoryAuditState())
        == []
    )
    assert items[0].attribution[0]["actor"] == "alice@example.com"


def test_hoop_config_errors_name_the_key(tmp_path: Path) -> None:
    from driftd.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        _config(tmp_path, 'url = "http://h"\ntoken_env = "T"\nconnection = "c"\ntokn = "x"\n')
    assert "audit.hoop-prod.tokn" in str(info.value) and "unknown key" in str(info.value)
    assert "driftd.toml:10" in str(info.value)
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, 'url = "http://h"\nconnection = "c"\n')
    assert "token_env" in str(info.value)
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, 'url = "http://h"\ntoken_env = "T"\nconnection = "c"\npage_size = 500\n')
    assert "audit.hoop-prod.page_size" in str(info.value)
