"""Discord channel: a webhook gets the alert as one embed, coloured by state."""

from __future__ import annotations

import json
from typing import Any

from tocsin.server.alerts.channels.http_client import HttpClient
from tocsin.server.alerts.channels.messages import Message, Tone, message_of, shorten
from tocsin.server.alerts.channels.posting import post

COLOURS = {Tone.BAD: 0xD93F0B, Tone.GOOD: 0x2EA44F, Tone.NEUTRAL: 0xDBAB09}
# Discord's limits: embed title, description, field name and value, fields per embed.
TITLE_MAX, DESCRIPTION_MAX, NAME_MAX, VALUE_MAX, FIELDS_MAX = 256, 4096, 256, 1024, 25


def discord_body(message: Message) -> dict[str, Any]:
    """The webhook JSON: one embed with title, description (why), fields (evidence),
    colour, timestamp and a link; no pings of anyone (``allowed_mentions`` empty)."""
    embed: dict[str, Any] = {
        "title": shorten(message.title, TITLE_MAX),
        "description": shorten(message.summary, DESCRIPTION_MAX),
        "color": COLOURS[message.tone],
        "fields": [
            {"name": shorten(label, NAME_MAX), "value": shorten(value, VALUE_MAX), "inline": True}
            for label, value in message.lines[:FIELDS_MAX]
        ],
        "footer": {"text": message.sent_by},
    }
    if message.at is not None:
        embed["timestamp"] = message.at.isoformat()
    if message.link:
        embed["url"] = message.link
    return {"embeds": [embed], "allowed_mentions": {"parse": []}}


class DiscordChannel:
    """POSTs an embed to a Discord webhook URL; Discord answers 204 (or 200)."""

    async def send(
        self,
        client: HttpClient,
        settings: dict[str, Any],
        payload: dict[str, Any],
        idempotency_key: str,
    ) -> int:
        """Deliver ``payload``; a 429 is retried no sooner than Discord's ``Retry-After``."""
        body = json.dumps(discord_body(message_of(payload))).encode()
        return await post(client, settings["url"], body, {}, settings.get("timeout"))
