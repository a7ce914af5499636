"""Email over SMTP: plain-text and HTML bodies, STARTTLS (default), SSL or none.

SMTP says itself what is worth retrying: 4xx replies are transient, 5xx are
permanent (RFC 5321 §4.2.1). Connection failures and timeouts are retried.
``Message-ID`` is the idempotency key, so a resent message threads as the same.

The subject is one line of at most 200 characters (``…`` past it): RFC 5322
caps a header line at 998 characters and asks for 78, which the email
package's folding keeps to; what a mail client shows of a subject is far less.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from driftd.alerts import text
from driftd.alerts.base import Outcome, Sink, SinkSettings, one_of
from driftd.alerts.events import AlertEvent
from driftd.errors import ConfigError

DEFAULT_PORT = {"starttls": 587, "ssl": 465, "none": 25}
MAX_SUBJECT = 200
SEVERITY_COLOUR = {
    "critical": "#b00020",
    "high": "#d9480f",
    "medium": "#b08800",
    "low": "#1864ab",
    "info": "#666666",
}


class EmailSettings(SinkSettings):
    host: str
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    subject_prefix: str = "[driftd]"
    ca_file: str | None = None  # trust this CA (PEM) instead of the system's

    @model_validator(mode="after")
    def _auth(self) -> EmailSettings:
        one_of(self, "the password", "password_env", "password_file", required=False)
        has_password = self.password_env is not None or self.password_file is not None
        if has_password and self.username is None:
            raise ValueError("a password needs a username")
        if self.username is not None and not has_password:
            raise ValueError("username needs password_env or password_file")
        if has_password and self.security == "none":
            raise ValueError(
                'a password would cross the network in clear: set security = "starttls" or "ssl"'
            )
        return self


class EmailSink(Sink[EmailSettings]):
    type_name = "email"
    config_model = EmailSettings

    def render(self, event: AlertEvent, key: str, now: datetime) -> EmailMessage:
        s = self.settings
        msg = EmailMessage()
        subject = " ".join(f"{s.subject_prefix} {text.title(event)}".split())
        if len(subject) > MAX_SUBJECT:
            subject = subject[: MAX_SUBJECT - 1] + "…"
        msg["Subject"] = subject
        msg["From"] = s.sender
        msg["To"] = ", ".join(s.to)
        msg["Date"] = format_datetime(event.at)
        msg["Message-ID"] = f"<{key}@driftd>"
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
        msg["X-Driftd-Event"] = event.kind
        if event.environment:
            msg["X-Driftd-Environment"] = event.environment
        msg.set_content(text.plain(event), cte="quoted-printable")
        msg.add_alternative(html_body(event), subtype="html")
        return msg

    def context(self) -> ssl.SSLContext:
        cafile = (
            str(self.config.resolve_path(self.settings.ca_file)) if self.settings.ca_file else None
        )
        return ssl.create_default_context(cafile=cafile)

    def send(self, event: AlertEvent, key: str, now: datetime) -> Outcome:
        s = self.settings
        port = s.port or DEFAULT_PORT[s.security]
        try:
            password = self.secret("password")
            msg = self.render(event, key, now)
            tls = self.context() if s.security != "none" else None
        except ConfigError as exc:
            return Outcome("retry", self.scrub(exc.message))
        except (OSError, ssl.SSLError) as exc:
            return Outcome("permanent", self.scrub(f"ca_file: {exc}"))
        try:
            smtp: smtplib.SMTP
            if s.security == "ssl":
                smtp = smtplib.SMTP_SSL(s.host, port, timeout=s.timeout, context=tls)
            else:
                smtp = smtplib.SMTP(s.host, port, timeout=s.timeout)
            with smtp:
                smtp.ehlo()
                if s.security == "starttls":
                    smtp.starttls(context=tls)
                    smtp.ehlo()
                if s.username and password:
                    smtp.login(s.username, password)
                refused = smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            return _refused(exc.recipients, self)
        except smtplib.SMTPNotSupportedError as exc:
            return Outcome("permanent", self.scrub(f"the server does not support it: {exc}"))
        except smtplib.SMTPResponseException as exc:
            reason = _reply(exc.smtp_code, exc.smtp_error)
            # 4xx: try again later; 5xx: the server will never take it (RFC 5321).
            result: Any = "retry" if 400 <= exc.smtp_code < 500 else "permanent"
            return Outcome(result, self.scrub(reason))
        except (smtplib.SMTPException, OSError) as exc:
            return Outcome("retry", self.scrub(f"{type(exc).__name__}: {exc}"))
        if refused:
            # Some recipients took it: a retry would send them a second copy.
            listed = ", ".join(f"{r} ({code})" for r, (code, _msg) in refused.items())
            return Outcome("delivered", self.scrub(f"refused by some recipients: {listed}"))
        return Outcome("delivered", "250 accepted")


def _reply(code: int, message: bytes | str) -> str:
    msg = message.decode(errors="replace") if isinstance(message, bytes) else message
    return f"SMTP {code}: {' '.join(msg.split())}"


def _refused(recipients: dict[str, tuple[int, bytes]], sink: EmailSink) -> Outcome:
    listed = "; ".join(f"{r}: {_reply(c, m)}" for r, (c, m) in recipients.items())
    transient = all(400 <= code < 500 for code, _m in recipients.values())
    return Outcome("retry" if transient else "permanent", sink.scrub(f"all refused: {listed}"))


def html_body(event: AlertEvent) -> str:
    e = html.escape
    parts = [
        '<!DOCTYPE html><html><body style="font-family: sans-serif">',
        f"<h2>{e(text.title(event))}</h2>",
    ]
    if event.kind == "environment_error":
        parts.append(f"<p>The last {e(str(event.consecutive_errors))} checks failed:</p>")
        parts.append(f"<pre>{e(text.error_text(event.error))}</pre>")
    elif event.kind == "environment_recovered":
        parts.append("<p>The last check read the environment again.</p>")
    elif event.kind == "test":
        parts.append("<p>This is a test message sent by <code>driftd alerts test</code>.</p>")
    if event.drift:
        parts.append(
            '<table cellpadding="6" style="border-collapse: collapse">'
            "<tr><th align=left>severity</th><th align=left>change</th>"
            "<th align=left>before → after</th><th align=left>who</th>"
            "<th align=left>details</th></tr>"
        )
        for item in event.drift[:100]:
            entry = text.best(item)
            who = e(text.who(entry)) if entry else ""
            sql = text.statement(entry) if entry else None
            if sql:
                who += f"<br><code>{e(sql)}</code>"
            undo = ""
            if event.kind in ("opened", "renotify", "updated"):
                undo = f"<br>{e(text.undo(item, event.environment))}"
            colour = SEVERITY_COLOUR.get(item["severity"], "#000")
            parts.append(
                f'<tr style="border-top: 1px solid #ddd">'
                f'<td style="color: {colour}"><b>{e(item["severity"])}</b></td>'
                f"<td><code>{e(text.what(item))}</code></td>"
                f"<td>{e(text.values(item))}</td><td>{who}</td>"
                f"<td><code>{e(text.explain(item))}</code>{undo}</td></tr>"
            )
        parts.append("</table>")
        if len(event.drift) > 100:
            parts.append(f"<p>… and {len(event.drift) - 100} more: driftd status</p>")
    if event.kind in ("opened", "renotify"):
        env = e(event.environment)
        parts.append(
            f"<p>Review: <code>driftd check {env}</code> · accept: "
            f"<code>driftd baseline accept {env}</code></p>"
        )
    parts.append(f'<p style="color: #666">{e(text.footer(event))}</p></body></html>')
    return "\n".join(parts) + "\n"
