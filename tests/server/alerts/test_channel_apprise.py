"""The Apprise channel through Apprise's own ``json://`` service to a local receiver."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from tests.server.alerts.receivers import Receiver, receiver
from tocsin.errors import DeliveryError
from tocsin.server.alerts.channels.apprise_channel import AppriseChannel
from tocsin.server.alerts.channels.http_client import HttpClient

PAYLOAD: dict[str, Any] = {
    "event": "down",
    "monitor": {"name": "backup", "kind": "heartbeat"},
    "flip": {"old_state": "grace", "new_state": "down", "cause": "no ping for 1h"},
}


def _apprise_url(http_url: str) -> str:
    return http_url.replace("http://", "json://", 1)


async def _send(url: str) -> None:
    async with HttpClient() as client:
        await AppriseChannel().send(client, {"url": url, "timeout": 5}, PAYLOAD, "key-1")


async def test_an_apprise_url_delivers_title_and_body() -> None:
    async with receiver() as service:
        await _send(_apprise_url(service.url))
    [request] = service.requests
    body = json.loads(request.body)
    assert (body["title"], body["type"]) == ("backup is DOWN", "failure")
    assert body["message"].startswith("no ping for 1h\n\nMonitor: backup (heartbeat)")


async def test_a_failure_is_transient_and_carries_apprises_reason() -> None:
    async def broken(_receiver: Receiver, _request: web.Request) -> web.StreamResponse:
        return web.Response(status=500, text="down for maintenance")

    async with receiver(broken) as service:
        with pytest.raises(DeliveryError) as caught:
            await _send(_apprise_url(service.url))
    assert not caught.value.permanent
    assert str(caught.value).startswith("Apprise could not notify json://: ")
    assert "500" in str(caught.value)
