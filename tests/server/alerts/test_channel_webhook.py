"""The webhook channel's versioned JSON and its signature, checked by a receiver that
verifies the way docs/channels.md tells users to (the snippet's logic, written again)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from aiohttp import web

from tests.server.alerts.receivers import Receiver, receiver
from tocsin.errors import DeliveryError
from tocsin.server.alerts.channels.http_client import HttpClient
from tocsin.server.alerts.channels.webhook import WebhookChannel

SECRET = "0123456789abcdef0123456789abcdef"
TOLERANCE_SECONDS = 300
PAYLOAD: dict[str, Any] = {
    "event": "down",
    "idempotency_key": "key-1",
    "summary": "backup is DOWN: no ping",
    "monitor": {"name": "backup ✓"},
}


def verify(secret: str, header: str, body: bytes, now: float) -> bool:
    """What a receiver does: recompute the HMAC of "t.body", compare in constant time,
    and refuse a timestamp older (or newer) than the tolerance."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    fresh = abs(now - timestamp) <= TOLERANCE_SECONDS
    return fresh and hmac.compare_digest(expected, parts["v1"])


async def checks_signatures(_receiver: Receiver, request: web.Request) -> web.StreamResponse:
    """Answer 200 to a correctly signed, fresh request; 401 otherwise."""
    body = await request.read()
    header = request.headers.get("X-Tocsin-Signature", "")
    if header and verify(SECRET, header, body, time.time()):
        return web.Response(text="ok")
    return web.Response(status=401, text="bad signature")


async def _send(settings: dict[str, Any]) -> int:
    async with HttpClient() as client:
        return await WebhookChannel().send(client, settings, PAYLOAD, "key-1")


async def test_a_signed_alert_is_accepted_and_a_replay_later_is_not() -> None:
    async with receiver(checks_signatures) as hook:
        settings = {"url": hook.url, "secret": SECRET, "headers": {"X-Team": "ops"}}
        assert await _send(settings) == 200
    [request] = hook.requests
    body = json.loads(request.body)
    assert body == {"version": 1, **PAYLOAD}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == "key-1"
    assert request.headers["X-Team"] == "ops"
    header = request.headers["X-Tocsin-Signature"]
    assert verify(SECRET, header, request.body, time.time())
    # The same request replayed ten minutes later, or with its body changed, is refused.
    assert not verify(SECRET, header, request.body, time.time() + 600)
    tampered = request.body.replace(b"DOWN", b"UP")
    assert not verify(SECRET, header, tampered, time.time())


async def test_a_wrong_secret_is_refused_by_the_receiver_for_good() -> None:
    async with receiver(checks_signatures) as hook:
        with pytest.raises(DeliveryError) as caught:
            await _send({"url": hook.url, "secret": "another-secret-of-32-characters!"})
    assert (caught.value.permanent, caught.value.http_status) == (True, 401)
    assert str(caught.value) == "HTTP 401: bad signature"


async def test_without_a_secret_nothing_is_signed() -> None:
    async with receiver() as hook:
        assert await _send({"url": hook.url}) == 200
    assert "X-Tocsin-Signature" not in hook.requests[0].headers


async def test_a_header_cannot_replace_the_signature() -> None:
    async with receiver(checks_signatures) as hook:
        forged = {"X-Tocsin-Signature": "t=1,v1=00"}
        assert await _send({"url": hook.url, "secret": SECRET, "headers": forged}) == 200


async def test_an_unusable_url_fails_for_good_without_repeating_its_token() -> None:
    # The spec's http(s) check lets this through; a parser's error text could be the whole URL.
    with pytest.raises(DeliveryError) as caught:
        await _send({"url": "http://[::1/services/secret-token"})
    assert caught.value.permanent
    assert "secret-token" not in str(caught.value)
