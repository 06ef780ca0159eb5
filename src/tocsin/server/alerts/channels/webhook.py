"""Webhook channel: POST the alert as versioned JSON to a URL, signed when it has a secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from tocsin.server.alerts.channels.http_client import HttpClient
from tocsin.server.alerts.channels.posting import post

# The version of the JSON document a webhook receives (docs/channels.md); it changes only
# when a field is removed or changes meaning. New fields may appear within a version.
PAYLOAD_VERSION = 1
SIGNATURE_HEADER = "X-Tocsin-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Tocsin-Signature`` value: ``t=<unix time>,v1=<hex HMAC-SHA256 of
    "<unix time>.<body>" keyed with the secret>``. Signing the time with the body lets a
    receiver refuse a replayed request whose ``t`` is old."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): the payload with its ``version``."""
    return json.dumps(
        {"version": PAYLOAD_VERSION, **payload}, separators=(",", ":"), ensure_ascii=False
    ).encode()


class WebhookChannel:
    """POSTs the alert JSON with an ``Idempotency-Key`` header (and a signature when the
    channel has a ``secret``); 2xx means delivered."""

    async def send(
        self,
        client: HttpClient,
        settings: dict[str, Any],
        payload: dict[str, Any],
        idempotency_key: str,
    ) -> int:
        """Deliver ``payload``; return the HTTP status (see ``posting.post`` for failures).

        Each attempt is signed afresh, so a retry carries its own time.
        """
        body = webhook_body(payload)
        headers = {"Idempotency-Key": idempotency_key, **settings.get("headers", {})}
        secret = settings.get("secret")
        if secret:
            headers[SIGNATURE_HEADER] = signature(secret, int(time.time()), body)
        return await post(client, settings["url"], body, headers, settings.get("timeout"))
