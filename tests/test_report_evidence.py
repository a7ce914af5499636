"""`driftd report`: the evidence report from a state store filled by the real pipeline
(drift on a real PostgreSQL, attribution and an approval from a hoop gateway on
loopback, alerts delivered to a real HTTP receiver, an ack, a resolution), as JSON,
CSV and HTML; the HTML is loaded in headless Chromium over the DevTools protocol."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import shutil
import struct
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.alert_servers import AlertServer, alert_server_fixture  # noqa: F401 (fixture)
from tests.conftest import PgDatabase, Project
from tests.hoop_gateway import Gateway, approved_by, serve

TOKEN = "hpk_report_7e1d"
NASTY = "<script>alert(1)</script>"  # a table name: must show as text, never run
NASTY_KEY = f'table:shop."{NASTY}"'  # quoted: the name holds ( and )


@pytest.fixture
def store(
    project: Project, pgdb: PgDatabase, alert_server: AlertServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Project]:
    """A state store with two drift items of prod: a grant made through hoop and approved
    by carol (acknowledged by dave, still open), and a table made directly (resolved)."""
    analyst = pgdb.role("analyst")
    pgdb.execute(
        "CREATE SCHEMA shop; CREATE TABLE shop.customers (id bigint PRIMARY KEY);"
        f"CREATE ROLE {analyst}"
    )
    with serve(Gateway(token=TOKEN)) as gw:
        monkeypatch.setenv("HOOP_TOKEN", TOKEN)
        project.write_config(
            f"""
            [driftd]
            baselines_dir = "baselines"
            state_url = "sqlite:///state.db"

            [environments.prod]
            url = "{pgdb.url}"
            schemas = ["shop"]
            roles = ["{pgdb.prefix}*"]
            audit = ["hoop"]
            alerts = ["hook"]

            [audit.hoop]
            type = "hoop"
            url = "{gw.url}"
            token_env = "HOOP_TOKEN"
            connection = "pg_prod"
            db_user = "hoop_svc"

            [alerts.hook]
            type = "webhook"
            url = "{alert_server.url}/driftd"
            """
        )
        assert project.run("baseline", "accept", "prod").exit_code == 0
        grant = f"GRANT SELECT ON shop.customers TO {analyst}"
        start = datetime.now(UTC) - timedelta(seconds=60)
        pgdb.execute(grant)
        gw.exec_session(
            "5c1e-bob-exec", "bob@example.com", "pg_prod", grant, start,
            review=approved_by("carol@example.com", start - timedelta(seconds=30)),
        )  # fmt: skip
        pgdb.execute(f'CREATE TABLE shop."{NASTY}" (id int)')
        res = project.run_subprocess("run", "--once")
        assert res.exit_code == 1, res.stdout + res.stderr
    granted = _item(project, "grants")
    res = project.run_subprocess("ack", granted["id"], "--by", "dave", "--note", "ticket SEC-1")
    assert res.exit_code == 0, res.stderr
    pgdb.execute(f'DROP TABLE shop."{NASTY}"')
    res = project.run_subprocess("run", "--once")
    assert res.exit_code == 1, res.stdout + res.stderr  # the grant is still there
    yield project


def _report(project: Project, *args: str) -> str:
    since = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    res = project.run_subprocess("report", "--since", since, *args)
    assert res.exit_code == 0, res.stderr
    return res.stdout


def _item(project: Project, path_head: str) -> dict[str, Any]:
    doc = json.loads(_report(project, "--format", "json"))
    return next(i for i in doc["drift"] if i["path"][:1] == [path_head])


def test_json_and_csv_reports_have_the_life_author_approval_and_alerts(
    store: Project, pgdb: PgDatabase
) -> None:
    doc = json.loads(_report(store, "--format", "json", "--env", "prod"))
    assert doc["format"] == "driftd.evidence/1"
    by_object = {i["object"]: i for i in doc["drift"]}
    assert set(by_object) == {"table:shop.customers", NASTY_KEY}

    grant = by_object["table:shop.customers"]
    assert grant["path"] == ["grants", pgdb.role("analyst")]
    assert (grant["author"], grant["author_source"]) == ("bob@example.com", "hoop")
    assert grant["approved"] is True
    assert grant["review"]["approved_by"] == ["carol@example.com"]
    assert grant["state"] == "acknowledged"
    assert (grant["acknowledged_by"], grant["note"]) == ("dave", "ticket SEC-1")
    assert [e["event"] for e in grant["events"]] == ["opened", "acknowledged"]
    assert any(a["sink"] == "hook" and a["state"] == "delivered" for a in grant["alerts"])

    table = by_object[NASTY_KEY]
    assert table["author"] is None and table["approved"] is False
    assert table["state"] == "resolved" and table["closed_at"] is not None
    assert [e["event"] for e in table["events"]] == ["opened", "resolved"]
    kinds = {a["kind"] for a in table["alerts"] if a["state"] == "delivered"}
    assert {"opened", "resolved"} <= kinds

    (env,) = doc["environments"]
    assert env["name"] == "prod" and env["drift"] == 2
    assert (env["open"], env["acknowledged"], env["resolved"]) == (1, 1, 1)
    assert env["changes_by_author"] == {"bob@example.com": 1, "unknown": 1}
    assert env["unreviewed"] == 1
    assert env["alerts_delivered"] >= 3 and env["alerts_failed"] == 0
    assert env["time_in_drift_seconds"] > 0
    # (the same store, to spare building it again) a period without drift, bad periods
    res = store.run_subprocess(
        "report", "--since", "2000-01-01", "--until", "2000-12-31", "--format", "json"
    )
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["drift"] == [] and doc["until"] == "2001-01-01T00:00:00Z"
    res = store.run_subprocess("report", "--since", "2026-10-02", "--until", "2026-10-01")
    assert res.exit_code == 2 and "--until must be after --since" in res.stderr
    res = store.run_subprocess("report", "--since", "last tuesday")
    assert res.exit_code == 2 and "is not a date" in res.stderr

    out = store.root / "evidence.csv"
    _report(store, "--format", "csv", "-o", str(out))
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 2
    row = next(r for r in rows if r["object"] == "table:shop.customers")
    assert row["author"] == "bob@example.com" and row["approved"] == "true"
    assert row["approval"].startswith("approved by carol@example.com at ")
    assert row["acknowledged_by"] == "dave" and int(row["alerts_delivered"]) >= 1


def test_html_report_in_headless_chromium(store: Project, tmp_path: Path) -> None:
    html = tmp_path / "evidence.html"
    _report(store, "--format", "html", "-o", str(html))
    text = html.read_text()
    assert NASTY not in text and "&lt;script&gt;" in text  # escaped, never markup
    assert "<script" not in text and "http://" not in text and "https://" not in text
    with Chromium(tmp_path / "chromium") as browser:
        page = browser.load(html)
    assert page.problems == [], page.problems
    assert page.requests == [html.as_uri()], "the report must not load anything else"
    for shown in (
        "Drift evidence report",
        "bob@example.com",
        "approved by carol@example.com",
        "acknowledged",
        "by dave: ticket SEC-1",
        NASTY_KEY,
        "no review recorded",
        "resolved",
    ):
        assert shown in page.text, shown
    shot = tmp_path / "evidence-1280x800.png"  # kept as the test's artifact
    shot.write_bytes(page.screenshot)
    assert page.screenshot[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", page.screenshot[16:24]) == (1280, 800)
    pdf = tmp_path / "evidence.pdf"
    pdf.write_bytes(page.pdf)
    assert page.pdf.startswith(b"%PDF-") and len(page.pdf) > 2000


# -- no server needed ------------------------------------------------------------------


def test_time_in_drift_merges_overlapping_items() -> None:
    from driftd.store.evidence import time_in_drift

    t0 = datetime(2026, 10, 1, tzinfo=UTC)

    def item(start_h: int, end_h: int | None) -> dict[str, Any]:
        end = None if end_h is None else (t0 + timedelta(hours=end_h)).isoformat()
        return {"first_seen_at": (t0 + timedelta(hours=start_h)).isoformat(), "closed_at": end}

    until = t0 + timedelta(hours=10)
    # 1-3 and 2-4 overlap (3 h), 6-open runs to the end (4 h), -5..0 is before the period.
    items = [item(1, 3), item(2, 4), item(6, None), item(-5, 0)]
    assert time_in_drift(items, t0, until) == 7 * 3600
    assert time_in_drift([], t0, until) == 0


def test_csv_cells_never_start_a_formula() -> None:
    from driftd.report.evidence import _cell

    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _cell("@sum") == "'@sum" and _cell("-1") == "'-1"
    assert _cell("table:public.t") == "table:public.t"
    assert _cell(True) == "true" and _cell(None) == ""


# -- headless Chromium over the DevTools protocol (--remote-debugging-pipe) -------------


class Page:
    def __init__(self) -> None:
        self.problems: list[str] = []  # console errors/warnings, exceptions, log errors
        self.requests: list[str] = []
        self.text = ""
        self.screenshot = b""
        self.pdf = b""


class Chromium:
    """Debian's chromium, headless, driven over a pipe (no websocket library needed)."""

    def __init__(self, profile: Path) -> None:
        binary = shutil.which("chromium")
        assert binary, "chromium is not installed: run .ci/install-system.sh"
        profile.mkdir()
        to_chrome, self._in = os.pipe()
        self._out, from_chrome = os.pipe()
        # Above 4, so the shell's 3<& and 4>& below cannot overwrite one with the other.
        to_chrome, from_chrome = (_above(fd, 10) for fd in (to_chrome, from_chrome))
        # The protocol reads commands on fd 3 and writes replies on fd 4; bash puts the
        # pipe ends there right before exec (dash takes single-digit fds only).
        command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
        command += ["--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"]
        with (profile.parent / "chromium.log").open("wb") as log:  # kept for a failure
            self.proc = subprocess.Popen(
                ["/bin/bash", "-c", f'exec "$@" 3<&{to_chrome} 4>&{from_chrome}', "bash", *command],
                pass_fds=(to_chrome, from_chrome),
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        os.close(to_chrome)
        os.close(from_chrome)
        self._buffer = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.send("Browser.close")
            self.proc.wait(timeout=20)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        finally:
            os.close(self._in)
            os.close(self._out)

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._in, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read(deadline=time.monotonic() + 60)
            if reply.get("id") == self._id:
                assert "error" not in reply, reply["error"]
                return dict(reply.get("result", {}))
            self.events.append(reply)

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            assert time.monotonic() < deadline, "chromium did not answer"
            chunk = os.read(self._out, 1 << 16)
            assert chunk, "chromium closed the pipe"
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(raw))

    def wait_for(self, method: str, deadline: float) -> None:
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._read(deadline))

    def load(self, path: Path) -> Page:
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        s = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", s)
        self.send(
            "Emulation.setDeviceMetricsOverride", s,
            width=1280, height=800, deviceScaleFactor=1, mobile=False,
        )  # fmt: skip
        self.events.clear()
        self.send("Page.navigate", s, url=path.as_uri())
        self.wait_for("Page.loadEventFired", time.monotonic() + 60)
        page = Page()
        page.text = self.send(
            "Runtime.evaluate", s, expression="document.body.innerText", returnByValue=True
        )["result"]["value"]
        shot = self.send("Page.captureScreenshot", s, format="png")
        page.screenshot = base64.b64decode(shot["data"])
        page.pdf = base64.b64decode(self.send("Page.printToPDF", s, printBackground=True)["data"])
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning"):
                page.problems.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Runtime.exceptionThrown":
                page.problems.append(f"exception: {params.get('exceptionDetails')}")
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                page.problems.append(f"log: {params['entry'].get('text')}")
            elif method == "Network.requestWillBeSent":
                page.requests.append(params["request"]["url"])
        return page


def _above(fd: int, lowest: int) -> int:
    import fcntl

    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, lowest)
    os.close(fd)
    return moved
