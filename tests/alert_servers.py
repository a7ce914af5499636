"""Real loopback servers for the alert tests: an HTTP receiver and SMTP (aiosmtpd).

``AlertServer`` records every request and answers from a script: by default
``200 ok`` (Slack's answer), or what it is told for the next N requests (500,
429 with ``Retry-After``, 400 with a reason, a slow answer). With
``require_signature(secret)`` it checks the Standard Webhooks signature with
the reference verifier (the ``standardwebhooks`` package: signature and a
timestamp within 5 minutes) the way a real receiver would, answering 401 to a
bad one; ``require_signature(secret, "legacy")`` checks ``X-Driftd-Signature``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    at: float = field(default_factory=time.monotonic)
    signature_ok: bool | None = None
    answered: int = 0

    @property
    def json(self) -> Any:
        return json.loads(self.body)


# What each service answers a delivery it took, from its own documentation:
# - PagerDuty Events API v2, "Send an Alert Event" (developer.pagerduty.com,
#   docs/events-api-v2/trigger-events): 202 Accepted,
#   {"status": "success", "message": "Event processed", "dedup_key": ...};
# - Slack incoming webhooks (api.slack.com/messaging/webhooks): 200, body "ok";
# - Alertmanager API v2 (prometheus/alertmanager api/v2/openapi.yaml, postAlerts):
#   200 with an empty body ("Create alerts response"). tests/test_alertmanager_real.py
#   runs the real Alertmanager; this recorder stands in where a test needs every sink.
def pagerduty_accepted(dedup_key: str = "") -> Reply:
    body = {"status": "success", "message": "Event processed", "dedup_key": dedup_key}
    return Reply(202, json.dumps(body).encode(), {"Content-Type": "application/json"})


SLACK_OK = b"ok"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    echo: bool = False  # answer with the request itself (path, headers, body)


class AlertServer:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.default = Reply()
        self.by_path: dict[str, Reply] = {}
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        self._secret: bytes | None = None
        self._scheme = "standard"
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                rec = Recorded(
                    "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                reply = server._next(rec)
                if reply.delay:
                    time.sleep(reply.delay)
                rec.answered = reply.status
                with server._lock:
                    server.requests.append(rec)
                content = reply.body
                if reply.echo:
                    content += f" {self.path} {rec.headers} ".encode() + body
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except OSError:
                    pass  # the client gave up (timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- script ----------------------------------------------------------------------

    def answer(
        self, status: int = 200, body: bytes | str = b"ok", echo: bool = False, **headers: str
    ) -> None:
        """Answer every request (after the scripted ones) like this."""
        raw = body.encode() if isinstance(body, str) else body
        self.default = Reply(status, raw, headers, echo=echo)

    def answer_path(self, path: str, reply: Reply) -> None:
        """Answer requests to ``path`` (after the scripted ones) like this."""
        self.by_path[path] = reply

    def fail(
        self,
        times: int,
        status: int = 500,
        body: bytes | str = b"internal error",
        delay: float = 0.0,
        **headers: str,
    ) -> None:
        """Answer the next ``times`` requests with ``status``."""
        raw = body.encode() if isinstance(body, str) else body
        with self._lock:
            self._script += [Reply(status, raw, dict(headers), delay) for _ in range(times)]

    def retry_after(self, times: int, value: str, status: int = 429) -> None:
        self.fail(times, status, b"slow down", **{"Retry-After": value})

    def require_signature(self, secret: str, scheme: str = "standard") -> None:
        self._secret = secret.encode()
        self._scheme = scheme

    def _signed(self, rec: Recorded) -> bool:
        assert self._secret is not None
        if self._scheme == "legacy":
            expected = "sha256=" + hmac.new(self._secret, rec.body, hashlib.sha256).hexdigest()
            return hmac.compare_digest(rec.headers.get("x-driftd-signature", ""), expected)
        from standardwebhooks.webhooks import Webhook, WebhookVerificationError

        secret = self._secret.decode()
        if not secret.startswith("whsec_"):  # driftd keys a plain secret by its bytes
            secret = "whsec_" + base64.b64encode(self._secret).decode()
        try:
            Webhook(secret).verify(rec.body, rec.headers, json_parse=False)
        except WebhookVerificationError:
            return False
        return True

    def _next(self, rec: Recorded) -> Reply:
        if self._secret is not None:
            rec.signature_ok = self._signed(rec)
            if not rec.signature_ok:
                return Reply(401, b"bad signature")
        with self._lock:
            if self._script:
                return self._script.pop(0)
        return self.by_path.get(rec.path, self.default)

    # -- reading -----------------------------------------------------------------------

    def received(self, path: str | None = None, status: int | None = None) -> list[Recorded]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (path is None or r.path == path) and (status is None or r.answered == status)
            ]

    def delivered(self, path: str | None = None) -> list[Recorded]:
        """Requests this server answered with 2xx."""
        return [r for r in self.received(path) if 200 <= r.answered < 300]

    def wait(self, count: int, timeout: float = 10.0) -> list[Recorded]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received()
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"expected {count} requests, got {len(self.received())}")


@pytest.fixture(name="alert_server")
def alert_server_fixture() -> Iterator[AlertServer]:
    server = AlertServer()
    try:
        yield server
    finally:
        server.close()


# -- SMTP ----------------------------------------------------------------------------


def self_signed(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A throwaway CA-less certificate for ``host`` (cert, key) made with cryptography."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "driftd test smtp")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool
    login: str | None


class SmtpServer:
    """aiosmtpd on loopback: security ``none``, ``starttls`` (required) or ``ssl``."""

    def __init__(
        self,
        security: str,
        cert: tuple[Path, Path] | None = None,
        users: dict[str, str] | None = None,
    ) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.messages: list[Mail] = []
        self.script: list[tuple[int, str]] = []  # answers to DATA, then "250"
        server = self

        class Handler:
            async def handle_RCPT(
                self, srv: Any, session: Any, envelope: Any, address: str, options: Any
            ) -> str:
                if address.startswith("nobody@"):
                    return "550 5.1.1 no such user"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, srv: Any, session: Any, envelope: Any) -> str:
                if server.script:
                    code, text = server.script.pop(0)
                    return f"{code} {text}"
                server.messages.append(
                    Mail(
                        envelope.mail_from,
                        list(envelope.rcpt_tos),
                        envelope.content,
                        session.ssl is not None or security == "ssl",
                        _text(getattr(session, "auth_data", None)),
                    )
                )
                return "250 Message accepted for delivery"

        def authenticator(srv: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
            ok = (
                isinstance(data, LoginPassword)
                and users is not None
                and users.get(data.login.decode()) == data.password.decode()
            )
            return AuthResult(success=ok, handled=False, auth_data=data.login if ok else None)

        context = None
        if cert is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(cert[0]), str(cert[1]))
        kwargs: dict[str, Any] = {
            "hostname": "127.0.0.1",
            "port": 0,
            "authenticator": authenticator if users else None,
            "auth_require_tls": True,
            "auth_exclude_mechanism": ["CRAM-MD5"],
        }
        if security == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        elif security == "ssl":
            # aiosmtpd only counts STARTTLS as TLS; the socket here is TLS from the start.
            kwargs.update(ssl_context=context, auth_require_tls=False)
        self.controller = Controller(Handler(), **kwargs)
        self._port_hack()
        self.controller.start()

    def _port_hack(self) -> None:
        # aiosmtpd's Controller wants a fixed port; pick a free one.
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.controller.port = s.getsockname()[1]

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def close(self) -> None:
        self.controller.stop()


# -- config and events -----------------------------------------------------------------


def alert_config(tmp_path: Path, body: str, state_url: str = "sqlite:///state.db") -> Any:
    """A parsed driftd config holding ``body`` (alert sinks, environments), validated
    the way the loader validates ``[alerts.NAME]`` tables."""
    import textwrap

    from driftd import alerts
    from driftd.config import load as cfg

    path = tmp_path / "driftd.toml"
    text = f'[driftd]\nstate_url = "{state_url}"\n\n' + textwrap.dedent(body)
    path.write_text(text)
    config = cfg.parse(text, path)
    alerts.validate(config)
    return config


def drift_item(
    obj: str = "table:public.customers",
    path: list[Any] | None = None,
    before: Any = None,
    after: Any = ("SELECT",),
    severity: str = "critical",
    env: str = "prod",
    statement: str | None = "GRANT SELECT ON customers TO PUBLIC",
    actor: str = "alice@example.com",
) -> Any:
    from driftd.drift import DriftItem, drift_id

    path = ["grants", "PUBLIC"] if path is None else path
    after = list(after) if isinstance(after, tuple) else after
    change = (
        "added"
        if before is None and not path
        else "removed"
        if after is None and not path
        else "modified"
    )
    item = DriftItem(object=obj, change=change, path=path, before=before, after=after)  # type: ignore[arg-type]
    item.id = drift_id(env, obj, path, after)
    item.severity = severity
    item.rules = ["grant-to-public"] if severity == "critical" else ["test-rule"]
    if statement is not None:
        item.attribution = [
            {
                "source": "pgaudit",
                "actor": actor,
                "db_user": actor.split("@")[0],
                "at": "2026-11-22T09:58:12Z",
                "statement": statement,
                "session": "12345",
                "confidence": 0.95,
            }
        ]
    return item
