"""Slack incoming webhook: one Block Kit message per event (a run's items grouped).

Slack's limits (Block Kit reference): ≤50 blocks, a ``header`` ≤150 characters
of plain text, a ``section`` text ≤3000 characters; ``text`` is always set,
since it is the notification and the fallback (Slack truncates it at 40,000
and asks for at most 4,000: driftd keeps it within 3,000). Database-sourced
values have ``& < >`` escaped (Slack's mrkdwn escaping), and are cut to fit
*before* they are escaped, counting the escaped length (:func:`fit`), so an
escape sequence such as ``&amp;`` is never cut in half. Slack answers ``200 ok``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import model_validator

from driftd.alerts import text
from driftd.alerts.base import HttpRequest, HttpSink, SinkSettings, one_of
from driftd.alerts.events import AlertEvent

if TYPE_CHECKING:
    import httpx

MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION = 3000
MAX_TEXT = 3000
MAX_ITEMS = 20  # past this, one line says how many more: a wall of blocks helps no one
# Within one item's section: what most fields may take, the statement gets the rest.
MAX_WHAT, MAX_VALUES, MAX_WHO, MAX_STATEMENT = 500, 800, 400, 1500
ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
HEADER_ICON = {
    "opened": ":rotating_light:",
    "renotify": ":alarm_clock:",
    "updated": ":mag:",
    "resolved": ":white_check_mark:",
    "accepted": ":inbox_tray:",
    "environment_error": ":x:",
    "environment_recovered": ":white_check_mark:",
    "test": ":wave:",
}


class SlackSettings(SinkSettings):
    webhook_url_env: str | None = None
    webhook_url_file: str | None = None

    @model_validator(mode="after")
    def _url(self) -> SlackSettings:
        one_of(self, "the webhook URL", "webhook_url_env", "webhook_url_file", required=True)
        return self


def escape(value: Any) -> str:
    """Slack's mrkdwn escaping: only ``&``, ``<`` and ``>`` are control characters."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(value: Any, limit: int) -> str:
    """``value`` escaped, within ``limit`` characters once escaped: cut before escaping
    (ending in ``…``), so an escape sequence is never cut in half."""
    raw = str(value)
    escaped = escape(raw)
    if len(escaped) <= limit:
        return escaped
    out, used = [], 0
    for char in raw:
        piece = ESCAPES.get(char, char)
        if used + len(piece) > limit - 1:
            break
        out.append(piece)
        used += len(piece)
    return "".join(out) + "…"


def code(value: str, limit: int = MAX_SECTION - 2) -> str:
    """Inline code; a backtick inside would end it early, so it becomes a look-alike."""
    return "`" + fit(value, limit).replace("`", "ˋ") + "`"


def clip(value: str, limit: int) -> str:
    """Plain text (a header: Slack does not parse it) within ``limit`` characters."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def cut(value: str, limit: int) -> str:
    """Cut text that is already mrkdwn (a last resort: :func:`fit` cuts values), never
    inside an escape sequence."""
    if len(value) <= limit:
        return value
    head = value[: limit - 1]
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]
    return head + "…"


class SlackSink(HttpSink[SlackSettings]):
    type_name = "slack"
    config_model = SlackSettings

    def render(self, event: AlertEvent, key: str, now: datetime) -> HttpRequest:
        url = self.secret("webhook_url", required=True)
        assert url is not None
        return HttpRequest(url=url, payload=message(event))

    def accepts(self, response: httpx.Response) -> str | None:
        body = response.text.strip()
        return None if body in ("ok", "") else f"Slack answered {body[:100]!r}"


def message(event: AlertEvent) -> dict[str, Any]:
    """The Block Kit message for one event."""
    heading = text.title(event)
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": clip(f"{HEADER_ICON[event.kind]} {heading}", MAX_HEADER),
                "emoji": True,
            },
        }
    ]
    if event.kind == "environment_error":
        error = text.error_text(event.error)
        blocks.append(
            section(
                f"*{escape(event.environment)}* could not be read by "
                f"{text.plural(event.consecutive_errors or 1, 'check')} in a row:\n"
                f"```{fit(error, MAX_SECTION - 200).replace('```', 'ˋˋˋ')}```"
            )
        )
    elif event.kind == "environment_recovered":
        blocks.append(section(f"The last check read *{escape(event.environment)}* again."))
    elif event.kind == "test":
        blocks.append(
            section(f"Test message from driftd alert sink *{escape(event.sink)}*: nothing to do.")
        )
    shown = event.drift[:MAX_ITEMS]
    for item in shown:
        blocks.append(section(item_text(event, item)))
    more = len(event.drift) - len(shown)
    if more:
        blocks.append(
            context(
                f"… and {text.plural(more, 'more item')}: "
                f"`driftd status` · `driftd history {escape(event.environment)}`"
            )
        )
    if event.kind in ("opened", "renotify"):
        blocks.append(
            context(
                f"Review: `driftd check {escape(event.environment)}` · accept: "
                f"`driftd baseline accept {escape(event.environment)}`"
            )
        )
    blocks.append(context(fit(text.footer(event), MAX_SECTION)))
    assert len(blocks) <= MAX_BLOCKS
    summary = heading
    if event.drift:
        summary += ": " + "; ".join(text.what(i) for i in event.drift[:5])
        if len(event.drift) > 5:
            summary += "; …"
    return {"text": fit(summary, MAX_TEXT), "blocks": blocks}


def item_text(event: AlertEvent, item: dict[str, Any]) -> str:
    icon = text.EMOJI.get(item["severity"], "")
    lines = [f"{icon} *{escape(item['severity'])}* {code(text.what(item), MAX_WHAT)}"]
    sql = None
    tail: list[str] = []  # after the statement: how to undo it, where to read more
    if event.kind in ("opened", "renotify", "updated"):
        lines.append(f"*before → after:* {fit(text.values(item), MAX_VALUES)}")
        entry = text.best(item)
        if entry:
            lines.append(f"*who:* {fit(text.who(entry), MAX_WHO)}")
            sql = text.statement(entry, limit=MAX_STATEMENT)
        undo = text.undo_sql(item)
        how = code(undo or text.revert_command(item, event.environment), MAX_VALUES)
        tail.append(f"*to undo:* {how}" if undo else f"*to undo:* run {how}")
    tail.append(code(text.explain(item), MAX_WHAT))
    if sql:
        # The statement takes what the section has left ("\n```" + "```\n" around it).
        room = MAX_SECTION - len("\n".join([*lines, *tail])) - 8
        if room > 20:
            lines.append("```" + fit(sql, room).replace("```", "ˋˋˋ") + "```")
    lines += tail
    return cut("\n".join(lines), MAX_SECTION)


def section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(mrkdwn, MAX_SECTION)}}


def context(mrkdwn: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(mrkdwn, MAX_SECTION)}]}
