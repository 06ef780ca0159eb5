"""Slack channel: an incoming webhook gets the alert as Block Kit blocks and a fallback text."""

from __future__ import annotations

import json
from typing import Any

from tocsin.server.alerts.channels.http_client import HttpClient
from tocsin.server.alerts.channels.messages import Message, Tone, message_of, shorten
from tocsin.server.alerts.channels.posting import post

ICONS = {Tone.BAD: ":red_circle:", Tone.GOOD: ":large_green_circle:", Tone.NEUTRAL: ":bell:"}
# Slack's limits: header text, section text and field text, and fields per section.
HEADER_MAX, SECTION_MAX, FIELD_MAX, FIELDS_MAX = 150, 3000, 2000, 10


def _escape(text: str) -> str:
    """Slack mrkdwn treats ``&``, ``<`` and ``>`` as markup; user text must not."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(message: Message) -> dict[str, Any]:
    """The incoming-webhook JSON: a header (what broke), a section (why, and the evidence
    as fields), and a context line (when, and a link to the monitor)."""
    header = f"{ICONS[message.tone]} {message.title}"
    fields = [
        {"type": "mrkdwn", "text": shorten(f"*{label}*\n{_escape(value)}", FIELD_MAX)}
        for label, value in message.lines[:FIELDS_MAX]
    ]
    section: dict[str, Any] = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": shorten(_escape(message.summary), SECTION_MAX)},
    }
    if fields:
        section["fields"] = fields
    context = [message.sent_by]
    if message.at is not None:
        unix = int(message.at.timestamp())
        stamp = message.at.isoformat(timespec="seconds")
        context.append(f"<!date^{unix}^{{date_short_pretty}} {{time_secs}}|{stamp}>")
    if message.link:
        context.append(f"<{message.link}|Open in tocsin>")
    return {
        "text": shorten(f"{message.title}: {message.summary}", SECTION_MAX),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": shorten(header, HEADER_MAX)}},
            section,
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]},
        ],
    }


class SlackChannel:
    """POSTs Block Kit JSON to a Slack incoming-webhook URL; Slack answers 200 ``ok``."""

    async def send(
        self,
        client: HttpClient,
        settings: dict[str, Any],
        payload: dict[str, Any],
        idempotency_key: str,
    ) -> int:
        """Deliver ``payload``; a 429 is retried no sooner than Slack's ``Retry-After``."""
        body = json.dumps(slack_body(message_of(payload))).encode()
        return await post(client, settings["url"], body, {}, settings.get("timeout"))
