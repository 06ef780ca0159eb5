"""Slack and Discord channels against local stand-ins reached by overriding the URL: the
block and embed structure, and rate limits honouring ``Retry-After``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from tests.server.alerts.receivers import Receiver, receiver
from tocsin.errors import DeliveryError
from tocsin.server.alerts.channels.discord import DiscordChannel
from tocsin.server.alerts.channels.http_client import HttpClient
from tocsin.server.alerts.channels.slack import SlackChannel

PAYLOAD: dict[str, Any] = {
    "event": "down",
    "summary": "shop-api is DOWN: status 503",
    "monitor": {
        "name": "shop-api",
        "kind": "heartbeat",
        "tags": ["shop"],
        "last_ping_at": None,
        "url": "https://tocsin.example/monitors/shop-api",
    },
    "flip": {
        "old_state": "up",
        "new_state": "down",
        "cause": "status 503 & body <html>",
        "at": "2026-12-02T04:00:00+00:00",
    },
    "sent_by": "tocsin/test",
}
RECOVERED = {**PAYLOAD, "event": "up", "flip": {**PAYLOAD["flip"], "new_state": "up"}}


async def _send(channel: SlackChannel | DiscordChannel, url: str, payload: dict[str, Any]) -> int:
    async with HttpClient() as client:
        return await channel.send(client, {"url": url}, payload, "key-1")


async def no_content(_receiver: Receiver, _request: web.Request) -> web.StreamResponse:
    """Discord's answer to a webhook without ``?wait=true``."""
    return web.Response(status=204)


async def rate_limited(_receiver: Receiver, _request: web.Request) -> web.StreamResponse:
    """Slack's and Discord's answer when a webhook posts too often."""
    return web.Response(status=429, headers={"Retry-After": "30"}, text="rate_limited")


async def test_slack_gets_a_header_a_section_with_fields_and_a_context() -> None:
    async with receiver() as slack:
        assert await _send(SlackChannel(), slack.url, PAYLOAD) == 200
    body = json.loads(slack.requests[0].body)
    assert body["text"] == "shop-api is DOWN: status 503 & body <html>"
    header, section, context = body["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": ":red_circle: shop-api is DOWN"},
    }
    # mrkdwn text is escaped: a cause cannot turn into a link or a mention.
    assert section["text"] == {"type": "mrkdwn", "text": "status 503 &amp; body &lt;html&gt;"}
    assert [field["text"] for field in section["fields"]] == [
        "*Monitor*\nshop-api (heartbeat)",
        "*State*\nup → down",
        "*Last ping*\nnever",
        "*Tags*\nshop",
    ]
    assert context["type"] == "context"
    [element] = context["elements"]
    assert element["text"] == (
        "tocsin/test · <!date^1796184000^{date_short_pretty} {time_secs}|2026-12-02T04:00:00+00:00>"
        " · <https://tocsin.example/monitors/shop-api|Open in tocsin>"
    )


async def test_discord_gets_one_embed_coloured_by_state() -> None:
    async with receiver(no_content) as discord:
        assert await _send(DiscordChannel(), discord.url, PAYLOAD) == 204
        assert await _send(DiscordChannel(), discord.url, RECOVERED) == 204
    down, up = (json.loads(request.body) for request in discord.requests)
    assert down["allowed_mentions"] == {"parse": []}
    [embed] = down["embeds"]
    assert embed["title"] == "shop-api is DOWN"
    assert embed["description"] == "status 503 & body <html>"
    assert embed["color"] == 0xD93F0B
    assert embed["timestamp"] == "2026-12-02T04:00:00+00:00"
    assert embed["url"] == "https://tocsin.example/monitors/shop-api"
    assert embed["fields"][:2] == [
        {"name": "Monitor", "value": "shop-api (heartbeat)", "inline": True},
        {"name": "State", "value": "up → down", "inline": True},
    ]
    assert up["embeds"][0]["title"] == "shop-api is UP"
    assert up["embeds"][0]["color"] == 0x2EA44F


@pytest.mark.parametrize("channel", [SlackChannel(), DiscordChannel()], ids=["slack", "discord"])
async def test_a_rate_limit_is_transient_and_says_how_long_to_wait(
    channel: SlackChannel | DiscordChannel,
) -> None:
    async with receiver(rate_limited) as service:
        with pytest.raises(DeliveryError) as caught:
            await _send(channel, service.url, PAYLOAD)
    error = caught.value
    assert (error.permanent, error.http_status, error.retry_after) == (False, 429, 30.0)


async def test_slack_refusing_the_payload_is_permanent() -> None:
    async def invalid(_receiver: Receiver, _request: web.Request) -> web.StreamResponse:
        return web.Response(status=400, text="invalid_blocks")

    async with receiver(invalid) as slack:
        with pytest.raises(DeliveryError) as caught:
            await _send(SlackChannel(), slack.url, PAYLOAD)
    assert caught.value.permanent
    assert str(caught.value) == "HTTP 400: invalid_blocks"
